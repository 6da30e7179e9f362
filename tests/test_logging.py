"""LOG_FORMAT=json: one JSON object per line for log pipelines; secrets never in either."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from bot.logs import JsonFormatter, RedactSecrets
from bot.playground.inbound import BOT_TOKEN, SIGNING_SECRET
from bot.playground.web_api import SlackStandIn
from tests import flows
from tests.harness import ProcessBot, bot_env, wait_until

HEYGEN_KEY = "test-heygen-key"


def test_json_lines_carry_level_logger_message_and_job_id(
    slack: SlackStandIn, sandbox, tmp_path: Path
) -> None:
    env = bot_env(slack.url, sandbox.url, str(tmp_path / "bot.db"), LOG_FORMAT="json")
    bot = ProcessBot(env, tmp_path / "bot.log").start()
    try:
        slack.fail_next("chat.postMessage", status=500)  # logged as "job <id>: …"
        flows.submit_any(bot, sandbox, "v3")
        wait_until(lambda: flows.posts_by_job(slack, "result"), timeout=30, message="result")
    finally:
        assert bot.terminate() == 0
    text = bot.log()
    entries = [json.loads(line) for line in text.strip().splitlines()]
    assert all({"time", "level", "logger", "message"} <= e.keys() for e in entries)
    [job] = flows.job_rows(bot)
    about_job = [e for e in entries if e.get("job_id")]
    assert about_job and all(e["job_id"] == job["id"] for e in about_job)
    assert entries[-1]["message"].startswith("stopped")
    for secret in (BOT_TOKEN, SIGNING_SECRET, HEYGEN_KEY):
        assert secret not in text


def _record(message: str, *args: object) -> logging.LogRecord:
    try:
        raise RuntimeError(f"boom with {BOT_TOKEN}")
    except RuntimeError:
        return logging.LogRecord("bot.x", logging.ERROR, __file__, 1, message, args, sys.exc_info())


def test_a_traceback_is_one_json_line_with_an_exc_field_and_no_secret() -> None:
    record = _record("job %s: failed with %s", "j-1", HEYGEN_KEY)
    RedactSecrets([HEYGEN_KEY, BOT_TOKEN]).filter(record)
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["job_id"] == "j-1" and entry["level"] == "ERROR" and entry["logger"] == "bot.x"
    assert entry["message"] == "job j-1: failed with ***"
    assert "RuntimeError: boom with" in entry["exc"] and "Traceback" in entry["exc"]
    assert BOT_TOKEN not in line and HEYGEN_KEY not in line


def test_text_format_redacts_the_traceback_too() -> None:
    record = _record("failed with %s", HEYGEN_KEY)
    RedactSecrets([HEYGEN_KEY, BOT_TOKEN]).filter(record)
    text = logging.Formatter("%(levelname)s %(name)s: %(message)s").format(record)
    assert text.startswith("ERROR bot.x: failed with ***\nTraceback")
    assert BOT_TOKEN not in text and HEYGEN_KEY not in text


def test_an_extra_job_id_wins_over_the_message() -> None:
    record = logging.LogRecord("bot.x", logging.INFO, __file__, 1, "sent", None, None)
    record.job_id = "j-2"
    assert json.loads(JsonFormatter().format(record))["job_id"] == "j-2"
