"""Distribution mode's install pages: Bolt's OAuth flow with our stores and our words.

`GET /slack/install` shows an "Add to Slack" page; Slack sends the person back to
`GET /slack/oauth_redirect` with a code, which Bolt trades for the workspace's bot token
(`oauth.v2.access`) and saves through `workspaces.Installations`.

The OAuth `state` is stateless: an expiry and a nonce signed with SLACK_STATE_SECRET
(HMAC-SHA256), so any replica can check a state another one issued, and no table fills
with abandoned installs. Bolt also binds it to the browser with a cookie, so a state
copied into another browser is refused too. An expired, forged or missing state gets a
page saying what to do, with a 4xx, never a traceback.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import logging
import secrets
import time
from urllib.parse import urlsplit

from slack_bolt.oauth.async_callback_options import (
    AsyncCallbackOptions,
    AsyncFailureArgs,
    AsyncSuccessArgs,
)
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.response import BoltResponse
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore

from .app_manifest import BOT_SCOPES
from .config import Settings
from .workspaces import Installations

log = logging.getLogger(__name__)

STATE_SECONDS = 600  # as long as Slack's own authorization codes live


class SignedStateStore(AsyncOAuthStateStore):
    """OAuth states checked by signature and expiry alone (works across replicas)."""

    def __init__(self, secret: str, expiration_seconds: int = STATE_SECONDS) -> None:
        self._secret = secret.encode()
        self.expiration_seconds = expiration_seconds

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_issue(self, *args: object, **kwargs: object) -> str:
        body = f"{int(time.time()) + self.expiration_seconds}.{secrets.token_urlsafe(12)}"
        return f"{body}.{self._sign(body)}"

    async def async_consume(self, state: str) -> bool:
        body, _, signature = (state or "").rpartition(".")
        if not body or not hmac.compare_digest(signature, self._sign(body)):
            return False
        expires = body.split(".", 1)[0]
        return expires.isdigit() and int(expires) >= time.time()

    def _sign(self, body: str) -> str:
        return hmac.new(self._secret, body.encode(), hashlib.sha256).hexdigest()[:32]


def authorization_url(slack_api_url: str) -> str:
    """Slack's authorize page on the host of SLACK_API_URL (tests: the stand-in's)."""
    parts = urlsplit(slack_api_url)
    return f"{parts.scheme}://{parts.netloc}/oauth/v2/authorize"


def oauth_settings(settings: Settings, installations: Installations) -> AsyncOAuthSettings:
    return AsyncOAuthSettings(
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret,
        scopes=sorted(BOT_SCOPES),
        user_scopes=[],
        authorization_url=authorization_url(settings.slack_api_url),
        installation_store=installations,
        installation_store_bot_only=True,
        state_store=SignedStateStore(settings.slack_state_secret or ""),
        state_expiration_seconds=STATE_SECONDS,
        callback_options=AsyncCallbackOptions(success=_installed, failure=_refused),
    )


# What a person is told when the install did not go through, by Bolt's reason.
REASONS = {
    "invalid_browser": "This install link was opened in another browser, or its cookie is gone.",
    "invalid_state": "This install link has expired or is not one this app made.",
    "missing_code": "Slack did not send the authorization code back.",
    "access_denied": "The installation was cancelled in Slack.",
}


async def _installed(args: AsyncSuccessArgs) -> BoltResponse:
    where = html.escape(
        args.installation.team_name or args.installation.enterprise_name or "your workspace"
    )
    return _page(
        200,
        "HeyGen Videos is installed",
        f"The app is now in <b>{where}</b>. In Slack, type <code>/heygen</code> in any "
        "conversation. Until a workspace admin adds the team's HeyGen API key in the app's "
        "<b>Home</b> tab, videos come from a built-in sandbox.",
    )


async def _refused(args: AsyncFailureArgs) -> BoltResponse:
    reason = REASONS.get(args.reason, "Slack did not complete the installation.")
    status = args.suggested_status_code if 400 <= args.suggested_status_code < 500 else 400
    if args.reason == "access_denied":
        status = 200  # the person chose not to install: nothing went wrong
    return _page(
        status,
        "The app was not installed",
        f"{html.escape(reason)} Start again from "
        f'<a href="{html.escape(args.settings.install_path)}">the install page</a>.',
    )


def _page(status: int, title: str, body_html: str) -> BoltResponse:
    page = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head>"
        "<body style='font-family:sans-serif;max-width:40em;margin:4em auto'>"
        f"<h1>{html.escape(title)}</h1><p>{body_html}</p></body></html>"
    )
    return BoltResponse(
        status=status, body=page, headers={"Content-Type": "text/html; charset=utf-8"}
    )
