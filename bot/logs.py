"""Logging that can never print a secret, whatever a library puts in a message.

Two formats (LOG_FORMAT): `text` for people reading a terminal, `json` (one object per
line: time, level, logger, message, job_id where there is one, exc) for log pipelines.
Both go through the same redaction, which runs before any formatter sees the record.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

from .config import Settings

TOKEN_PATTERN = re.compile(r"xox[abpers]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+")
# The code's convention for a message about one job: "job <id>: …".
JOB_PREFIX = re.compile(r"^job (?P<id>[\w.:-]+?):")
# Libraries whose retry loops log a traceback per attempt: their message names the error
# already, and a traceback every few seconds buries everything else.
ONE_LINE_LOGGERS = ("slack_sdk.socket_mode",)


class RedactSecrets(logging.Filter):
    """Replaces every configured secret (and anything shaped like a Slack token)."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self._secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return TOKEN_PATTERN.sub("xox…***", text)

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the message and the traceback; the traceback stays apart (JSON's `exc`)."""
        if record.name.startswith(ONE_LINE_LOGGERS):
            record.exc_info, record.exc_text = None, None
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        record.msg, record.args = self.redact(record.getMessage()), None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line; a traceback goes in `exc` of the same line."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
        }
        job_id = getattr(record, "job_id", None) or _job_in(message)
        if job_id:
            entry["job_id"] = job_id
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False, default=str)


def _job_in(message: str) -> str | None:
    match = JOB_PREFIX.match(message)
    return match.group("id") if match else None


def setup_logging(settings: Settings) -> None:
    """One handler on the root logger, redacting before anything is written."""
    handler = logging.StreamHandler()
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(
        RedactSecrets(
            [
                settings.slack_bot_token,
                settings.slack_signing_secret or "",
                settings.slack_app_token or "",
                settings.heygen_api_key or "",
                settings.heygen_webhook_secret or "",
            ]
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    # uvicorn's start and stop chatter is replaced by the bot's own lines (bot.startup).
    for noisy in ("httpx", "httpcore", "uvicorn", "slack_bolt", "slack_sdk"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
