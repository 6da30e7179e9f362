"""Build the Bolt app and register its listeners; no logic lives here."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.logger.messages import (
    warning_client_prioritized_and_token_skipped,
    warning_token_skipped,
)
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError

from .health import SLACK_AUTH_ERRORS
from .listeners import register_listeners
from .services import Services

log = logging.getLogger(__name__)


class _BoltTokenNotices(logging.Filter):
    """Drops Bolt's two notices that our `client` and `authorize` win over SLACK_BOT_TOKEN.

    Bolt reads SLACK_BOT_TOKEN from the environment on its own and warns when a client
    is given too, so every start would log what looks like a misconfiguration. Giving
    the client (one session, our retry handlers, SLACK_API_URL) is the point, and the
    token in it is the same one, so these two lines say nothing.
    """

    NOTICES = frozenset({warning_client_prioritized_and_token_skipped(), warning_token_skipped()})

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() not in self.NOTICES


_QUIET = _BoltTokenNotices()
logging.getLogger("slack_bolt.AsyncApp").addFilter(_QUIET)

# Failures of a Slack or HeyGen call: worth one line, not a traceback.
NETWORK_ERRORS = (SlackApiError, aiohttp.ClientError, asyncio.TimeoutError, TimeoutError)


def build_app(services: Services) -> AsyncApp:
    settings = services.settings

    async def authorize(**_: object) -> AuthorizeResult:
        """The start-up `auth.test` answer: no request ever waits on Slack to authorize."""
        identity = services.identity
        assert identity is not None, "start_services sets the identity"
        return AuthorizeResult(
            enterprise_id=identity.enterprise_id,
            team_id=identity.team_id,
            team=identity.team,
            bot_id=identity.bot_id,
            bot_user_id=identity.user_id,
            bot_token=settings.slack_bot_token,
        )

    if settings.distribution:  # Bolt authorizes each request from the installation store
        from .oauth import oauth_settings

        assert services.installations is not None, "start_services opens the installations"
        auth: dict = {"oauth_settings": oauth_settings(settings, services.installations)}
    else:
        auth = {"authorize": authorize}
    app = AsyncApp(
        client=services.slack,
        **auth,
        signing_secret=settings.slack_signing_secret or "socket-mode-needs-no-secret",
        request_verification_enabled=not settings.socket_mode,
        process_before_response=False,
        raise_error_for_unhandled_request=False,
    )

    async def listener_failed(
        error: Exception, body: dict, response: BoltResponse | None
    ) -> BoltResponse | None:
        return await _listener_failed(services, error, body, response)

    app.error(listener_failed)
    register_listeners(app, services)
    return app


async def _listener_failed(
    services: Services, error: Exception, body: dict, response: BoltResponse | None
) -> BoltResponse | None:
    """A listener raised: one line when Slack or HeyGen failed, a traceback for a bug.

    The answer is a 503, never Bolt's default 500: Slack retries events, and a person
    sees Slack's own "try again" instead of a stack trace in the log for every click.
    A token Slack refuses is recorded for /healthz like any other lane's refusal.
    """
    kind = body.get("type") or body.get("command") or "request"
    code = error.response.get("error") if isinstance(error, SlackApiError) else None
    if code in SLACK_AUTH_ERRORS and not services.settings.distribution:
        services.slack_auth.reject(code)  # one workspace's token is not the bot's health
    elif isinstance(error, NETWORK_ERRORS):
        log.error("%s failed: %s: %s", kind, type(error).__name__, error)
    else:
        log.error("%s failed", kind, exc_info=error)
    # After the ack (the usual case) Slack has its answer already: there is none to change.
    return None if response is None else BoltResponse(status=503, body="")
