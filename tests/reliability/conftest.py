"""Shared by the reliability tests: the figures each promise's proof reports.

Each test records what it tried (deliveries, hostile inputs, log lines scanned...) with
the `figures` fixture; the totals are printed at the end of the run and kept in pytest's
cache (`reliability/figures`), which is where RELIABILITY.md's numbers come from.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest

_FIGURES: dict[str, Counter] = {}


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Callable[..., None]:
    """`figures(deliveries=3, duplicates=2)` adds to this test file's counters.

    A name ending in `_max` (e.g. `reply_ms_max`) keeps the largest value instead.
    """
    promise = request.node.path.stem

    def add(**counts: int) -> None:
        kept = _FIGURES.setdefault(promise, Counter())
        for name, value in counts.items():
            kept[name] = max(kept[name], value) if name.endswith("_max") else kept[name] + value

    return add


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    if not _FIGURES:
        return
    terminalreporter.section("reliability figures")
    for promise, counts in sorted(_FIGURES.items()):
        shown = ", ".join(f"{name} {value}" for name, value in sorted(counts.items()))
        terminalreporter.write_line(f"{promise}: {shown}")
    if getattr(config, "cache", None) is not None:  # absent under -p no:cacheprovider
        config.cache.set("reliability/figures", {p: dict(c) for p, c in _FIGURES.items()})
