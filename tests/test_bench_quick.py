"""`python -m bench --quick` keeps working: it runs end to end and writes its report.

Only that it runs is checked here, never its figures: timings belong to the benchmark
on a quiet machine (BENCHMARKS.md), not to a test beside other tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(480)  # 80 s under load here; a slower machine must not fail it
def test_quick_benchmark_runs_and_writes_its_report(tmp_path: Path) -> None:
    out = tmp_path / "BENCHMARKS.md"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=450,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = out.read_text()
    sections = (
        "## Floors",
        "## Poll efficiency",
        "## Headroom",
        "## Independence",
        "## Rate limits",
    )
    for section in (*sections, "Machine:"):
        assert section in report
    figures = json.loads(out.with_suffix(".json").read_text())
    assert figures["quick"] is True and figures["flights"] and figures["startups"]
    assert figures["independence"]["phases"] and figures["rate_limits"]["coalesce"]["videos"]
