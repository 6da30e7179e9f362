"""SIGTERM: stop taking work, let Slack calls under way finish within
SHUTDOWN_GRACE_SECONDS, exit 0 with one line; the next start sends what was left."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from bot.playground import inbound as sr
from bot.playground.socket_mode import APP_TOKEN, SocketModeStandIn
from bot.playground.web_api import SlackStandIn
from tests import flows
from tests.harness import HTTP, ProcessBot, bot_env, wait_until

STOPPED = re.compile(r"stopped: (\d+) Slack messages? left for the next start")


def _refuses_connections(url: str) -> bool:
    try:
        HTTP.get(url + "/healthz", timeout=1)
    except httpx.HTTPError:
        return True
    return False


def _socket_mode_bot(slack: SlackStandIn, sandbox, tmp_path: Path, **extra: str):
    socket = SocketModeStandIn(slack)
    env = bot_env(
        slack.url, sandbox.url, str(tmp_path / "bot.db"), SLACK_APP_TOKEN=APP_TOKEN, **extra
    )
    env.pop("SLACK_SIGNING_SECRET")
    bot = ProcessBot(env, tmp_path / "bot.log").launch()
    socket.wait_connected()
    return bot, socket


def _submit_over_socket(socket: SocketModeStandIn, sandbox) -> None:
    avatar, voice = flows.first_choices(sandbox, "v3")
    meta = json.dumps({"channel_id": flows.CHANNEL, "thread_ts": None})
    payload = sr.view_submission(
        "heygen_create", flows.form_values(avatar, voice, "Hi"), private_metadata=meta
    ).payload
    socket.send("interactive", payload)


@pytest.mark.parametrize("mode", ["http", "socket"])
def test_sigterm_lets_the_send_under_way_finish(
    slack: SlackStandIn, sandbox, tmp_path: Path, mode: str
) -> None:
    gate = slack.hold("chat.postMessage")
    if mode == "http":
        env = bot_env(slack.url, sandbox.url, str(tmp_path / "bot.db"))
        bot = ProcessBot(env, tmp_path / "bot.log").start()
        flows.submit_any(bot, sandbox, "v3")
    else:
        bot, socket = _socket_mode_bot(slack, sandbox, tmp_path)
        _submit_over_socket(socket, sandbox)
    try:
        wait_until(gate.arrived.is_set, message="the announcement")
        bot.proc.terminate()
        if mode == "http":  # no new work: the port is closed while the send is under way
            wait_until(lambda: _refuses_connections(bot.url), message="the port closed")
        else:
            assert socket.disconnected.wait(15), "the socket stayed open"
        assert bot.proc.poll() is None
    finally:
        gate.release()
    assert bot.wait_exit() == 0
    assert len(slack.messages()) == 1  # the announcement went out, and the bot knows it
    [parent] = flows.db_rows(bot, "select sent_at, slack_ts from outbox where kind = 'parent'")
    assert parent["sent_at"] and parent["slack_ts"] == slack.messages()[0]["ts"]
    lines = bot.log().strip().splitlines()
    assert "stopped: " in lines[-1] and "stopped: " not in lines[-2], bot.log()
    assert "Traceback" not in bot.log()


def test_sigterm_stops_after_the_grace_and_the_next_start_sends_the_rest(
    slack: SlackStandIn, sandbox, tmp_path: Path
) -> None:
    gate = slack.hold("chat.postMessage")
    env = bot_env(slack.url, sandbox.url, str(tmp_path / "bot.db"), SHUTDOWN_GRACE_SECONDS="1")
    bot = ProcessBot(env, tmp_path / "bot.log").start()
    try:
        flows.submit_any(bot, sandbox, "v3")
        wait_until(gate.arrived.is_set, message="the announcement")
        bot.proc.terminate()
        assert bot.wait_exit(timeout=25) == 0  # Slack's 30 s timeout was not waited out
    finally:
        gate.release()
    last = bot.log().strip().splitlines()[-1]
    assert STOPPED.search(last) and int(STOPPED.search(last).group(1)) >= 1, bot.log()

    again = ProcessBot(env, tmp_path / "bot.log").start()
    try:
        wait_until(lambda: flows.posts_by_job(slack, "result"), timeout=30, message="result")
        assert list(flows.posts_by_job(slack, "parent").values()) == [1]  # not twice
    finally:
        assert again.terminate() == 0
