"""`python -m bench [--quick] [--out BENCHMARKS.md]`: run every benchmark, write the report.

The full run takes about a quarter of an hour on two cores; `--quick` runs every scenario
small (under two minutes) so CI can keep the benchmark working.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from . import metrics, report
from .lanes import Independence, RateLimits, run_independence, run_rate_limits
from .scenarios import Flight, Headroom, NoPostgres, run_flight, run_headroom, run_startups

ROOT = Path(__file__).resolve().parent.parent


def plan(quick: bool) -> tuple[int, list[Flight], Headroom, Independence, RateLimits]:
    """Startups, flights, the headroom run and issue 11's runs, full or quick."""
    if quick:
        fast = 1 / 120
        return (
            2,
            [
                Flight("v3-100-load", "v3", 100, fast, load=50, avatars=5000, voices=2000),
                Flight("v2-10", "v2", 10, fast, naive_live=True, avatars=40, voices=30),
                Flight("v3-10-webhooks", "v3", 10, fast, webhooks=True, avatars=40, voices=30),
                Flight("v3-30-uploads", "v3", 30, fast, load=30, uploads=True, video_mb=1),
                Flight("v3-100-pg-3", "v3", 100, fast, load=50, postgres=True, replicas=3),
            ],
            Headroom("headroom-1000", 1000, window=10),
            Independence("independence", size_mb=5, transfers=(3,), b_videos=2),
            RateLimits("ratelimits", 4, 2, 12, 2, 0.2, 6),
        )
    return (
        5,
        [
            Flight("v3-1000-load", "v3", 1000, 1 / 10, load=500),
            # Issue 13: the same flight on PostgreSQL, one replica and three (SQLite above).
            Flight("v3-1000-load-pg-1", "v3", 1000, 1 / 10, load=500, postgres=True),
            Flight("v3-1000-load-pg-3", "v3", 1000, 1 / 10, load=500, postgres=True, replicas=3),
            Flight("v2-1000", "v2", 1000, 1 / 10),
            Flight("v3-1000-webhooks", "v3", 1000, 1 / 10, webhooks=True),
            Flight("v2-10", "v2", 10, 1 / 60, naive_live=True),
            Flight("v3-10", "v3", 10, 1 / 60, naive_live=True),
            Flight("v3-10-webhooks", "v3", 10, 1 / 60, webhooks=True, naive_live=True),
            # Issue 11, item 2: uploads on (the default), 200 videos rendering and finishing
            # (a 1/30 clock: 8-30 s renders) while the ack load runs.
            Flight("v3-200-uploads", "v3", 200, 1 / 30, load=500, uploads=True, video_mb=2),
        ],
        Headroom("headroom-10000", 10_000, window=90),
        Independence("independence", size_mb=20, transfers=(8, 40), b_videos=5),
        RateLimits("ratelimits", 30, 5, 200, 2, 0.5, 20),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small and fast (CI)")
    parser.add_argument("--out", type=Path, help="report file (default BENCHMARKS.md)")
    parser.add_argument("--keep", type=Path, help="keep logs and databases in this folder")
    parser.add_argument(
        "--only", help="run only the runs whose name contains one of these (comma-separated)"
    )
    parser.add_argument(
        "--render", type=Path, help="only rewrite the report from this results .json file"
    )
    parser.add_argument(
        "--merge",
        type=Path,
        help="start from this results .json: runs not made now keep its figures",
    )
    args = parser.parse_args(argv)
    out = args.out or ROOT / ("BENCHMARKS.quick.md" if args.quick else "BENCHMARKS.md")
    if args.render:
        out.write_text(report.markdown(json.loads(args.render.read_text())))
        return 0
    startups, flights, headroom, independence, limits = plan(args.quick)

    def chosen(name: str) -> bool:
        return not args.only or any(part in name for part in args.only.split(","))

    began = time.time()
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        workdir = args.keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        results: dict[str, Any] = _start(args.merge, args.quick)
        load_before = os.getloadavg()
        if chosen("startup"):
            results["startups"] = run_startups(startups, workdir)
            _say(f"startup: {max(results['startups']):.2f}s worst of {startups}")
        for flight in (f for f in flights if chosen(f.name)):
            try:
                figures = metrics.flight(run_flight(flight, workdir))
            except NoPostgres as why:
                _say(f"{flight.name}: skipped, no PostgreSQL ({why})")
                continue
            _replace(results["flights"], figures)
            _say(report.flight_line(figures))
        if chosen(headroom.name):
            results["headroom"] = metrics.headroom(run_headroom(headroom, workdir))
            _say(report.headroom_line(results["headroom"]))
        if chosen(independence.name):
            results["independence"] = metrics.independence(run_independence(independence, workdir))
            _say(report.independence_line(results["independence"]))
        if chosen(limits.name):
            results["rate_limits"] = metrics.rate_limits(run_rate_limits(limits, workdir))
            _say(report.rate_limits_line(results["rate_limits"]))
    took, load_after = time.time() - began, os.getloadavg()
    if args.merge:  # the header keeps the earlier run's; this one is listed beside it
        results.setdefault("merged", []).append(
            {
                "only": args.only or "all",
                "date": datetime.date.today().isoformat(),
                "seconds": took,
                "load": [load_before, load_after],
            }
        )
    else:
        results |= {"seconds": took, "load_before": load_before, "load_after": load_after}
        results["date"] = datetime.date.today().isoformat()
    out.write_text(report.markdown(results))
    out.with_suffix(".json").write_text(json.dumps(results, indent=1, default=str))
    _say(f"wrote {out} in {took:.0f}s")
    return 0


def _start(merge: Path | None, quick: bool) -> dict[str, Any]:
    """Fresh results, or an earlier run's to update (its figures stay for runs not made)."""
    if merge is None:
        return {"quick": quick, "flights": [], "startups": []}
    earlier = json.loads(merge.read_text())
    if earlier["quick"] != quick:
        raise SystemExit(f"{merge} is from a {'quick' if earlier['quick'] else 'full'} run")
    return earlier


def _replace(flights: list[dict[str, Any]], figures: dict[str, Any]) -> None:
    """Put a flight's figures in place of an earlier run's of the same name, or add them."""
    names = [f["name"] for f in flights]
    if figures["name"] in names:
        flights[names.index(figures["name"])] = figures
    else:
        flights.append(figures)


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
