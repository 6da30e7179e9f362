"""Each reliability test reports its figures (faults injected, kills, replies per job);
they are printed at the end of the run and copied into RELIABILITY.md."""

from __future__ import annotations

from collections.abc import Callable

import pytest

FIGURES: dict[str, dict[str, object]] = {}


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Callable[..., None]:
    def record(**values: object) -> None:
        FIGURES.setdefault(request.node.name, {}).update(values)

    return record


def pytest_terminal_summary(terminalreporter) -> None:
    if FIGURES:
        terminalreporter.section("reliability figures")
        for test, values in FIGURES.items():
            shown = ", ".join(f"{k}={v}" for k, v in values.items())
            terminalreporter.write_line(f"{test}: {shown}")
