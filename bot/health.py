"""Whether Slack and HeyGen accept the bot's credentials, as last seen by any caller.

A rejected token is not one message's failure but the whole bot's: every lane that meets
it records it here, the lanes hold their work while it lasts, `/healthz` reports it, and
the log says it once when it starts and once when it ends, never once per message.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

log = logging.getLogger(__name__)

# Slack's answers that mean the token itself is no good (not this one call).
SLACK_AUTH_ERRORS = frozenset({"invalid_auth", "not_authed", "account_inactive", "token_revoked"})


@dataclass
class Credential:
    """One service's verdict on the bot's credential; `error` is None while accepted."""

    service: str
    error: str | None = None
    since: float | None = None

    @property
    def rejected(self) -> bool:
        return self.error is not None

    def reject(self, error: str) -> bool:
        """Record a refusal; True (and one log line) only when it is news."""
        if self.error == error:
            return False
        first = self.error is None
        self.error, self.since = error, time.time() if first else self.since
        log.error(
            "%s rejects the bot's credentials (%s); holding work until it accepts them",
            self.service,
            error,
        )
        return True

    def accept(self) -> bool:
        """Record that the credential works; True (and one log line) when it had not."""
        if self.error is None:
            return False
        log.warning(
            "%s accepts the bot's credentials again after %.0fs; resuming",
            self.service,
            time.time() - (self.since or time.time()),
        )
        self.error, self.since = None, None
        return True

    def report(self) -> dict[str, object]:
        """What /healthz shows: never the credential, only Slack's or HeyGen's word on it."""
        if self.error is None:
            return {"ok": True}
        return {"ok": False, "error": self.error, "since": self.since}
