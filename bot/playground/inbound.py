"""Build the exact HTTP requests Slack POSTs to an app's Request URL, correctly signed.

Tests drive the real app over HTTP, so every request must pass Bolt's signature check and look
like Slack's: slash commands and interactivity are ``application/x-www-form-urlencoded`` (the
latter as a single ``payload=<json>`` field), Events API envelopes are JSON. Signatures follow
https://api.slack.com/authentication/verifying-requests-from-slack (``v0=`` + HMAC-SHA256 of
``v0:{timestamp}:{body}``), i.e. exactly what ``slack_sdk.signature.SignatureVerifier`` checks.

Workspace identifiers are shared with ``SlackStandIn`` so ids in requests resolve against the fake
(e.g. ``app_home_opened`` uses the same DM channel id ``conversations.open`` returns).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx

SIGNING_SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-standin-not-a-real-token"
VERIFICATION_TOKEN = "fake-verification-token"  # the deprecated `token` field Slack still sends

TEAM_ID = "T0001"
TEAM_DOMAIN = "fake-workspace"
TEAM_NAME = "Fake Workspace"
API_APP_ID = "A0001"
BOT_ID = "B0001"
BOT_USER_ID = "U0BOT"
BOT_NAME = "heygen"
USER_ID = "U0USER"
CHANNEL_ID = "C0CHAN"

USER_NAMES = {USER_ID: "alice", BOT_USER_ID: BOT_NAME}
CHANNEL_NAMES = {CHANNEL_ID: "general"}

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
JSON_CONTENT_TYPE = "application/json"
SLACK_USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"


@dataclass(frozen=True)
class Team:
    """Who a request comes from: the workspace, its Enterprise Grid org (if any) and the
    app's install there. ``org_install``: the app is installed org-wide, so Slack marks
    requests ``is_enterprise_install`` and the bot user is the org's."""

    id: str = TEAM_ID
    name: str = TEAM_NAME
    domain: str = TEAM_DOMAIN
    enterprise_id: str | None = None
    enterprise_name: str | None = None
    bot_user_id: str = BOT_USER_ID
    bot_id: str = BOT_ID
    org_install: bool = False

    @property
    def url(self) -> str:
        return f"https://{self.domain}.slack.com/"


DEFAULT_TEAM = Team()


def _pick_team(team: Team | None, team_id: str | None) -> Team:
    """The builders' `team_id=` (kept for old callers) overrides the id of `team`."""
    chosen = team or DEFAULT_TEAM
    return replace(chosen, id=team_id) if team_id and team_id != chosen.id else chosen


@dataclass(frozen=True)
class SignedRequest:
    """A request body plus the headers Slack would send with it."""

    body: bytes
    headers: dict[str, str]

    @property
    def payload(self) -> dict[str, Any]:
        """The decoded body, so tests can read back e.g. the trigger_id they sent."""
        if self.headers.get("Content-Type", "").startswith(JSON_CONTENT_TYPE):
            return json.loads(self.body)
        fields = dict(parse_qsl(self.body.decode(), keep_blank_values=True))
        return json.loads(fields["payload"]) if "payload" in fields else fields

    def resigned(
        self, secret: str = SIGNING_SECRET, timestamp: float | str | None = None
    ) -> SignedRequest:
        """Same body with a new signature: for wrong-secret and stale-timestamp tests."""
        return replace(self, headers={**self.headers, **sign(self.body, secret, timestamp)})


def add_person(user_id: str, name: str) -> None:
    """Name one more person of the workspace (the playground's team; tests keep the default)."""
    USER_NAMES[user_id] = name


def add_channel(channel_id: str, name: str) -> None:
    """Name one more channel of the workspace (the playground's #marketing, #random…)."""
    CHANNEL_NAMES[channel_id] = name


def user_name(user_id: str) -> str:
    return USER_NAMES.get(user_id, user_id.lower())


def channel_name(channel_id: str) -> str:
    return CHANNEL_NAMES.get(channel_id, channel_id.lower())


def dm_channel_id(user_id: str) -> str:
    """The app's DM channel with a user; SlackStandIn.conversations.open returns the same id."""
    return "D" + user_id[1:]


def new_trigger_id(team_id: str = TEAM_ID) -> str:
    """A Slack-shaped trigger_id whose first segment is the issue time in ms (SlackStandIn expires
    it after 3 s, as Slack does)."""
    return (
        f"{int(time.time() * 1000)}.{team_id[1:]}{secrets.randbelow(10**9)}.{secrets.token_hex(16)}"
    )


def response_url_for(
    slack_url: str | None,
    channel_id: str,
    message_ts: str | None = None,
    team_id: str | None = None,
    team: Team | None = None,
) -> str:
    """A response_url; given ``slack_url`` (SlackStandIn.url) it points at the fake, which honours
    it (posts, replaces or deletes the message) in the workspace of ``team_id``."""
    root = _root(slack_url) if slack_url else "https://hooks.slack.com"
    kind, tail = (
        ("actions", f"{channel_id}/{message_ts}") if message_ts else ("commands", channel_id)
    )
    return f"{root}/{kind}/{team_id}/{tail}/{secrets.token_hex(12)}"


def sign(
    body: bytes | str, secret: str = SIGNING_SECRET, timestamp: float | str | None = None
) -> dict[str, str]:
    """Return ``X-Slack-Request-Timestamp`` and ``X-Slack-Signature`` headers for ``body``."""
    raw = body.encode() if isinstance(body, str) else body
    ts = str(int(float(timestamp))) if timestamp is not None else str(int(time.time()))
    base = b"v0:" + ts.encode() + b":" + raw
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def _root(slack_url: str) -> str:
    url = slack_url.rstrip("/")
    return url[: -len("/api")] if url.endswith("/api") else url


def _signed(
    body: bytes, content_type: str, secret: str, timestamp: float | str | None
) -> SignedRequest:
    headers = {
        "Content-Type": content_type,
        "User-Agent": SLACK_USER_AGENT,
        "Accept": "application/json,*/*",
        **sign(body, secret, timestamp),
    }
    return SignedRequest(body=body, headers=headers)


def _form(fields: dict[str, str], secret: str, timestamp: float | str | None) -> SignedRequest:
    return _signed(urlencode(fields).encode(), FORM_CONTENT_TYPE, secret, timestamp)


def _interactive(
    payload: dict[str, Any], secret: str, timestamp: float | str | None
) -> SignedRequest:
    """Interactivity payloads arrive as one form field holding compact JSON."""
    return _form({"payload": json.dumps(payload, separators=(",", ":"))}, secret, timestamp)


def _user(user_id: str, team: Team) -> dict[str, str]:
    name = user_name(user_id)
    return {"id": user_id, "username": name, "name": name, "team_id": team.id}


def _team(team: Team) -> dict[str, str]:
    """Interactivity's ``team``: Grid workspaces also name their org."""
    out = {"id": team.id, "domain": team.domain}
    if team.enterprise_id:
        out.update(enterprise_id=team.enterprise_id, enterprise_name=team.enterprise_name or "")
    return out


def _enterprise(team: Team) -> dict[str, str] | None:
    if not team.enterprise_id:
        return None
    return {"id": team.enterprise_id, "name": team.enterprise_name or ""}


def _action_ts() -> str:
    return f"{time.time():.6f}"


def _base_payload(kind: str, user_id: str, team: Team) -> dict[str, Any]:
    return {
        "type": kind,
        "user": _user(user_id, team),
        "api_app_id": API_APP_ID,
        "token": VERIFICATION_TOKEN,
        "team": _team(team),
        "enterprise": _enterprise(team),
        "is_enterprise_install": team.org_install,
    }


def slash_command(
    text: str,
    *,
    user_id: str = USER_ID,
    channel_id: str = CHANNEL_ID,
    command: str = "/heygen",
    team_id: str | None = None,
    team: Team | None = None,
    trigger_id: str | None = None,
    response_url: str | None = None,
    slack_url: str | None = None,
    secret: str = SIGNING_SECRET,
    timestamp: float | str | None = None,
) -> SignedRequest:
    """A slash command invocation (form-encoded; no enterprise fields outside Enterprise Grid)."""
    who = _pick_team(team, team_id)
    fields = {
        "token": VERIFICATION_TOKEN,
        "team_id": who.id,
        "team_domain": who.domain,
    }
    if who.enterprise_id:
        fields.update(enterprise_id=who.enterprise_id, enterprise_name=who.enterprise_name or "")
    fields |= {
        "channel_id": channel_id,
        "channel_name": "directmessage" if channel_id.startswith("D") else channel_name(channel_id),
        "user_id": user_id,
        "user_name": user_name(user_id),
        "command": command,
        "text": text,
        "api_app_id": API_APP_ID,
        "is_enterprise_install": "true" if who.org_install else "false",
        "response_url": response_url or response_url_for(slack_url, channel_id, team_id=who.id),
        "trigger_id": trigger_id or new_trigger_id(who.id),
    }
    return _form(fields, secret, timestamp)


def block_suggestion(
    action_id: str,
    block_id: str,
    value: str,
    *,
    view: dict[str, Any] | None = None,
    user_id: str = USER_ID,
    team_id: str | None = None,
    team: Team | None = None,
    secret: str = SIGNING_SECRET,
    timestamp: float | str | None = None,
) -> SignedRequest:
    """An external_select options request; Bolt answers it via ``app.options``."""
    who = _pick_team(team, team_id)
    view = view or _default_view(team=who)
    payload = {
        **_base_payload("block_suggestion", user_id, who),
        "container": {"type": "view", "view_id": view["id"]},
        "action_id": action_id,
        "block_id": block_id,
        "value": value,
        "view": view,
    }
    return _interactive(payload, secret, timestamp)


def _default_view(
    callback_id: str = "",
    private_metadata: str = "",
    view_id: str | None = None,
    team: Team = DEFAULT_TEAM,
) -> dict[str, Any]:
    view_id = view_id or "V0" + secrets.token_hex(4).upper()
    return {
        "id": view_id,
        "team_id": team.id,
        "type": "modal",
        "blocks": [],
        "private_metadata": private_metadata,
        "callback_id": callback_id,
        "state": {"values": {}},
        "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
        "title": {"type": "plain_text", "text": "HeyGen", "emoji": True},
        "clear_on_close": False,
        "notify_on_close": False,
        "close": {"type": "plain_text", "text": "Cancel", "emoji": True},
        "submit": {"type": "plain_text", "text": "Submit", "emoji": True},
        "previous_view_id": None,
        "root_view_id": view_id,
        "app_id": API_APP_ID,
        "external_id": "",
        "app_installed_team_id": team.id,
        "bot_id": team.bot_id,
    }


def view_submission(
    callback_id: str,
    state_values: dict[str, Any],
    *,
    private_metadata: str | None = None,
    view_id: str | None = None,
    hash: str | None = None,  # Slack's field name
    user_id: str = USER_ID,
    view: dict[str, Any] | None = None,
    team_id: str | None = None,
    team: Team | None = None,
    trigger_id: str | None = None,
    secret: str = SIGNING_SECRET,
    timestamp: float | str | None = None,
) -> SignedRequest:
    """A modal submission; ``view`` (e.g. ``fake.views[-1]``) supplies blocks/title if given.

    ``private_metadata`` defaults to the given view's (or ``""``).
    """
    who = _pick_team(team, team_id)
    base = dict(view) if view else _default_view(callback_id, private_metadata or "", view_id, who)
    base["callback_id"] = callback_id
    if private_metadata is not None:
        base["private_metadata"] = private_metadata
    base["state"] = {"values": state_values}
    if view_id:
        base["id"] = view_id
    if hash:
        base["hash"] = hash
    payload = {
        **_base_payload("view_submission", user_id, who),
        "trigger_id": trigger_id or new_trigger_id(who.id),
        "view": base,
        "response_urls": [],
    }
    return _interactive(payload, secret, timestamp)


def view_closed(
    view: dict[str, Any],
    *,
    is_cleared: bool = False,
    user_id: str = USER_ID,
    team_id: str | None = None,
    team: Team | None = None,
    secret: str = SIGNING_SECRET,
    timestamp: float | str | None = None,
) -> SignedRequest:
    """The person closed a modal whose view asked for ``notify_on_close``."""
    who = _pick_team(team, team_id)
    payload = {
        **_base_payload("view_closed", user_id, who),
        "view": view,
        "is_cleared": is_cleared,
    }
    return _interactive(payload, secret, timestamp)


def _message_container(
    message: dict[str, Any] | None, channel_id: str | None
) -> tuple[dict[str, Any], str]:
    if not channel_id:
        raise ValueError("block_actions on a message needs channel_id")
    ts = (message or {}).get("ts") or f"{time.time():.6f}"
    container = {"type": "message", "message_ts": ts, "channel_id": channel_id}
    return {**container, "is_ephemeral": message is None}, ts


def block_actions(
    actions: list[dict[str, Any]],
    *,
    container: dict[str, Any] | None = None,
    message: dict[str, Any] | None = None,
    view: dict[str, Any] | None = None,
    channel_id: str | None = None,
    user_id: str = USER_ID,
    state_values: dict[str, Any] | None = None,
    response_url: str | None = None,
    slack_url: str | None = None,
    trigger_id: str | None = None,
    team_id: str | None = None,
    team: Team | None = None,
    secret: str = SIGNING_SECRET,
    timestamp: float | str | None = None,
) -> SignedRequest:
    """Button clicks / select changes, either on a message (channel_id) or in a view."""
    who = _pick_team(team, team_id)
    payload = _base_payload("block_actions", user_id, who)
    payload["trigger_id"] = trigger_id or new_trigger_id(who.id)
    if view is not None:
        payload["container"] = container or {"type": "view", "view_id": view["id"]}
        payload["view"] = view
    else:
        default_container, ts = _message_container(message, channel_id)
        payload["container"] = container or default_container
        payload["channel"] = {"id": channel_id, "name": channel_name(channel_id or "")}
        if message is not None:
            payload["message"] = message
        payload["state"] = {"values": state_values or {}}
        payload["response_url"] = response_url or response_url_for(
            slack_url, channel_id or "", ts, who.id
        )
    payload["actions"] = [{"action_ts": _action_ts(), **action} for action in actions]
    return _interactive(payload, secret, timestamp)


def shortcut(
    callback_id: str,
    *,
    user_id: str = USER_ID,
    trigger_id: str | None = None,
    team_id: str | None = None,
    team: Team | None = None,
    secret: str = SIGNING_SECRET,
    timestamp: float | str | None = None,
) -> SignedRequest:
    """A global shortcut (lightning-bolt menu)."""
    who = _pick_team(team, team_id)
    payload = {
        **_base_payload("shortcut", user_id, who),
        "callback_id": callback_id,
        "trigger_id": trigger_id or new_trigger_id(who.id),
        "action_ts": _action_ts(),
    }
    return _interactive(payload, secret, timestamp)


def message_shortcut(
    callback_id: str,
    message: dict[str, Any],
    channel_id: str,
    *,
    user_id: str = USER_ID,
    trigger_id: str | None = None,
    response_url: str | None = None,
    slack_url: str | None = None,
    team_id: str | None = None,
    team: Team | None = None,
    secret: str = SIGNING_SECRET,
    timestamp: float | str | None = None,
) -> SignedRequest:
    """A message shortcut (``message_action``) invoked on ``message`` in ``channel_id``."""
    who = _pick_team(team, team_id)
    message = {"type": "message", **message}
    payload = {
        **_base_payload("message_action", user_id, who),
        "callback_id": callback_id,
        "trigger_id": trigger_id or new_trigger_id(who.id),
        "action_ts": _action_ts(),
        "message_ts": message.get("ts", ""),
        "message": message,
        "channel": {"id": channel_id, "name": channel_name(channel_id)},
        "response_url": response_url
        or response_url_for(slack_url, channel_id, message.get("ts") or None, who.id),
    }
    return _interactive(payload, secret, timestamp)


def _authorization(team: Team) -> dict[str, Any]:
    """The installation an event is delivered for: an org-wide install has no team."""
    return {
        "enterprise_id": team.enterprise_id,
        "team_id": None if team.org_install else team.id,
        "user_id": team.bot_user_id,
        "is_bot": True,
        "is_enterprise_install": team.org_install,
    }


def event_callback(
    event: dict[str, Any],
    *,
    team_id: str | None = None,
    team: Team | None = None,
    event_id: str | None = None,
    event_time: int | None = None,
    retry_num: int | None = None,
    retry_reason: str = "http_timeout",
    secret: str = SIGNING_SECRET,
    timestamp: float | str | None = None,
) -> SignedRequest:
    """An Events API envelope; ``retry_num`` adds Slack's X-Slack-Retry-* headers."""
    who = _pick_team(team, team_id)
    envelope: dict[str, Any] = {"token": VERIFICATION_TOKEN, "team_id": who.id}
    if who.enterprise_id:
        envelope["enterprise_id"] = who.enterprise_id
    envelope |= {
        "context_team_id": who.id,
        "context_enterprise_id": who.enterprise_id,
        "api_app_id": API_APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or "Ev0" + secrets.token_hex(5).upper(),
        "event_time": event_time or int(time.time()),
        "authorizations": [_authorization(who)],
        "is_ext_shared_channel": False,
        "event_context": "4-" + secrets.token_urlsafe(24),
    }
    request = _signed(json.dumps(envelope).encode(), JSON_CONTENT_TYPE, secret, timestamp)
    if retry_num is not None:
        request.headers["X-Slack-Retry-Num"] = str(retry_num)
        request.headers["X-Slack-Retry-Reason"] = retry_reason
    return request


def app_home_opened(
    user_id: str = USER_ID, *, tab: str = "home", view: dict[str, Any] | None = None, **kwargs: Any
) -> SignedRequest:
    """Shorthand for the ``app_home_opened`` event (kwargs go to ``event_callback``)."""
    event: dict[str, Any] = {
        "type": "app_home_opened",
        "user": user_id,
        "channel": dm_channel_id(user_id),
        "tab": tab,
        "event_ts": f"{time.time():.6f}",
    }
    if view is not None:
        event["view"] = view
    return event_callback(event, **kwargs)


def _installation_level(team: Team) -> Team:
    """An org-wide install is uninstalled or revoked for the whole org: the envelope names
    the org, not one of its workspaces."""
    if team.org_install and team.enterprise_id:
        return replace(team, id=team.enterprise_id)
    return team


def app_uninstalled(team: Team | None = None, **kwargs: Any) -> SignedRequest:
    """Slack's ``app_uninstalled`` event for `team`'s installation (kwargs go to
    ``event_callback``); send it to the app's Request URL after ``SlackStandIn.uninstall``."""
    who = _installation_level(team or DEFAULT_TEAM)
    return event_callback({"type": "app_uninstalled"}, team=who, **kwargs)


def tokens_revoked(
    team: Team | None = None,
    *,
    bot: list[str] | None = None,
    oauth: list[str] | None = None,
    **kwargs: Any,
) -> SignedRequest:
    """Slack's ``tokens_revoked`` event: user ids whose tokens went, by kind (``bot``
    defaults to the team's bot user; ``oauth`` are user tokens)."""
    who = _installation_level(team or DEFAULT_TEAM)
    tokens = {"oauth": list(oauth or []), "bot": [who.bot_user_id] if bot is None else list(bot)}
    return event_callback({"type": "tokens_revoked", "tokens": tokens}, team=who, **kwargs)


def url_verification(
    challenge: str = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
    *,
    secret: str = SIGNING_SECRET,
    timestamp: float | str | None = None,
) -> SignedRequest:
    """The handshake Slack sends when the Request URL is saved."""
    body = {"token": VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"}
    return _signed(json.dumps(body).encode(), JSON_CONTENT_TYPE, secret, timestamp)


def send(
    client_or_base_url: httpx.Client | str,
    signed_request: SignedRequest,
    path: str = "/slack/events",
    *,
    timeout: float = 10.0,
) -> httpx.Response:
    """POST the request byte-for-byte (re-encoding would break the signature)."""
    kwargs: dict[str, Any] = {"content": signed_request.body, "headers": signed_request.headers}
    if isinstance(client_or_base_url, str):
        url = client_or_base_url.rstrip("/") + path
        return httpx.post(url, timeout=timeout, **kwargs)
    return client_or_base_url.post(path, timeout=timeout, **kwargs)


async def asend(
    client_or_base_url: httpx.AsyncClient | str,
    signed_request: SignedRequest,
    path: str = "/slack/events",
    *,
    timeout: float = 10.0,
) -> httpx.Response:
    """Async twin of :func:`send`, for tests running the app in the same event loop."""
    kwargs: dict[str, Any] = {"content": signed_request.body, "headers": signed_request.headers}
    if isinstance(client_or_base_url, str):
        async with httpx.AsyncClient() as client:
            url = client_or_base_url.rstrip("/") + path
            return await client.post(url, timeout=timeout, **kwargs)
    return await client_or_base_url.post(path, timeout=timeout, **kwargs)
