"""Turn a run's raw data into the figures the floors are stated in.

Everything here is computed from what the outside world saw: the sandbox's request log
and render times, the fake Slack's arrival times, and the bot's database as written.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from .scenarios import NAIVE_EVERY


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (`share` in 0..1); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def spread(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": percentile(values, 0.50),
        "p95": percentile(values, 0.95),
        "p99": percentile(values, 0.99),
        "max": max(values) if values else math.nan,
    }


def _bots(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in requests if r["query"].get("bench") != "naive"]


def is_status_call(entry: dict[str, Any], version: str) -> bool:
    if entry["method"] != "GET":
        return False
    if version == "v2":
        return entry["path"] == "/v1/video_status.get"
    return entry["path"] == "/v3/videos" or entry["path"].startswith("/v3/videos/")


def max_per_second(times: list[float]) -> int:
    """The most requests seen in any one-second window."""
    ordered, best, low = sorted(times), 0, 0
    for high, at in enumerate(ordered):
        while at - ordered[low] >= 1.0:
            low += 1
        best = max(best, high - low + 1)
    return best


def flight(data: dict[str, Any]) -> dict[str, Any]:
    cfg = data["flight"]
    version, scale = cfg["version"], cfg["scale"]
    bots = _bots(data["requests"])
    status = [r for r in bots if is_status_call(r, version)]
    bulk = [r for r in status if r["path"] == "/v3/videos/statuses"]
    listed = [r for r in status if r["path"] == "/v3/videos"]
    videos = {v["id"]: v for v in data["videos"]}
    finished = [v for v in videos.values() if v["status"] in ("completed", "failed")]
    renders = {v["id"]: v["finish_at"] - v["created_at"] for v in finished}
    naive_every = NAIVE_EVERY * scale
    naive_model = sum(math.ceil(r / naive_every - 1e-9) for r in renders.values())
    naive_live = data.get("naive_counts")
    naive = sum(naive_live.values()) if naive_live else naive_model
    jobs = {j["video_id"]: j for j in data["jobs"] if j["video_id"]}
    noticed = [
        (jobs[v]["finished_at"] - videos[v]["finish_at"]) / renders[v]
        for v in renders
        if v in jobs and jobs[v]["finished_at"]
    ]
    by_job = {j["id"]: j for j in data["jobs"]}
    results = [c for c in data["slack"] if c["kind"] == "result"]
    replies = Counter(c["job_id"] for c in results)
    seconds, shares = [], []
    for call in results:
        job = by_job.get(call["job_id"])
        video = videos.get(job["video_id"]) if job else None
        if video and video["id"] in renders:
            seconds.append(call["at"] - video["finish_at"])
            shares.append(seconds[-1] / renders[video["id"]])
    window = data["times"]["load_window"]
    in_window = [r for r in bots if window[0] <= r["at"] <= window[1]]
    uploads = [c for c in data["slack"] if c["method"] == "upload"]
    in_flight = [s[2] for s in data["samples"] if window[0] <= s[0] <= window[1]]
    return {
        "name": cfg["name"],
        "version": version,
        "webhooks": cfg["webhooks"],
        "videos": cfg["videos"],
        "scale": scale,
        "finished": len(finished),
        "status_requests": len(status),
        "bulk_requests": len(bulk),
        "list_requests": len(listed),
        "full_requests": len(status) - len(bulk) - len(listed),
        "per_video": len(status) / max(1, len(finished)),
        "naive": naive,
        "naive_model": naive_model,
        "naive_live": bool(naive_live),
        "naive_per_video": naive / max(1, len(finished)),
        "ratio": len(status) / max(1, naive),
        "noticed_share": spread(noticed),
        "notify_seconds": spread(seconds),
        "notify_share": spread(shares),
        "render_seconds": spread(list(renders.values())),
        "replies_exactly_one": len(replies) == cfg["videos"]
        and all(n == 1 for n in replies.values()),
        "reply_counts": dict(Counter(replies.values())),
        "submit_ms": spread([t.seconds * 1000 for t in data["submits"]]),
        "submit_errors": sum(1 for t in data["submits"] if t.status != 200),
        "submit_span": data["times"]["submitted"] - data["times"]["began"],
        "command_ms": spread([t.seconds * 1000 for t in data["load"] if t.kind == "command"]),
        "typeahead_ms": spread([t.seconds * 1000 for t in data["load"] if t.kind == "typeahead"]),
        "load_errors": sum(1 for t in data["load"] if t.status != 200),
        "typeahead_empty": sum(1 for t in data["load"] if t.kind == "typeahead" and not t.options),
        "load_heygen_requests": len(in_window),
        "load_in_flight": (min(in_flight), max(in_flight)) if in_flight else (0, 0),
        "uploads_on": cfg.get("uploads", False),
        "video_mb": cfg.get("video_mb", 0),
        "uploads": len(uploads),
        "uploads_in_load": sum(1 for c in uploads if window[0] <= c["at"] <= window[1]),
        "max_rps": max_per_second([r["at"] for r in bots]),
        "mean_rps": len(bots) / max(1e-9, data["times"]["done"] - data["times"]["began"]),
        "database": "postgresql" if cfg.get("postgres") else "sqlite",
        "replicas": cfg.get("replicas", 1),
        "rps_cap": data["settings"]["HEYGEN_MAX_RPS"],
        "peak_rss_mb": data["peak_rss_mb"],
        "database_bytes": data["database_bytes"],
        "startup_seconds": data["startup_seconds"],
    }


def headroom(data: dict[str, Any]) -> dict[str, Any]:
    began, ended = data["window"]
    bots = [r for r in data["requests"] if began - 5 <= r["at"] <= ended]
    status = [r for r in bots if is_status_call(r, "v3")]
    bulk = [r for r in status if r["path"] == "/v3/videos/statuses"]
    ids_per_bulk = [len(r["query"].get("video_ids", "").split(",")) for r in bulk]
    finished = [
        v
        for v in data["videos"]
        if v["finish_at"] is not None and began <= v["finish_at"] <= ended - 1
    ]
    recorded = {j["video_id"] for j in data["jobs"] if j["finished_at"]}
    samples = [s for s in data["samples"] if s[0] >= began]
    return {
        "name": data["run"]["name"],
        "videos": data["run"]["videos"],
        "window": ended - began,
        "seeded_seconds": data["seeded_seconds"],
        "max_overdue": max((s[1] for s in samples), default=math.nan),
        "poll_interval": data["defaults"]["POLL_INTERVAL_SECONDS"],
        "in_flight": (min(s[2] for s in samples), max(s[2] for s in samples)),
        "requests": len(bots),
        "status_requests": len(status),
        "bulk_requests": len(bulk),
        "ids_per_bulk": sum(ids_per_bulk) / max(1, len(bulk)),
        "max_ids_per_bulk": max(ids_per_bulk, default=0),
        "full_requests": sum(1 for r in status if r["path"].startswith("/v3/videos/")) - len(bulk),
        "finished_in_window": len(finished),
        "finished_recorded": sum(1 for v in finished if v["id"] in recorded),
        "max_rps": max_per_second([r["at"] for r in bots]),
        "mean_rps": len(bots) / max(1e-9, ended - began),
        "rps_cap": data["defaults"]["HEYGEN_MAX_RPS"],
        "peak_rss_mb": data["peak_rss_mb"],
        "database_bytes": data["database_bytes"],
        "startup_seconds": data["startup_seconds"],
    }


def independence(data: dict[str, Any]) -> dict[str, Any]:
    """Channel B's notify lag in each phase, and the bot's memory and /healthz during A's
    transfer (from the upload's first byte at the fake Slack to its last)."""
    from .lanes import CHANNEL_B  # the channels are the scenario's

    size = int(data["run"]["size_mb"] * 1024 * 1024)
    phases = []
    for phase in data["phases"]:
        calls, jobs, videos = phase["calls"], phase["jobs"], phase["videos"]
        lags, bot_lags = [], []
        for call in calls:
            job = jobs.get(call["job_id"] or "")
            if call["kind"] != "result" or call["status"] != 200 or not job:
                continue
            video = videos.get(job["video_id"] or "")
            if job["channel_id"] != CHANNEL_B or not video or video["finish_at"] is None:
                continue
            lags.append(call["at"] - video["finish_at"])
            bot_lags.append(call["at"] - (job["finished_at"] or video["finish_at"]))
        slow = next((c for c in calls if c["method"] == "upload" and c["bytes"] >= size), None)
        window = (slow["at"], slow["done"]) if slow else (phase["started"], phase["ended"])
        inside = [s for s in phase["samples"] if window[0] <= s[0] <= window[1]]
        phases.append(
            {
                "transfer": phase["transfer"],
                "transfer_seconds": window[1] - window[0] if slow else 0.0,
                "lag": spread(lags),
                "bot_lag": spread(bot_lags),
                "rss_before": phase["rss_before"],
                "rss_peak": max((s[1] for s in inside), default=math.nan),
                "healthz": dict(Counter(str(s[2]) for s in inside)),
                "healthz_all_ok": all(s[2] == 200 for s in inside),
            }
        )
    return {
        "name": data["run"]["name"],
        "size_mb": data["run"]["size_mb"],
        "phases": phases,
        "peak_rss_mb": data["peak_rss_mb"],
        "settings": data["settings"],
    }


def rate_limits(data: dict[str, Any]) -> dict[str, Any]:
    wait, queue, pace = data["wait"], data["coalesce"], data["pace"]
    n = queue["videos"]
    return {
        "name": data["run"]["name"],
        "wait": wait | {"cpu_share": wait["cpu_seconds"] / max(1e-9, wait["window"])},
        "coalesce": queue
        | {"per_video": queue["updates"] / max(1, n), "quadratic": n * (n - 1) // 2},
        "pace": pace | {"refused_share": pace["refused"] / max(1, pace["posts"])},
    }
