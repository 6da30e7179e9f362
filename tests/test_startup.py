"""Start-up as an operator meets it: where settings come from, what the log says first,
and what a wrong token or an unreachable Slack does. Every test runs `python -m bot`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.playground import inbound as sr
from bot.playground.socket_mode import APP_TOKEN, SocketModeStandIn
from bot.playground.web_api import SlackStandIn
from tests.harness import HTTP, ROOT, ProcessBot, bot_env, free_port, wait_healthy, wait_until

SLACK_SETTINGS = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "DOTENV_PATH")


def _bare_environment(**extra: str) -> dict[str, str]:
    """The test runner's environment without any Slack setting, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in SLACK_SETTINGS}
    return {**env, "PYTHONPATH": str(ROOT), **extra}


def _write_env_file(path: Path, settings: dict[str, str]) -> None:
    path.write_text("".join(f"{name}={value}\n" for name, value in settings.items()))


def test_env_file_in_the_working_directory_is_read_and_the_environment_wins(
    slack: SlackStandIn, tmp_path: Path
) -> None:
    in_file = bot_env(slack.url, None, "from-file.db", SANDBOX_RENDER="static")
    _write_env_file(tmp_path / ".env", {**in_file, "PORT": "1", "LOG_LEVEL": "DEBUG"})
    port = free_port()
    bot = subprocess.Popen(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,
        env=_bare_environment(PORT=str(port), LOG_LEVEL="INFO"),
        stdout=(tmp_path / "bot.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc=bot)  # PORT from the environment
        assert (tmp_path / "from-file.db").exists()  # DATABASE_PATH from the file
    finally:
        bot.terminate()
        assert bot.wait(30) == 0
    assert " DEBUG " not in (tmp_path / "bot.log").read_text()


def test_env_file_option_names_the_file(slack: SlackStandIn, tmp_path: Path) -> None:
    elsewhere = tmp_path / "conf"
    elsewhere.mkdir()
    settings = bot_env(slack.url, None, str(tmp_path / "bot.db"), SANDBOX_RENDER="static")
    _write_env_file(elsewhere / "bot.env", settings)
    port = free_port()
    bot = ProcessBot(
        {"PORT": str(port)},
        tmp_path / "bot.log",
        args=("--env-file", str(elsewhere / "bot.env")),
        cwd=tmp_path,
    )
    bot.start()
    assert bot.terminate() == 0


def test_a_missing_env_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot", "--env-file", str(tmp_path / "nope.env")],
        cwd=tmp_path,
        env=_bare_environment(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: --env-file {tmp_path}/nope.env: no such file"
    ]


def test_start_up_says_how_the_bot_is_set_up(slack: SlackStandIn, tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    bot = ProcessBot(bot_env(slack.url, None, str(db), SANDBOX_RENDER="static"), tmp_path / "l")
    bot.start()
    assert bot.terminate() == 0
    log = bot.log()
    assert f"mode: HTTP, listening on http://0.0.0.0:{bot.port}" in log
    assert "Slack: workspace Fake Workspace (T0001) as bot user @heygen (U0BOT)" in log
    assert "HeyGen: embedded sandbox at http://127.0.0.1:" in log and "(API v3" in log
    assert f"database: {db}" in log
    assert "HeyGen webhook: on" in log
    assert " WARNING " not in log and " ERROR " not in log, log  # Bolt's token notice too


def test_start_up_names_the_heygen_api_and_socket_mode(
    slack: SlackStandIn, sandbox, tmp_path: Path
) -> None:
    SocketModeStandIn(slack)
    env = bot_env(
        slack.url,
        sandbox.url,
        str(tmp_path / "bot.db"),
        SLACK_APP_TOKEN=APP_TOKEN,
        HEYGEN_API_VERSION="v2",
    )
    env.pop("SLACK_SIGNING_SECRET")
    bot = ProcessBot(env, tmp_path / "bot.log").launch()
    try:
        wait_until(lambda: "HeyGen webhook:" in bot.log(), timeout=30, message="start-up lines")
    finally:
        bot.proc.terminate()
        assert bot.wait_exit() == 0
    log = bot.log()
    assert "mode: Socket Mode" in log
    assert f"HeyGen: API v2 at {sandbox.url}" in log
    assert "HeyGen webhook: off" in log
    assert " WARNING " not in log and "Traceback" not in log, log


@pytest.mark.parametrize("error", ["invalid_auth", "token_revoked", "account_inactive"])
def test_a_rejected_bot_token_is_one_line_and_exit_2(
    slack: SlackStandIn, tmp_path: Path, error: str
) -> None:
    slack.fail_next("auth.test", error, times=100)
    bot = ProcessBot(bot_env(slack.url, None, str(tmp_path / "bot.db")), tmp_path / "bot.log")
    assert bot.launch().wait_exit() == 2
    [line] = bot.log().strip().splitlines()
    assert f"Slack rejects SLACK_BOT_TOKEN: {error}" in line


def test_a_rejected_app_token_in_socket_mode_is_one_line_and_exit_2(
    slack: SlackStandIn, tmp_path: Path
) -> None:
    env = bot_env(slack.url, None, str(tmp_path / "bot.db"), SLACK_APP_TOKEN="xapp-1-revoked")
    env.pop("SLACK_SIGNING_SECRET")
    bot = ProcessBot(env, tmp_path / "bot.log")
    assert bot.launch().wait_exit() == 2
    [line] = bot.log().strip().splitlines()
    assert "Slack rejects SLACK_APP_TOKEN: invalid_auth" in line


def test_unreachable_slack_at_start_is_retried_then_the_bot_serves(tmp_path: Path) -> None:
    slack_port = free_port()
    slack_url = f"http://127.0.0.1:{slack_port}/api/"
    env = bot_env(slack_url, None, str(tmp_path / "bot.db"), SANDBOX_RENDER="static")
    bot = ProcessBot(env, tmp_path / "bot.log").launch()
    try:
        wait_until(
            lambda: bot.log().count("Slack does not answer") >= 2, timeout=30, message="retries"
        )
        with SlackStandIn(port=slack_port):
            wait_healthy(bot.url, timeout=60, proc=bot.proc)
            assert bot.terminate() == 0
    finally:
        bot.kill()
    log = bot.log()
    assert "retrying in 1s (attempt 1)" in log and "retrying in 2s (attempt 2)" in log
    assert "Traceback" not in log, log


def test_slack_requests_get_no_500_while_slack_is_unreachable(
    slack: SlackStandIn, tmp_path: Path
) -> None:
    env = bot_env(slack.url, None, str(tmp_path / "bot.db"), SANDBOX_RENDER="static")
    bot = ProcessBot(env, tmp_path / "bot.log").start()
    try:
        slack.stop()
        answer = bot.send(sr.slash_command("Hello"))
        assert answer.status_code == 200  # acked; opening the modal fails afterwards
        wait_until(lambda: "failed: ClientConnectorError" in bot.log(), message="one line")
        assert HTTP.get(bot.url + "/healthz").status_code == 200  # Slack is down, not wrong
    finally:
        assert bot.terminate() == 0
    assert "Traceback" not in bot.log(), bot.log()


def test_procfile_has_one_entry_per_process_type() -> None:
    entries = (ROOT / "Procfile").read_text().strip().splitlines()
    assert entries == ["web: python -m bot"]
