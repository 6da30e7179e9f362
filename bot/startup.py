"""Start-up: ask Slack who the bot is before serving anything, and say how it is set up.

A token Slack refuses is a setting error like a missing one: one line and exit code 2,
never a traceback per request later. Slack being unreachable is not: the bot waits for
it with backoff, one line per attempt. What `auth.test` answers is kept so no Slack
request ever has to call it again (see app.py's `authorize`).
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from .config import Settings
from .health import SLACK_AUTH_ERRORS

if TYPE_CHECKING:
    from .services import Services

log = logging.getLogger(__name__)

HTTP_HOST = "0.0.0.0"
FIRST_RETRY_SECONDS = 1.0
LONGEST_RETRY_SECONDS = 30.0
# What Slack answers when the request never got far enough to judge the token.
TRANSIENT_ERRORS = frozenset({"ratelimited", "rate_limited", "fatal_error", "internal_error"})


class SlackRejected(Exception):
    """Slack refuses one of the bot's tokens; `setting` names it, `error` is Slack's word."""

    def __init__(self, setting: str, error: str) -> None:
        super().__init__(f"Slack rejects {setting}: {error}")
        self.setting, self.error = setting, error


@dataclass(frozen=True)
class SlackIdentity:
    """The workspace and bot user the token belongs to, as `auth.test` answered."""

    team: str
    team_id: str
    user: str
    user_id: str
    bot_id: str | None
    enterprise_id: str | None = None


async def verify_slack(settings: Settings) -> SlackIdentity:
    """`auth.test` (and, in Socket Mode, `apps.connections.open`) until Slack answers.

    Raises SlackRejected when Slack refuses a token; retries anything else forever, with
    backoff, since an outage at start is no reason to give up (a supervisor would only
    restart the bot into the same outage).
    """
    async with aiohttp.ClientSession() as session:
        bot = _client(settings, settings.slack_bot_token, session)
        answer = await _until_answered(lambda: bot.auth_test(), "SLACK_BOT_TOKEN", settings)
        if settings.socket_mode:
            app = _client(settings, settings.slack_app_token or "", session)
            await _until_answered(
                lambda: app.apps_connections_open(app_token=settings.slack_app_token or ""),
                "SLACK_APP_TOKEN",
                settings,
            )
    return SlackIdentity(
        team=answer.get("team") or "",
        team_id=answer.get("team_id") or "",
        user=answer.get("user") or "",
        user_id=answer.get("user_id") or "",
        bot_id=answer.get("bot_id"),
        enterprise_id=answer.get("enterprise_id"),
    )


def _client(settings: Settings, token: str, session: aiohttp.ClientSession) -> AsyncWebClient:
    """No retry handlers: the loop below retries, and logs each attempt itself."""
    return AsyncWebClient(
        token=token,
        base_url=settings.slack_api_url,
        session=session,
        timeout=settings.slack_timeout_seconds,
        retry_handlers=[],
    )


async def _until_answered(call: Any, setting: str, settings: Settings) -> dict[str, Any]:
    delay, attempt = FIRST_RETRY_SECONDS, 1
    while True:
        try:
            return (await call()).data
        except SlackApiError as error:
            code = str(error.response.get("error") or f"HTTP {error.response.status_code}")
            if code in SLACK_AUTH_ERRORS or (
                code not in TRANSIENT_ERRORS and error.response.status_code < 500
            ):
                raise SlackRejected(setting, code) from None
            reason = code
        except (aiohttp.ClientError, TimeoutError) as error:
            reason = f"{type(error).__name__}: {error}".rstrip(": ")
        log.warning(
            "Slack does not answer at %s (%s); retrying in %.0fs (attempt %d)",
            settings.slack_api_url,
            reason,
            delay,
            attempt,
        )
        await asyncio.sleep(delay)
        delay, attempt = min(delay * 2, LONGEST_RETRY_SECONDS), attempt + 1


def announce(services: Services, host: str = HTTP_HOST) -> None:
    """A few lines an operator reads first: where the bot listens and what it talks to."""
    settings, identity = services.settings, services.identity
    if settings.socket_mode:
        log.info("mode: Socket Mode (Slack events over a websocket; no public URL needed)")
    else:
        # Bound to loopback (the playground), only the local stand-in can reach it.
        hint = "" if host == "127.0.0.1" else " (Slack's request URL: <public URL>/slack/events)"
        log.info("mode: HTTP, listening on http://%s:%d%s", host, settings.port, hint)
    if identity is None:
        log.info(
            "Slack: distribution mode: workspaces install the app at <public URL>/slack/install "
            "(redirect URL: <public URL>/slack/oauth_redirect)"
        )
    else:
        log.info(
            "Slack: workspace %s (%s) as bot user @%s (%s)",
            identity.team,
            identity.team_id,
            identity.user,
            identity.user_id,
        )
    version = services.heygen.version
    if services.uses_sandbox:
        url = getattr(services.sandbox, "url", "")
        log.info("HeyGen: embedded sandbox at %s (API %s; no HEYGEN_API_KEY set)", url, version)
    else:
        log.info("HeyGen: API %s at %s", version, settings.heygen_api_url)
    if settings.database_url:
        log.info("database: PostgreSQL (DATABASE_URL)")
        if services.uses_sandbox:
            log.warning(
                "the embedded sandbox is this replica's own: a second replica would not know "
                "its videos; for several replicas set HEYGEN_API_URL and HEYGEN_API_KEY "
                "(HeyGen, or one shared `python -m bot sandbox`)"
            )
    else:
        log.info("database: %s", _where(settings.database_path))
    log.info("HeyGen webhook: %s", _webhook(settings, services.uses_sandbox))


def _where(path: str) -> str:
    return path if path == ":memory:" else os.path.abspath(path)


def _webhook(settings: Settings, sandbox: bool) -> str:
    if settings.heygen_webhook_secret:
        via = "the embedded sandbox" if sandbox else "HeyGen"
        return f"on (/heygen/webhook, events from {via}); polling as a fallback"
    return "off (the bot polls HeyGen for each video's status)"
