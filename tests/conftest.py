"""Fixtures: a fake Slack, the HeyGen sandbox and the real bot, all on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from bot.playground.web_api import SlackStandIn
from bot.sandbox import RunningSandbox, SandboxSettings, start_in_thread
from tests.harness import ThreadBot, bot_env
from tests.pg import PgServer, start_server

HEYGEN_KEY = "test-heygen-key"


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn() as fake:
        yield fake


@pytest.fixture
def sandbox(request: pytest.FixtureRequest) -> Iterator[RunningSandbox]:
    """The HeyGen sandbox; `@pytest.mark.sandbox(concurrency=200)` changes its settings.

    A test that needs more than the default limits says so, instead of relying on earlier
    renders finishing before its next request (true only on a slow machine).
    """
    marker = request.node.get_closest_marker("sandbox")
    settings = {"api_key": HEYGEN_KEY, "render": "static", "render_seconds": 0.3}
    running = start_in_thread(SandboxSettings(**(settings | (marker.kwargs if marker else {}))))
    yield running
    running.stop()


@pytest.fixture(params=["v3", "v2"])
def api_version(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def make_bot(
    slack: SlackStandIn, sandbox: RunningSandbox, tmp_path
) -> Iterator[Callable[..., ThreadBot]]:
    """Start a bot (stopped at the end of the test) with extra settings."""
    bots: list[ThreadBot] = []

    def make(healthy: bool = True, **settings: object) -> ThreadBot:
        env = bot_env(slack.url, sandbox.url, str(tmp_path / "bot.db"), **settings)
        bots.append(ThreadBot(env, healthy=healthy))
        return bots[-1]

    yield make
    for bot in bots:
        bot.stop()


@pytest.fixture
def bot(make_bot: Callable[..., ThreadBot], api_version: str) -> ThreadBot:
    return make_bot(HEYGEN_API_VERSION=api_version)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A PostgreSQL server for the whole session, or a skip saying why there is none."""
    server, why_not = start_server()
    if server is None:
        pytest.skip(f"PostgreSQL cases skipped: {why_not}")
    yield server
    if callable(server.stop):
        server.stop()


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """A fresh, empty PostgreSQL database for one test."""
    return pg_server.new_database()
