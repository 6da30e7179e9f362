"""`python -m bench [--quick] [--out BENCHMARKS.md]`: run every benchmark, write the report.

The full run takes about a quarter of an hour on two cores; `--quick` runs every scenario
small (under two minutes) so CI can keep the benchmark working.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from . import metrics, report
from .scenarios import Flight, Headroom, run_flight, run_headroom, run_startups

ROOT = Path(__file__).resolve().parent.parent


def plan(quick: bool) -> tuple[int, list[Flight], Headroom]:
    """Startups, flights and the headroom run, full or quick."""
    if quick:
        fast = 1 / 120
        return (
            2,
            [
                Flight("v3-100-load", "v3", 100, fast, load=50, avatars=5000, voices=2000),
                Flight("v2-10", "v2", 10, fast, naive_live=True, avatars=40, voices=30),
                Flight("v3-10-webhooks", "v3", 10, fast, webhooks=True, avatars=40, voices=30),
            ],
            Headroom("headroom-1000", 1000, window=10),
        )
    return (
        5,
        [
            Flight("v3-1000-load", "v3", 1000, 1 / 10, load=500),
            Flight("v2-1000", "v2", 1000, 1 / 10),
            Flight("v3-1000-webhooks", "v3", 1000, 1 / 10, webhooks=True),
            Flight("v2-10", "v2", 10, 1 / 60, naive_live=True),
            Flight("v3-10", "v3", 10, 1 / 60, naive_live=True),
            Flight("v3-10-webhooks", "v3", 10, 1 / 60, webhooks=True, naive_live=True),
        ],
        Headroom("headroom-10000", 10_000, window=90),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small and fast (CI)")
    parser.add_argument("--out", type=Path, help="report file (default BENCHMARKS.md)")
    parser.add_argument("--keep", type=Path, help="keep logs and databases in this folder")
    parser.add_argument("--only", help="run only the runs whose name contains this (to debug)")
    parser.add_argument(
        "--render", type=Path, help="only rewrite the report from this results .json file"
    )
    args = parser.parse_args(argv)
    out = args.out or ROOT / ("BENCHMARKS.quick.md" if args.quick else "BENCHMARKS.md")
    if args.render:
        out.write_text(report.markdown(json.loads(args.render.read_text())))
        return 0
    startups, flights, headroom = plan(args.quick)
    if args.only:
        flights = [f for f in flights if args.only in f.name]
    began = time.time()
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        workdir = args.keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        results: dict[str, Any] = {"quick": args.quick, "flights": [], "startups": []}
        results["load_before"] = os.getloadavg()
        results["startups"] = run_startups(startups, workdir)
        _say(f"startup: {max(results['startups']):.2f}s worst of {startups}")
        for flight in flights:
            figures = metrics.flight(run_flight(flight, workdir))
            results["flights"].append(figures)
            _say(report.flight_line(figures))
        results["headroom"] = metrics.headroom(run_headroom(headroom, workdir))
        _say(report.headroom_line(results["headroom"]))
    results["seconds"] = time.time() - began
    results["load_after"] = os.getloadavg()
    out.write_text(report.markdown(results))
    out.with_suffix(".json").write_text(json.dumps(results, indent=1, default=str))
    _say(f"wrote {out} in {results['seconds']:.0f}s")
    return 0


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
