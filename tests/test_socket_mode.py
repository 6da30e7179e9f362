"""Socket Mode: with SLACK_APP_TOKEN set, the same bot works over Slack's WebSocket."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

from bot.playground import inbound as sr
from bot.playground.socket_mode import APP_TOKEN, SocketModeStandIn
from tests import flows
from tests.harness import ROOT, bot_env, wait_until


def test_slash_command_and_submission_over_socket_mode(slack, sandbox, tmp_path) -> None:
    socket = SocketModeStandIn(slack)
    env = bot_env(slack.url, sandbox.url, str(tmp_path / "bot.db"), SLACK_APP_TOKEN=APP_TOKEN)
    env.pop("SLACK_SIGNING_SECRET")
    log = (tmp_path / "bot.log").open("wb")
    bot = subprocess.Popen(
        [sys.executable, "-m", "bot"],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        socket.wait_connected()
        command = dict(sr.slash_command("Hello over the socket").payload)
        envelope = socket.send("slash_commands", command)
        wait_until(lambda: envelope in socket.acks, message="the command ack")
        view = slack.wait_for("views.open")[0].params["view"]
        assert view["blocks"][2]["element"]["initial_value"] == "Hello over the socket"

        avatar, voice = flows.first_choices(sandbox, "v3")
        submission = sr.view_submission(
            "heygen_create",
            flows.form_values(avatar, voice, "Hi"),
            private_metadata=view["private_metadata"],
        ).payload
        socket.send("interactive", submission)
        results = wait_until(lambda: flows.posts_by_job(slack, "result"))
        assert list(results.values()) == [1]
        assert "ready" in json.dumps(slack.messages())
    finally:
        bot.send_signal(signal.SIGTERM)
        assert bot.wait(20) == 0
