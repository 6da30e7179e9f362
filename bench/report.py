"""The report: `BENCHMARKS.md`, written from one run's figures, floors judged in code."""

from __future__ import annotations

import datetime
import math
import os
import platform
from pathlib import Path
from typing import Any

ANALYSIS = Path(__file__).with_name("analysis.md")


def _ms(spread: dict[str, float]) -> str:
    return f"{spread['p50']:.1f} / {spread['p99']:.1f} / {spread['max']:.1f}"


def _pct(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value * 100:.1f} %"


def flight_line(f: dict[str, Any]) -> str:
    return (
        f"{f['name']}: {f['finished']}/{f['videos']} done, {f['status_requests']} status calls "
        f"({f['per_video']:.2f}/video) vs naive {f['naive']} → 1/{1 / max(f['ratio'], 1e-9):.0f}; "
        f"noticed max {_pct(f['noticed_share']['max'])}; notify p95 "
        f"{f['notify_seconds']['p95']:.2f}s; cmd p99 {f['command_ms']['p99']:.1f}ms; "
        f"typeahead p99 {f['typeahead_ms']['p99']:.1f}ms; rss {f['peak_rss_mb']:.0f}MB"
    )


def headroom_line(h: dict[str, Any]) -> str:
    return (
        f"{h['name']}: max overdue {h['max_overdue']:.2f}s, max {h['max_rps']} req/s "
        f"(cap {h['rps_cap']:.0f}), {h['bulk_requests']} bulk calls of {h['ids_per_bulk']:.0f} "
        f"ids, rss {h['peak_rss_mb']:.0f}MB"
    )


def independence_line(d: dict[str, Any]) -> str:
    parts = [
        f"transfer {p['transfer_seconds']:.1f}s: B lag max {p['lag']['max']:.2f}s, "
        f"rss +{p['rss_peak'] - p['rss_before']:.1f}MB, healthz {p['healthz']}"
        for p in d["phases"][1:]
    ]
    return f"{d['name']}: alone B lag max {d['phases'][0]['lag']['max']:.2f}s; " + "; ".join(parts)


def rate_limits_line(d: dict[str, Any]) -> str:
    w, q, p = d["wait"], d["coalesce"], d["pace"]
    return (
        f"{d['name']}: wait cpu {_pct(w['cpu_share'])} of a core; {q['updates']} chat.update "
        f"for {q['videos']} queued ({q['per_video']:.1f}/video); pace {p['refused']} 429s of "
        f"{p['posts']} posts, {p['delivered']}/{p['videos']} results"
    )


def lane_floors(r: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    """Issue 11's floors (items 1, 2 and 5), from the runs that measured them."""
    rows: list[tuple[str, str, str, bool]] = []
    ind = r.get("independence")
    if ind:
        alone = ind["phases"][0]["lag"]["max"]
        for p in ind["phases"][1:]:
            slow = p["lag"]["max"]
            took = f"{ind['size_mb']:g} MB in {p['transfer_seconds']:.1f} s"
            rows.append(
                (
                    "11.1 independence",
                    f"channel B's result ≤ 1 s later beside a slow transfer ({took})",
                    f"lag max {slow:.2f} s vs {alone:.2f} s alone (+{slow - alone:.2f} s)",
                    slow - alone <= 1.0,
                )
            )
            rise = p["rss_peak"] - p["rss_before"]
            rows.append(
                (
                    "11.1 independence",
                    f"bot RSS rise during the upload ≤ 10 MB ({took})",
                    f"+{rise:.1f} MB (peak {p['rss_peak']:.0f} MB)",
                    rise <= 10,
                )
            )
            codes = ", ".join(f"{k}: {v}" for k, v in sorted(p["healthz"].items()))
            rows.append(
                (
                    "11.1 independence",
                    f"`/healthz` 200 throughout the transfer ({took})",
                    codes or "no samples",
                    p["healthz_all_ok"] and bool(codes),
                )
            )
    for f in (f for f in r["flights"] if f.get("uploads_on") and f["command_ms"]["n"]):
        p99c, p99t = f["command_ms"]["p99"], f["typeahead_ms"]["p99"]
        label = f"{f['name']}, uploads on, {f['videos']} videos"
        rows.append(
            ("11.2 defaults", f"`/heygen` p99 ≤ 50 ms ({label})", f"{p99c:.1f} ms", p99c <= 50)
        )
        rows.append(
            ("11.2 defaults", f"typeahead p99 ≤ 100 ms ({label})", f"{p99t:.1f} ms", p99t <= 100)
        )
    lim = r.get("rate_limits")
    if lim:
        w, q, p = lim["wait"], lim["coalesce"], lim["pace"]
        rows.append(
            (
                "11.5 rate limits",
                f"CPU while waiting out Retry-After {w['retry_after']:g} s < 5 % of a core",
                f"{_pct(w['cpu_share'])} ({w['cpu_seconds']:.2f} s CPU in {w['window']:.1f} s; "
                f"{w['calls_in_window']} Slack calls meanwhile)",
                w["cpu_share"] < 0.05,
            )
        )
        rows.append(
            (
                "11.5 rate limits",
                "waited-out messages all delivered",
                f"{w['delivered']}/{w['videos']} results",
                w["delivered"] == w["videos"],
            )
        )
        rows.append(
            (
                "11.5 rate limits",
                f"`chat.update` O(N): ≤ 10 per video ({q['videos']} queued, {q['slots']} slots)",
                f"{q['updates']} ({q['per_video']:.1f} per video, most {q['max_per_video']}; "
                f"N²/2 = {q['quadratic']:,})",
                q["per_video"] <= 10,
            )
        )
        rows.append(
            (
                "11.5 rate limits",
                f"`chat.postMessage` paced: ≤ 5 % answered 429 ({p['videos']} videos, 1 channel)",
                f"{p['refused']} of {p['posts']} ({_pct(p['refused_share'])}); "
                f"{p['delivered']}/{p['videos']} results",
                p["refused_share"] <= 0.05 and p["delivered"] == p["videos"],
            )
        )
    return rows


def floors(r: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    """(scenario, floor, measured, met) for every floor of issue 4."""
    rows: list[tuple[str, str, str, bool]] = []
    flights = r["flights"]
    for f in (f for f in flights if f["command_ms"]["n"]):
        p99c, p99t = f["command_ms"]["p99"], f["typeahead_ms"]["p99"]
        rows.append(("1 ack", f"`/heygen` p99 ≤ 50 ms ({f['name']})", f"{p99c:.1f} ms", p99c <= 50))
        rows.append(
            ("1 ack", f"typeahead p99 ≤ 100 ms ({f['name']})", f"{p99t:.1f} ms", p99t <= 100)
        )
    for f in flights:
        label = f"{f['name']}"
        if f["webhooks"]:
            floor, ok = "1 request per video", f["per_video"] <= 1.0
            shown = f"{f['per_video']:.3f} per video"
        else:
            limit = 10 if f["version"] == "v2" else 50
            floor, ok = f"≤ 1/{limit} of naive", f["ratio"] <= 1 / limit
            shown = f"1/{1 / max(f['ratio'], 1e-9):.1f} ({f['status_requests']} vs {f['naive']})"
        rows.append(("2 polls", f"{floor} ({label})", shown, ok))
        late = f["noticed_share"]["max"]
        rows.append(("2 polls", f"noticed within 20 % ({label})", f"max {_pct(late)}", late <= 0.2))
        if f["webhooks"]:
            p95 = f["notify_seconds"]["p95"]
            rows.append(("3 notify", f"p95 ≤ 1 s ({label})", f"{p95:.2f} s", p95 <= 1.0))
        else:
            share = f["notify_share"]["p95"]
            rows.append(("3 notify", f"p95 ≤ 20 % of render ({label})", _pct(share), share <= 0.2))
    for f in (
        f for f in flights if f["videos"] >= 100 and not f["webhooks"] and f["command_ms"]["n"]
    ):
        burst_ok = f["submit_span"] <= 60 and f["submit_errors"] == 0
        rows.append(
            (
                "4 burst",
                f"{f['videos']} submissions within 60 s ({f['name']})",
                f"{f['submit_span']:.1f} s, {f['submit_errors']} errors",
                burst_ok,
            )
        )
        rows.append(
            (
                "4 burst",
                "every job exactly one final reply",
                str(f["reply_counts"]),
                f["replies_exactly_one"],
            )
        )
        rows.append(
            ("4 burst", "peak RSS ≤ 150 MB", f"{f['peak_rss_mb']:.0f} MB", f["peak_rss_mb"] <= 150)
        )
        rows.append(("4 burst", "SQLite size (reported)", _size(f["database_bytes"]), True))
    h = r.get("headroom")
    if not h or not r["startups"]:
        return rows  # a partial run (`--only`) without them
    rows.append(
        (
            "5 headroom",
            f"checked by due + one poll interval ({h['poll_interval']:.0f} s), {h['videos']:,}",
            f"max overdue {h['max_overdue']:.2f} s",
            h["max_overdue"] <= h["poll_interval"],
        )
    )
    rows.append(
        (
            "5 headroom",
            f"HeyGen rate under HEYGEN_MAX_RPS ({h['rps_cap']:.0f})",
            f"max {h['max_rps']} in any 1 s, mean {h['mean_rps']:.1f}",
            h["max_rps"] <= h["rps_cap"],
        )
    )
    rows.append(
        (
            "5 headroom",
            "≤ 100 ids per bulk call",
            f"max {h['max_ids_per_bulk']}, mean {h['ids_per_bulk']:.0f}",
            h["max_ids_per_bulk"] <= 100,
        )
    )
    rows.append(
        (
            "5 headroom",
            "peak RSS ≤ 250 MB",
            f"{h['peak_rss_mb']:.0f} MB",
            h["peak_rss_mb"] <= 250,
        )
    )
    worst = max(r["startups"])
    others = [f["startup_seconds"] for f in flights] + [h["startup_seconds"]]
    rows.append(
        (
            "6 start-up",
            f"`python -m bot` → /healthz 200 ≤ 1.5 s ({len(r['startups'])} cold starts)",
            f"worst {worst:.2f} s (the starts inside the runs, beside other work: "
            f"{min(others):.2f}–{max(others):.2f} s)",
            worst <= 1.5,
        )
    )
    return rows


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MiB"


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem = next(
            x for x in Path("/proc/meminfo").read_text().splitlines() if x.startswith("MemTotal")
        )
        gib = int(mem.split()[1]) / 1024 / 1024
    except (OSError, StopIteration):
        gib = math.nan
    return (
        f"{os.cpu_count()} cores ({cpu}), {gib:.0f} GiB RAM, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}"
    )


def _load(r: dict[str, Any]) -> str:
    """The machine's load around the run: other jobs on it show up in every latency."""
    if "load_before" not in r:
        return "Load average around the run: not recorded."
    before, after = r["load_before"], r["load_after"]
    return (
        f"Load average (1, 5, 15 min) before the run: {', '.join(f'{x:.1f}' for x in before)}; "
        f"after: {', '.join(f'{x:.1f}' for x in after)} (this run's own processes included)."
    )


def _merged(r: dict[str, Any]) -> list[str]:
    """Runs made later and merged into these figures (`--merge`), each with its load."""
    return [
        f"Re-run {m.get('date', '')} and merged (`--only {m['only']}`): {m['seconds']:.0f} s; "
        f"load average before {', '.join(f'{x:.1f}' for x in m['load'][0])}, after "
        f"{', '.join(f'{x:.1f}' for x in m['load'][1])}.\n"
        for m in r.get("merged", [])
    ]


def markdown(r: dict[str, Any]) -> str:
    today = r.get("date") or datetime.date.today().isoformat()
    kind = "quick (`--quick`, CI smoke run: figures not meaningful)" if r["quick"] else "full"
    lines = [
        "# Benchmarks",
        "",
        f"Run: {today}, {kind}, {r['seconds']:.0f} s. Machine: {machine()}.",
        "",
        _load(r),
        "",
        *_merged(r),
        "Reproduce: `.venv/bin/python -m bench` (full, about 15 min) or "
        "`.venv/bin/python -m bench --quick` (under 2 min; writes BENCHMARKS.quick.md).",
        "Configuration: every flight and the headroom run set "
        "`HEYGEN_RENDER_ESTIMATE_SECONDS=300` (scaled like the clock). That setting is opt-in: "
        "its default, `0`, keeps the documented schedule (first status check after "
        "`POLL_INTERVAL_SECONDS`), which makes more status calls than the figures below. "
        "Flights marked *uploads off* set `UPLOAD_MAX_MB=0` (they measure polling and the "
        "thread reply); those marked *defaults: uploads on* and the independence and "
        "rate-limit runs leave uploads at their default (on, `UPLOAD_MAX_MB=50`, "
        "`UPLOAD_CONCURRENCY=2`) and list every setting they change.",
        "Raw figures: the `.json` file beside this one.",
        "",
        "## Floors",
        "",
        "| scenario | floor | measured | met |",
        "| --- | --- | --- | --- |",
    ]
    for scenario, floor, measured, ok in floors(r) + lane_floors(r):
        lines.append(f"| {scenario} | {floor} | {measured} | {'yes' if ok else '**NO**'} |")
    lines += [
        "",
        "## Poll efficiency: the bot beside a naive poller",
        "",
        "Same videos, same run. *naive* asks about every video every 5 s (scaled) until it is "
        "done: measured live where marked, else counted from each video's render time.",
        "",
        "| run | videos | scale | bot status calls | of which bulk / list | per video "
        "| naive calls | naive per video | bot ÷ naive | noticed late p95 / max "
        "| notify p50 / p95 / max |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for f in r["flights"]:
        live = f" live ({f['naive_model']} by formula)" if f["naive_live"] else ""
        lines.append(
            f"| {f['name']} | {f['finished']}/{f['videos']} | 1/{1 / f['scale']:.0f} | "
            f"{f['status_requests']} | {f['bulk_requests']} / {f.get('list_requests', 0)} | "
            f"{f['per_video']:.2f} | "
            f"{f['naive']}{live} | {f['naive_per_video']:.1f} | "
            f"1/{1 / max(f['ratio'], 1e-9):.1f} | {_pct(f['noticed_share']['p95'])} / "
            f"{_pct(f['noticed_share']['max'])} | {f['notify_seconds']['p50']:.2f} / "
            f"{f['notify_seconds']['p95']:.2f} / {f['notify_seconds']['max']:.2f} s "
            f"({_pct(f['notify_share']['p95'])} of render at p95) |"
        )
    lines += [
        "",
        "## Latency of Slack requests (ms, p50 / p99 / max, until the whole HTTP answer)",
        "",
        "| run | view submissions | `/heygen` | typeahead | errors | in flight during load "
        "| HeyGen calls during load |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for f in r["flights"]:
        if not f["command_ms"]["n"]:
            continue
        lines.append(
            f"| {_flight_label(f)} | {_ms(f['submit_ms'])} (n={f['submit_ms']['n']}) | "
            f"{_ms(f['command_ms'])} (n={f['command_ms']['n']}) | {_ms(f['typeahead_ms'])} "
            f"(n={f['typeahead_ms']['n']}, {f['typeahead_empty']} empty) | "
            f"{f['load_errors'] + f['submit_errors']} | "
            f"{f['load_in_flight'][0]}–{f['load_in_flight'][1]} | {f['load_heygen_requests']} |"
        )
    lines += replica_section(r["flights"])
    lines += [
        "",
        "## Resources per run",
        "",
        "| run | peak RSS (all replicas) | database (SQLite file + WAL, or PostgreSQL) "
        "| start-up | busiest second of HeyGen calls (cap) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for f in r["flights"]:
        lines.append(
            f"| {f['name']} | {f['peak_rss_mb']:.0f} MB | {_size(f['database_bytes'])} | "
            f"{f['startup_seconds']:.2f} s | {f['max_rps']} ({f['rps_cap']:.0f}) |"
        )
    h = r.get("headroom")
    if h:
        lines.append(
            f"| {h['name']} | {h['peak_rss_mb']:.0f} MB | {_size(h['database_bytes'])} | "
            f"{h['startup_seconds']:.2f} s | {h['max_rps']} ({h['rps_cap']:.0f}) |"
        )
        lines += [
            "",
            f"## Headroom: {h['videos']:,} videos in flight, real time, default settings",
            "",
            f"- watched {h['window']:.0f} s; in flight {h['in_flight'][0]:,}–{h['in_flight'][1]:,}",
            f"- most overdue check seen: {h['max_overdue']:.2f} s (allowed: one poll interval, "
            f"{h['poll_interval']:.0f} s)",
            f"- HeyGen requests: {h['requests']} ({h['mean_rps']:.1f}/s mean, busiest second "
            f"{h['max_rps']}, cap {h['rps_cap']:.0f}); {h['bulk_requests']} bulk status calls "
            f"(mean {h['ids_per_bulk']:.0f} ids, max {h['max_ids_per_bulk']}), "
            f"{h['full_requests']} full fetches",
            f"- videos that finished in the window: {h['finished_in_window']} "
            f"({h['finished_recorded']} already recorded by the end of it)",
            "",
            "Start-up (fresh database, `python -m bot` to /healthz 200): "
            + ", ".join(f"{s:.2f} s" for s in r["startups"]),
            "",
        ]
    lines += lane_sections(r)
    if ANALYSIS.exists():
        lines += [ANALYSIS.read_text().rstrip(), ""]
    return "\n".join(lines)


def replica_section(flights: list[dict[str, Any]]) -> list[str]:
    """Issue 13: one replica against three on PostgreSQL, the SQLite flight beside them."""
    on_pg = [f for f in flights if f.get("database") == "postgresql"]
    if not on_pg:
        return []
    bases = {f["name"].split("-pg-")[0] for f in on_pg}
    rows = [f for f in flights if f["name"] in bases] + on_pg
    lines = [
        "",
        "## Replicas: SQLite, PostgreSQL with one replica, PostgreSQL with three",
        "",
        "Same flight; Slack requests go round robin to the replicas (a load balancer). Ack: "
        "until the whole HTTP answer. Notify lag: from HeyGen finishing to the thread reply. "
        "HeyGen requests: mean over the flight, and the busiest second against "
        "`HEYGEN_MAX_RPS`, which all replicas share.",
        "",
        "| run | database | replicas | ack p99: submit / `/heygen` / typeahead "
        "| notify lag p95 | HeyGen req/s mean | busiest second (cap) | one reply each |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for f in rows:
        acks = " / ".join(
            f"{f[k]['p99']:.0f} ms" if f[k]["n"] else "–"
            for k in ("submit_ms", "command_ms", "typeahead_ms")
        )
        lines.append(
            f"| {f['name']} | {f.get('database', 'sqlite')} | {f.get('replicas', 1)} | {acks} "
            f"| {f['notify_seconds']['p95']:.2f} s | {f.get('mean_rps', 0):.1f} "
            f"| {f['max_rps']} ({f['rps_cap']:.0f}) "
            f"| {'yes' if f['replies_exactly_one'] else '**NO**'} |"
        )
    return lines


def _flight_label(f: dict[str, Any]) -> str:
    """The run's name and whether uploads were on (the default) or off (UPLOAD_MAX_MB=0)."""
    if f.get("uploads_on"):
        padded = f", {f['video_mb']:g} MB mp4s" if f.get("video_mb") else ""
        return (
            f"{f['name']} (defaults: uploads on{padded}; {f['uploads']} uploads, "
            f"{f['uploads_in_load']} during the load)"
        )
    return f"{f['name']} (uploads off: `UPLOAD_MAX_MB=0`)"


def lane_sections(r: dict[str, Any]) -> list[str]:
    """Issue 11's sections: independence and rate limits, each with its configuration."""
    lines: list[str] = []
    ind = r.get("independence")
    if ind:
        from .lanes import describe

        lines += [
            "## Independence: a slow transfer in one channel, results in another",
            "",
            f"Channel A asks for a video padded to {ind['size_mb']:g} MB whose download is "
            "throttled (`[sandbox:size:MB]`, `[sandbox:throttle:BYTES]`) so its upload to "
            "Slack takes the time shown; while it streams, short videos in channel B finish "
            "and are announced by webhook. *Lag* = B's thread reply at the fake Slack − the "
            "sandbox's finish; *after recorded* = the reply − the bot's record of the finish "
            "(the notifier's own delay). Memory and `/healthz` are sampled every 0.2 s during "
            "the transfer (first to last byte at the fake Slack).",
            "",
            f"Configuration: defaults (uploads on, `UPLOAD_CONCURRENCY` 2); changed: "
            f"{describe(ind['settings'])}.",
            "",
            "| phase | transfer | B videos | lag p50 / max | after recorded p50 / max "
            "| bot RSS before → peak | `/healthz` answers |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for p in ind["phases"]:
            alone = not p["transfer"]
            codes = ", ".join(f"{k}×{v}" for k, v in sorted(p["healthz"].items()))
            took = "none" if alone else f"{p['transfer_seconds']:.1f} s"
            rss = "–" if alone else f"{p['rss_before']:.0f} → {p['rss_peak']:.0f} MB"
            lines.append(
                f"| {'alone' if alone else 'beside the slow upload'} | {took} | "
                f"{p['lag']['n']} | {p['lag']['p50']:.2f} / {p['lag']['max']:.2f} s | "
                f"{p['bot_lag']['p50']:.2f} / {p['bot_lag']['max']:.2f} s | {rss} | "
                f"{'–' if alone else codes} |"
            )
        lines.append("")
    lim = r.get("rate_limits")
    if lim:
        from .lanes import describe

        w, q, p = lim["wait"], lim["coalesce"], lim["pace"]
        lines += [
            "## Rate limits",
            "",
            f"- **Waiting costs no CPU.** The fake Slack answers every `chat.postMessage` and "
            f"`chat.update` with 429, `Retry-After: {w['retry_after']:g}`; {w['videos']} videos "
            f"are submitted and finish, so their results are due behind the refused "
            f"announcements. Over {w['window']:.1f} s of the wait the bot used "
            f"{w['cpu_seconds']:.2f} s of CPU ({_pct(w['cpu_share'])} of a core) and made "
            f"{w['calls_in_window']} Slack calls; {w['refused']} calls were refused in all; "
            f"once Slack accepted again, {w['delivered']} of {w['videos']} results arrived. "
            f"Configuration: defaults; changed: {describe(w['settings'])}.",
            f"- **Queue updates are coalesced.** {q['videos']} videos submitted at once, HeyGen "
            f"rendering {q['slots']} at a time (`SANDBOX_CONCURRENCY={q['slots']}`), so the "
            f"rest wait in the bot's queue with their position shown: {q['updates']:,} "
            f"`chat.update` calls until every result was posted ({q['per_video']:.1f} per "
            f"video, at most {q['max_per_video']} for one; {q['updates_429']} refused), against "
            f"N²/2 = {q['quadratic']:,} for one update per queued video per move; "
            f"{q['delivered']}/{q['videos']} results in {q['seconds']:.0f} s. Configuration: "
            f"the default policy on a clock 10× faster (like the flights); changed: "
            f"{describe(q['settings'])}.",
            f"- **Per-channel pace.** The fake enforces Slack's `chat.postMessage` limit per "
            f"channel as a token bucket ({p['rate']:g} a second, bursts of {p['burst']:g}); "
            f"{p['videos']} videos in one channel (an announcement each, then a result): "
            f"{p['posts']} `chat.postMessage` calls, {p['refused']} answered 429 "
            f"({_pct(p['refused_share'])}); {p['announced']} announcements and "
            f"{p['delivered']} of {p['videos']} results delivered, in {p['seconds']:.0f} s. "
            "Slack documents about one message a second per channel with generous bursts and "
            "no burst size; the bot allows bursts of 10 (`bot/notify/pacing.py`), more than "
            "this fake, so the first burst in a channel meets 429s, which it waits out. "
            f"Configuration: defaults; changed: {describe(p['settings'])}.",
            "",
        ]
    return lines
