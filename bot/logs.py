"""Logging that can never print a secret, whatever a library puts in a message."""

from __future__ import annotations

import logging
import re

from .config import Settings

TOKEN_PATTERN = re.compile(r"xox[abpers]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+")


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
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
            record.exc_text = None
        record.msg, record.args = self.redact(message), None
        return True


def setup_logging(settings: Settings) -> None:
    """One handler on the root logger, redacting before anything is written."""
    handler = logging.StreamHandler()
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
    for noisy in ("httpx", "httpcore", "uvicorn.access", "slack_bolt", "slack_sdk"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
