"""In-memory Slack workspace behind SlackStandIn: state plus one handler per Web API method.

Kept apart from the HTTP layer so the rules (what Slack validates, what it answers) read on their
own. Handlers take the decoded request params and return the response body, or raise ``ApiError``
carrying Slack's error code. Shapes follow https://api.slack.com/methods/<method>.
Not thread-safe on its own: SlackStandIn serialises access with its lock.
"""

from __future__ import annotations

import base64
import copy
import json
import mimetypes
import re
import secrets
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from ..app_manifest import BOT_SCOPES
from .block_kit import validate_blocks, validate_view
from .inbound import (
    API_APP_ID,
    BOT_ID,
    BOT_NAME,
    BOT_TOKEN,
    CHANNEL_NAMES,
    DEFAULT_TEAM,
    TEAM_ID,
    Team,
    channel_name,
    dm_channel_id,
    new_trigger_id,
    response_url_for,
    user_name,
)

Params = dict[str, Any]
Handler = Callable[[Params], dict[str, Any]]

TS_STEP_MICROS = 100
MAX_TEXT = 40_000
NO_TEXT_FALLBACK = "This content can't be displayed."
RESPONSE_URL_MAX_USES = 5
MAX_MODAL_STACK = 3  # views.push beyond this answers push_limit_reached
# Slack's answers that say the token itself is no good (revoke_token picks one).
TOKEN_ERRORS = frozenset({"invalid_auth", "not_authed", "account_inactive", "token_revoked"})
HISTORY_SCOPE = {"C": "channels:history", "G": "groups:history", "D": "im:history"}

CHANNEL_RE = re.compile(r"^[CGD][A-Z0-9]{2,}$")
USER_RE = re.compile(r"^[UW][A-Z0-9]{2,}$")
TRIGGER_RE = re.compile(r"^\d+\.\d+\.[0-9a-f]+$")
RESPONSE_URL_RE = re.compile(r"^/(commands|actions)/(T[A-Z0-9]+)/([A-Z0-9]+)/(?:(\d+\.\d+)/)?\w+$")

BOT_PROFILE = {
    "id": BOT_ID,
    "app_id": API_APP_ID,
    "name": BOT_NAME,
    "icons": {"image_36": "https://a.slack-edge.com/80588/img/plugins/app/bot_36.png"},
    "deleted": False,
    "updated": 1_700_000_000,
    "team_id": TEAM_ID,
}


# The scope each method needs beyond a valid token, as Slack checks it (missing_scope).
METHOD_SCOPES = {
    "files.getUploadURLExternal": "files:write",
    "files.completeUploadExternal": "files:write",
}


class ApiError(Exception):
    """A Slack ``{"ok": false, "error": ...}`` answer, with any extra fields Slack adds."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"ok": False, "error": self.error, **self.extra}


def invalid_arguments(*messages: str) -> ApiError:
    return ApiError(
        "invalid_arguments", response_metadata={"messages": [f"[ERROR] {m}" for m in messages]}
    )


def invalid_blocks(errors: list[str]) -> ApiError:
    """Slack lists each problem both bare (``errors``) and prefixed (``messages``)."""
    messages = [f"[ERROR] {e}" for e in errors]
    return ApiError("invalid_blocks", errors=errors, response_metadata={"messages": messages})


def flag(value: Any) -> bool:
    """Booleans arrive as JSON true, form "1"/"true" (slack_sdk sends "1"/"0")."""
    return value is True or (isinstance(value, str | int) and str(value).lower() in ("1", "true"))


def as_str(value: Any) -> str:
    return "" if value is None else str(value)


def _ts_from_micros(micros: int) -> str:
    return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


def _plain(obj: Any) -> Any:
    """Slack echoes plain_text objects back with ``emoji: true`` filled in."""
    if isinstance(obj, dict) and obj.get("type") == "plain_text":
        return {"emoji": True, **obj}
    return copy.deepcopy(obj)


def _with_ids(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Slack assigns a block_id to every block (and action_id to elements) that lacks one."""
    out = copy.deepcopy(blocks)
    for block in out:
        block.setdefault("block_id", secrets.token_urlsafe(4)[:5])
        elements = list(block.get("elements") or []) if block.get("type") == "actions" else []
        elements += [block[k] for k in ("accessory", "element") if isinstance(block.get(k), dict)]
        for element in elements:
            if isinstance(element, dict) and element.get("type") != "image":
                element.setdefault("action_id", secrets.token_urlsafe(4)[:5])
    return out


class Workspace:
    """One team with one bot install; everything the fake remembers between calls."""

    def __init__(
        self, root_url: str, *, trigger_ttl: float | None = 3.0, team: Team = DEFAULT_TEAM
    ) -> None:
        self.root_url = root_url
        self.trigger_ttl = trigger_ttl
        self.team = team  # ids, domain, org and the bot's identity here
        self.team_name = team.name
        # An id another workspace of the stand-in owns: Slack says it does not exist here.
        self.is_foreign: Callable[[str], bool] = lambda _id: False
        # Where the workspace's links lead (auth.test's url, permalinks): Slack's own
        # domain for the tests; the playground sets its page, so no link leaves the machine.
        self.url = team.url
        self.tokens: set[str] = {BOT_TOKEN}
        self.token_error: str | None = None  # set: every call answers this (revoked token)
        self.scopes: set[str] = set(BOT_SCOPES)
        self.socket_mode_url: str | None = None  # set by bot.playground.socket_mode
        self.not_in_channel: set[str] = set()
        self.users: dict[str, dict[str, Any]] = {}
        self.channels: dict[str, dict[str, Any]] = {}
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}
        self.ephemerals: list[dict[str, Any]] = []
        self.views: dict[str, dict[str, Any]] = {}
        self.files: dict[str, dict[str, Any]] = {}
        self._ts_seq = 0
        self._id_seq = 0
        self._home_views: dict[str, str] = {}
        self._external_ids: dict[str, str] = {}
        self._uploads: dict[str, str] = {}
        self._used_triggers: set[str] = set()
        self._open_dms: set[str] = set()
        self._response_url_uses: dict[str, int] = {}
        self.version = 0  # bumped on every change a person could see (the page's events)
        self.modal_stacks: dict[str, list[str]] = {}  # user id -> open modal view ids
        self._trigger_users: dict[str, str] = {}
        self._response_url_owners: dict[str, dict[str, Any]] = {}
        self.handlers: dict[str, Handler] = {
            "auth.test": self.auth_test,
            "bots.info": self.bots_info,
            "chat.delete": self.chat_delete,
            "chat.getPermalink": self.chat_get_permalink,
            "chat.postEphemeral": self.chat_post_ephemeral,
            "chat.postMessage": self.chat_post_message,
            "chat.update": self.chat_update,
            "conversations.info": self.conversations_info,
            "conversations.join": self.conversations_join,
            "conversations.open": self.conversations_open,
            "conversations.replies": self.conversations_replies,
            "conversations.history": self.conversations_history,
            "apps.connections.open": self.apps_connections_open,
            "files.completeUploadExternal": self.files_complete_upload_external,
            "files.getUploadURLExternal": self.files_get_upload_url_external,
            "files.upload": self.files_upload,
            "team.info": self.team_info,
            "users.info": self.users_info,
            "views.open": self.views_open,
            "views.publish": self.views_publish,
            "views.push": self.views_push,
            "views.update": self.views_update,
        }

    # ----------------------------------------------------------------- who acted

    def changed(self) -> None:
        """Something a person could see changed: the page's event stream says so."""
        self.version += 1

    def mint_trigger(self, user: str) -> str:
        """A trigger_id for an interaction by `user`: the modal it opens is that person's."""
        trigger = new_trigger_id(self.team.id)
        self._trigger_users[trigger] = user
        return trigger

    def mint_response_url(
        self,
        user: str,
        channel: str,
        message_ts: str | None = None,
        thread_ts: str | None = None,
    ) -> str:
        """A response_url whose ephemeral answers are shown to `user` (in the thread acted in)."""
        url = response_url_for(self.root_url, channel, message_ts, self.team.id)
        self._response_url_owners[urlsplit(url).path] = {"user": user, "thread_ts": thread_ts}
        return url

    def home_view(self, user: str) -> dict[str, Any] | None:
        view_id = self._home_views.get(user)
        return self.views.get(view_id) if view_id else None

    def open_modal(self, user: str) -> tuple[dict[str, Any], int] | None:
        """The top of the person's modal stack and the stack's depth, or None."""
        stack = self.modal_stacks.get(user) or []
        return (self.views[stack[-1]], len(stack)) if stack else None

    def close_modals(self, user: str) -> list[str]:
        """The person closed the modal (X): the whole stack goes; returns its view ids."""
        closed = self.modal_stacks.pop(user, [])
        if closed:
            self.changed()
        return closed

    def answer_submission(self, user: str, view_id: str, answer: Any) -> dict[str, Any]:
        """Apply the app's answer to a view_submission as Slack does: errors stay in the
        modal, update/push/clear change the stack, an empty answer closes this view."""
        answer = answer if isinstance(answer, dict) else {}
        action = answer.get("response_action")
        if action == "errors":
            errors = answer.get("errors")
            if not isinstance(errors, dict) or not errors:
                raise invalid_arguments("errors must be an object naming input blocks")
            return {"response_action": "errors", "errors": errors}
        stack = self.modal_stacks.setdefault(user, [])
        if action in ("update", "push"):
            view = answer.get("view")
            problems = validate_view(view, allowed_types=("modal",)) if view else ["no view"]
            if problems:
                raise invalid_arguments(*problems)
            if action == "update":
                self._replace_view(self.views[view_id], view)
            else:
                self._push_view(user, view)  # type: ignore[arg-type]
        elif action == "clear":
            stack.clear()
        elif action is None:
            if view_id in stack:
                del stack[stack.index(view_id) :]
        else:
            raise invalid_arguments(f"unknown response_action {action!r}")
        self.changed()
        return {"response_action": action} if action else {}

    # ----------------------------------------------------------------- ids and lookups

    def next_ts(self) -> str:
        """Like Slack's: the wall-clock time of posting, unique and increasing."""
        self._ts_seq += 1
        now = int(time.time() * 1_000_000)
        self._last_micros = max(now, getattr(self, "_last_micros", 0) + TS_STEP_MICROS)
        return _ts_from_micros(self._last_micros)

    def _new_id(self, prefix: str) -> str:
        self._id_seq += 1
        return f"{prefix}0{self._id_seq:08d}"

    def resolve_channel(self, value: Any) -> str:
        """Ids as-is, ``#name`` by name, user ids to the app's DM (chat.postMessage rules)."""
        channel = as_str(value).strip()
        if channel.startswith("#"):
            for cid in {*self.channels, *CHANNEL_NAMES}:
                if self._channel_name(cid) == channel[1:]:
                    return cid
            raise ApiError("channel_not_found")
        if USER_RE.match(channel):
            return dm_channel_id(channel)
        if not CHANNEL_RE.match(channel) or self.is_foreign(channel):
            raise ApiError("channel_not_found")
        return channel

    def _channel_name(self, cid: str) -> str:
        return self.channels.get(cid, {}).get("name") or channel_name(cid)

    def require_scope_of(self, method: str) -> None:
        """Slack's `missing_scope` for a method that needs a scope beyond a valid token."""
        needed = METHOD_SCOPES.get(method)
        if needed:
            self.require_scope(needed)

    def is_member(self, channel: str) -> bool:
        """The bot is in every conversation except those in ``not_in_channel``; DMs always."""
        return channel.startswith("D") or channel not in self.not_in_channel

    def require_scope(self, scope: str) -> None:
        if scope not in self.scopes:
            provided = ",".join(sorted(self.scopes))
            raise ApiError("missing_scope", needed=scope, provided=provided)

    def _check_postable(self, channel: str) -> None:
        """Slack's rules for posting: a public channel needs membership or chat:write.public;
        a private channel the bot is not in does not exist as far as the bot can tell."""
        if not self.is_member(channel):
            if not channel.startswith("C"):
                raise ApiError("channel_not_found")
            if "chat:write.public" not in self.scopes:
                raise ApiError("not_in_channel")
        if self.channels.get(channel, {}).get("is_archived"):
            raise ApiError("is_archived")

    def _check_readable(self, channel: str) -> None:
        """conversations.history/replies: the type's history scope, then membership
        (``not_in_channel`` for a public channel, ``channel_not_found`` otherwise)."""
        self.require_scope(HISTORY_SCOPE.get(channel[:1], "channels:history"))
        if not self.is_member(channel):
            raise ApiError("not_in_channel" if channel.startswith("C") else "channel_not_found")

    def _message(self, channel: str, ts: str) -> dict[str, Any]:
        message = self.messages.get((channel, ts))
        if message is None:
            raise ApiError("message_not_found")
        return message

    # ----------------------------------------------------------------- message content

    def content(self, p: Params) -> dict[str, Any]:
        """Validate text/blocks/attachments/metadata the way chat.* does; return those given."""
        out: dict[str, Any] = {}
        if p.get("text") is not None:
            out["text"] = as_str(p["text"])
            if len(out["text"]) > MAX_TEXT:
                raise ApiError("msg_too_long")
        if p.get("blocks") is not None:
            out["blocks"] = self._blocks(p["blocks"])
        if p.get("attachments") is not None:
            if not isinstance(p["attachments"], list):
                raise ApiError("invalid_attachments")
            out["attachments"] = copy.deepcopy(p["attachments"])
        if p.get("metadata") is not None:
            out["metadata"] = self._metadata(p["metadata"])
        return out

    @staticmethod
    def _blocks(blocks: Any) -> list[dict[str, Any]]:
        if not isinstance(blocks, list) or not all(isinstance(b, dict) for b in blocks):
            raise ApiError("invalid_blocks_format")
        errors = validate_blocks(blocks)
        if errors:
            raise invalid_blocks(errors)
        return _with_ids(blocks)

    @staticmethod
    def _metadata(value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise ApiError("invalid_metadata_format")
        if value and (
            not isinstance(value.get("event_type"), str)
            or not isinstance(value.get("event_payload"), dict)
        ):
            raise ApiError("invalid_metadata_schema")
        return copy.deepcopy(value)

    @staticmethod
    def _require_body(content: dict[str, Any]) -> None:
        if not (content.get("text") or content.get("blocks") or content.get("attachments")):
            raise ApiError("no_text")

    def store_message(
        self,
        channel: str,
        content: dict[str, Any],
        *,
        user: str | None = None,
        thread_ts: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Persist a message and keep the thread parent's reply bookkeeping in step."""
        user = user or self.team.bot_user_id
        text = content.get("text") or (NO_TEXT_FALLBACK if content.get("blocks") else "")
        message: dict[str, Any] = {
            "channel": channel,
            "type": "message",
            "ts": self.next_ts(),
            "user": user,
            "text": text,
            "blocks": content.get("blocks"),
            "attachments": content.get("attachments"),
            "metadata": content.get("metadata") or None,
            "thread_ts": thread_ts,
            "team": self.team.id,
            **extra,
        }
        if user == self.team.bot_user_id:
            profile = {
                **copy.deepcopy(BOT_PROFILE),
                "id": self.team.bot_id,
                "team_id": self.team.id,
            }
            message.update(bot_id=self.team.bot_id, app_id=API_APP_ID, bot_profile=profile)
        if thread_ts:
            self._add_reply(channel, thread_ts, message)
        self.messages[(channel, message["ts"])] = message
        self.changed()
        return message

    def _add_reply(self, channel: str, thread_ts: str, reply: dict[str, Any]) -> None:
        parent = self.messages.get((channel, thread_ts))
        if parent is None:
            return
        reply["parent_user_id"] = parent["user"]
        users = parent.setdefault("reply_users", [])
        if reply["user"] not in users:
            users.append(reply["user"])
        parent.update(
            thread_ts=thread_ts,
            reply_count=parent.get("reply_count", 0) + 1,
            reply_users_count=len(users),
            latest_reply=reply["ts"],
        )

    @staticmethod
    def public(message: dict[str, Any], *, metadata: bool = True) -> dict[str, Any]:
        """The message object as the API returns it: no internal keys, no nulls."""
        out = {k: copy.deepcopy(v) for k, v in message.items() if v is not None}
        out.pop("channel", None)
        if not metadata:
            out.pop("metadata", None)
        return out

    # ----------------------------------------------------------------- auth / team / bots

    def auth_test(self, p: Params) -> dict[str, Any]:
        return {
            "ok": True,
            "url": self.url,
            "team": self.team_name,
            "user": BOT_NAME,
            "team_id": self.team.id,
            "user_id": self.team.bot_user_id,
            "bot_id": self.team.bot_id,
            **({"enterprise_id": self.team.enterprise_id} if self.team.enterprise_id else {}),
            "is_enterprise_install": False,
        }

    def team_info(self, p: Params) -> dict[str, Any]:
        if p.get("team") and p["team"] != self.team.id:
            raise ApiError("team_not_found")
        team = {
            "id": self.team.id,
            "name": self.team_name,
            "url": self.url,
            "domain": self.team.domain,
            "email_domain": "",
            "icon": {"image_default": True, "image_68": "https://a.slack-edge.com/team_68.png"},
            "avatar_base_url": "https://ca.slack-edge.com/",
            "is_verified": False,
        }
        if self.team.enterprise_id:
            team.update(
                enterprise_id=self.team.enterprise_id, enterprise_name=self.team.enterprise_name
            )
        return {"ok": True, "team": team}

    def bots_info(self, p: Params) -> dict[str, Any]:
        if p.get("bot") and p["bot"] != self.team.bot_id:
            raise ApiError("bot_not_found")
        bot = {
            "id": self.team.bot_id,
            "deleted": False,
            "name": BOT_NAME,
            "updated": 1_700_000_000,
            "app_id": API_APP_ID,
            "user_id": self.team.bot_user_id,
            "icons": {"image_36": "https://a.slack-edge.com/bot_36.png"},
        }
        return {"ok": True, "bot": bot}

    # ----------------------------------------------------------------- chat.*

    def chat_post_message(self, p: Params) -> dict[str, Any]:
        channel = self.resolve_channel(p.get("channel"))
        self._check_postable(channel)
        content = self.content(p)
        self._require_body(content)
        thread_ts = as_str(p.get("thread_ts")) or None
        broadcast = bool(thread_ts) and flag(p.get("reply_broadcast"))
        extra = {"subtype": "thread_broadcast"} if broadcast else {}
        message = self.store_message(channel, content, thread_ts=thread_ts, **extra)
        return {
            "ok": True,
            "channel": channel,
            "ts": message["ts"],
            "message": self.public(message),
        }

    def chat_update(self, p: Params) -> dict[str, Any]:
        channel = self.resolve_channel(p.get("channel"))
        ts = as_str(p.get("ts"))
        if not ts:
            raise invalid_arguments("missing required field: ts")
        message = self._message(channel, ts)
        if message["user"] != self.team.bot_user_id:
            raise ApiError("cant_update_message")
        content = self.content(p)
        if not content:
            raise ApiError("no_text")
        self._apply_update(message, content)
        return {
            "ok": True,
            "channel": channel,
            "ts": ts,
            "text": message["text"],
            "message": self.public(message),
        }

    def _apply_update(self, message: dict[str, Any], content: dict[str, Any]) -> None:
        """Omitted fields keep their old value; ``blocks=[]`` / ``metadata={}`` clear them."""
        for key in ("blocks", "attachments", "metadata"):
            if key in content:
                message[key] = content[key] or None
        if "text" in content:
            message["text"] = content["text"] or (NO_TEXT_FALLBACK if message["blocks"] else "")
        message["edited"] = {"user": self.team.bot_user_id, "ts": self.next_ts()}
        self.changed()

    def chat_delete(self, p: Params) -> dict[str, Any]:
        channel = self.resolve_channel(p.get("channel"))
        ts = as_str(p.get("ts"))
        message = self._message(channel, ts)
        if message["user"] != self.team.bot_user_id:
            raise ApiError("cant_delete_message")
        del self.messages[(channel, ts)]
        self.changed()
        return {"ok": True, "channel": channel, "ts": ts}

    def chat_post_ephemeral(self, p: Params) -> dict[str, Any]:
        channel = self.resolve_channel(p.get("channel"))
        self._check_postable(channel)
        user = as_str(p.get("user"))
        if not user:
            raise invalid_arguments("missing required field: user")
        if not USER_RE.match(user):
            raise ApiError("user_not_found")
        content = self.content(p)
        self._require_body(content)
        ts = self.next_ts()
        thread_ts = as_str(p.get("thread_ts")) or None
        record = {"channel": channel, "user": user, "ts": ts, "thread_ts": thread_ts, **content}
        self.ephemerals.append(record)
        self.changed()
        return {"ok": True, "message_ts": ts}

    def chat_get_permalink(self, p: Params) -> dict[str, Any]:
        channel = self.resolve_channel(p.get("channel"))
        ts = as_str(p.get("message_ts"))
        message = self._message(channel, ts)
        link = f"{self.url}archives/{channel}/p{ts.replace('.', '')}"
        if message.get("thread_ts") and message["thread_ts"] != ts:
            link += f"?thread_ts={message['thread_ts']}&cid={channel}"
        return {"ok": True, "channel": channel, "permalink": link}

    # ----------------------------------------------------------------- views.*

    def _view_arg(self, p: Params, allowed: tuple[str, ...]) -> dict[str, Any]:
        view = p.get("view")
        if view is None:
            raise invalid_arguments("missing required field: view")
        errors = validate_view(view, allowed_types=allowed)
        if errors:
            raise invalid_arguments(*errors)
        if len(json.dumps(view)) > 250_000:
            raise ApiError("view_too_large")
        return view

    def _exchange_trigger(self, p: Params) -> str | None:
        """Triggers are single-use and expire after 3 s; slow handlers fail here as in prod.

        Returns the person the trigger was minted for (None for one a test made up)."""
        trigger = as_str(p.get("trigger_id") or p.get("interactivity_pointer"))
        if not trigger:
            raise invalid_arguments("missing required field: trigger_id")
        if not TRIGGER_RE.match(trigger):
            raise ApiError("invalid_trigger_id")
        issued_ms = int(trigger.split(".", 1)[0])
        age = time.time() - issued_ms / 1000
        if self.trigger_ttl is not None and issued_ms > 10**12 and age > self.trigger_ttl:
            raise ApiError("expired_trigger_id")
        if trigger in self._used_triggers:
            raise ApiError("exchanged_trigger_id")
        self._used_triggers.add(trigger)
        return self._trigger_users.pop(trigger, None)

    def _store_view(
        self,
        view: dict[str, Any],
        *,
        view_id: str | None = None,
        root_view_id: str | None = None,
        previous_view_id: str | None = None,
        state: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        view_id = view_id or self._new_id("V")
        external_id = as_str(view.get("external_id"))
        if external_id and self._external_ids.get(external_id, view_id) != view_id:
            raise ApiError("duplicate_external_id")
        stored = {
            "id": view_id,
            "team_id": self.team.id,
            "type": view["type"],
            "blocks": _with_ids(view.get("blocks") or []),
            "private_metadata": as_str(view.get("private_metadata")),
            "callback_id": as_str(view.get("callback_id")),
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
            "title": _plain(view.get("title")),
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "close": _plain(view.get("close")),
            "submit": _plain(view.get("submit")),
            "previous_view_id": previous_view_id,
            "root_view_id": root_view_id or view_id,
            "app_id": API_APP_ID,
            "external_id": external_id,
            "app_installed_team_id": self.team.id,
            "bot_id": self.team.bot_id,
        }
        if state:
            stored["state"] = {"values": _kept_values(state, stored["blocks"])}
        if external_id:
            self._external_ids[external_id] = view_id
        self.views[view_id] = stored
        self.changed()
        return {"ok": True, "view": copy.deepcopy(stored)}

    def _replace_view(self, current: dict[str, Any], view: dict[str, Any]) -> dict[str, Any]:
        """views.update and response_action update: same id and place in the stack; what
        was typed into inputs whose block_id and action_id remain is kept, as in Slack."""
        return self._store_view(
            view,
            view_id=current["id"],
            root_view_id=current["root_view_id"],
            previous_view_id=current["previous_view_id"],
            state=current.get("state"),
        )

    def _push_view(self, user: str | None, view: dict[str, Any]) -> dict[str, Any]:
        stack = self.modal_stacks.setdefault(user, []) if user else []
        if len(stack) >= MAX_MODAL_STACK:
            raise ApiError("push_limit_reached")
        response = self._store_view(
            view,
            root_view_id=stack[0] if stack else None,
            previous_view_id=stack[-1] if stack else None,
        )
        stack.append(response["view"]["id"])
        return response

    def views_open(self, p: Params) -> dict[str, Any]:
        view = self._view_arg(p, ("modal",))
        user = self._exchange_trigger(p)
        response = self._store_view(view)
        if user:
            self.modal_stacks[user] = [response["view"]["id"]]
        return response

    def views_push(self, p: Params) -> dict[str, Any]:
        view = self._view_arg(p, ("modal",))
        return self._push_view(self._exchange_trigger(p), view)

    def views_update(self, p: Params) -> dict[str, Any]:
        view_id = as_str(p.get("view_id"))
        external_id = as_str(p.get("external_id"))
        if not view_id and not external_id:
            raise invalid_arguments("either view_id or external_id is required")
        view = self._view_arg(p, ("modal", "home"))
        current = self.views.get(view_id or self._external_ids.get(external_id, ""))
        if current is None:
            raise ApiError("not_found")
        if p.get("hash") and p["hash"] != current["hash"]:
            raise ApiError("hash_conflict")
        return self._replace_view(current, view)

    def views_publish(self, p: Params) -> dict[str, Any]:
        user_id = as_str(p.get("user_id"))
        if not user_id:
            raise invalid_arguments("missing required field: user_id")
        if not USER_RE.match(user_id):
            raise ApiError("user_not_found")
        view = self._view_arg(p, ("home",))
        current_id = self._home_views.get(user_id)
        if p.get("hash") and current_id and p["hash"] != self.views[current_id]["hash"]:
            raise ApiError("hash_conflict")
        response = self._store_view(view, view_id=current_id)
        self._home_views[user_id] = response["view"]["id"]
        return response

    # ----------------------------------------------------------------- conversations.*

    def channel_info(self, cid: str) -> dict[str, Any]:
        if cid.startswith("D"):
            info: dict[str, Any] = {
                "id": cid,
                "created": 1_700_000_000,
                "is_im": True,
                "is_org_shared": False,
                "user": "U" + cid[1:],
                "is_user_deleted": False,
                "priority": 0,
            }
        else:
            name = self._channel_name(cid)
            info = {
                "id": cid,
                "name": name,
                "name_normalized": name,
                "is_channel": cid.startswith("C"),
                "is_group": cid.startswith("G"),
                "is_im": False,
                "is_mpim": False,
                "is_private": cid.startswith("G"),
                "created": 1_700_000_000,
                "creator": "U0USER",
                "is_archived": False,
                "is_general": False,
                "is_shared": False,
                "is_ext_shared": False,
                "is_org_shared": False,
                "context_team_id": self.team.id,
                "is_member": cid not in self.not_in_channel,
                "topic": {"value": "", "creator": "", "last_set": 0},
                "purpose": {"value": "", "creator": "", "last_set": 0},
                "previous_names": [],
            }
        return {**info, **copy.deepcopy(self.channels.get(cid, {}))}

    def conversations_open(self, p: Params) -> dict[str, Any]:
        if p.get("channel"):
            cid = self.resolve_channel(p["channel"])
        else:
            users = [u.strip() for u in as_str(p.get("users")).split(",") if u.strip()]
            if not users:
                raise ApiError("users_list_not_supplied")
            if any(not USER_RE.match(u) for u in users):
                raise ApiError("user_not_found")
            cid = dm_channel_id(users[0]) if len(users) == 1 else self._new_id("G")
        response: dict[str, Any] = {"ok": True, "channel": {"id": cid}}
        if cid in self._open_dms:
            response.update(no_op=True, already_open=True)
        self._open_dms.add(cid)
        if flag(p.get("return_im")):
            response["channel"] = self.channel_info(cid)
        return response

    def conversations_join(self, p: Params) -> dict[str, Any]:
        """Public channels only (channels:join); joining twice warns ``already_in_channel``."""
        self.require_scope("channels:join")
        cid = as_str(p.get("channel"))
        if not CHANNEL_RE.match(cid):
            raise ApiError("channel_not_found")
        if not cid.startswith("C"):
            if not self.is_member(cid):
                raise ApiError("channel_not_found")
            raise ApiError("method_not_supported_for_channel_type")
        if self.channels.get(cid, {}).get("is_archived"):
            raise ApiError("is_archived")
        response: dict[str, Any] = {"ok": True}
        if self.is_member(cid):
            response.update(
                warning="already_in_channel",
                response_metadata={"warnings": ["already_in_channel"]},
            )
        self.not_in_channel.discard(cid)
        self.changed()
        response["channel"] = self.channel_info(cid)
        return response

    def conversations_info(self, p: Params) -> dict[str, Any]:
        return {"ok": True, "channel": self.channel_info(self.resolve_channel(p.get("channel")))}

    def thread(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        """Parent first, then replies in ts order (what conversations.replies lists)."""
        found = [
            m
            for (c, ts), m in self.messages.items()
            if c == channel and (ts == thread_ts or m.get("thread_ts") == thread_ts)
        ]
        return sorted(found, key=lambda m: float(m["ts"]))

    def conversations_replies(self, p: Params) -> dict[str, Any]:
        channel = self.resolve_channel(p.get("channel"))
        ts = as_str(p.get("ts"))
        if not ts:
            raise invalid_arguments("missing required field: ts")
        self._check_readable(channel)
        if (channel, ts) not in self.messages:
            raise ApiError("thread_not_found")
        messages = self.thread(channel, ts)
        offset = int(base64.b64decode(p["cursor"]).decode().split(":")[1]) if p.get("cursor") else 0
        limit = int(p.get("limit") or 1000)
        page = messages[offset : offset + limit]
        has_more = offset + limit < len(messages)
        with_metadata = flag(p.get("include_all_metadata"))
        next_cursor = base64.b64encode(f"offset:{offset + limit}".encode()).decode()
        return {
            "ok": True,
            "messages": [self.public(m, metadata=with_metadata) for m in page],
            "has_more": has_more,
            "response_metadata": {"next_cursor": next_cursor if has_more else ""},
        }

    def apps_connections_open(self, p: Params) -> dict[str, Any]:
        """Socket Mode: hand out the WebSocket URL of the fake socket server, if one runs."""
        if not self.socket_mode_url:
            raise ApiError("invalid_auth")
        return {"ok": True, "url": self.socket_mode_url}

    def conversations_history(self, p: Params) -> dict[str, Any]:
        """Top-level messages (and thread broadcasts), newest first, as Slack lists them."""
        channel = self.resolve_channel(p.get("channel"))
        self._check_readable(channel)
        oldest = float(p.get("oldest") or 0)
        latest = float(p.get("latest") or "inf")
        found = [
            m
            for (c, ts), m in self.messages.items()
            if c == channel
            and oldest < float(ts) < latest
            and (not m.get("thread_ts") or m.get("thread_ts") == ts)
        ]
        found.sort(key=lambda m: float(m["ts"]), reverse=True)
        limit = int(p.get("limit") or 100)
        with_metadata = flag(p.get("include_all_metadata"))
        return {
            "ok": True,
            "messages": [self.public(m, metadata=with_metadata) for m in found[:limit]],
            "has_more": len(found) > limit,
            "response_metadata": {"next_cursor": ""},
        }

    # ----------------------------------------------------------------- users.*

    def user_info(self, uid: str) -> dict[str, Any]:
        name = user_name(uid)
        profile: dict[str, Any] = {
            "real_name": name.title(),
            "display_name": name,
            "real_name_normalized": name.title(),
            "display_name_normalized": name,
            "image_72": f"https://avatars.slack-edge.com/{uid}_72.png",
            "team": self.team.id,
        }
        if uid == self.team.bot_user_id:
            profile.update(bot_id=self.team.bot_id, api_app_id=API_APP_ID)
        override = copy.deepcopy(self.users.get(uid, {}))
        profile.update(override.pop("profile", {}))
        user = {
            "id": uid,
            "team_id": self.team.id,
            "name": name,
            "deleted": False,
            "real_name": profile["real_name"],
            "tz": "America/Los_Angeles",
            "tz_label": "Pacific Standard Time",
            "tz_offset": -28800,
            "is_admin": False,
            "is_owner": False,
            "is_bot": uid == self.team.bot_user_id,
            "is_app_user": False,
            "updated": 1_700_000_000,
            "profile": profile,
        }
        return {**user, **override}

    def users_info(self, p: Params) -> dict[str, Any]:
        uid = as_str(p.get("user"))
        if not USER_RE.match(uid) or self.is_foreign(uid):
            raise ApiError("user_not_found")
        return {"ok": True, "user": self.user_info(uid)}

    # ----------------------------------------------------------------- files.*

    def files_upload(self, p: Params) -> dict[str, Any]:
        """files.upload was sunset on 2025-11-12; apps must use the external upload flow."""
        raise ApiError("method_deprecated")

    def files_get_upload_url_external(self, p: Params) -> dict[str, Any]:
        filename = as_str(p.get("filename"))
        if not filename:
            raise invalid_arguments("missing required field: filename")
        try:
            length = int(p.get("length"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise invalid_arguments("missing required field: length") from None
        if length < 1:
            raise invalid_arguments("length must be greater than 0")
        file_id = self._new_id("F")
        token = secrets.token_urlsafe(18)
        self._uploads[token] = file_id
        self.files[file_id] = {
            "id": file_id,
            "name": filename,
            "title": filename,
            "length": length,
            "size": None,
            "data": None,
            "alt_txt": p.get("alt_txt"),
            "snippet_type": p.get("snippet_type"),
            "completed": False,
            "channel_id": None,
            "channels": [],
            "thread_ts": None,
            "initial_comment": None,
        }
        upload_url = f"{self.root_url}/upload/v1/{token}"
        return {"ok": True, "upload_url": upload_url, "file_id": file_id}

    def upload(self, token: str, data: bytes) -> tuple[int, str]:
        """The raw-bytes POST to upload_url; Slack answers ``OK - <bytes>`` in plain text.

        Bytes that differ in number from the `length` given to files.getUploadURLExternal
        are refused and not kept, so a later files.completeUploadExternal finds no file.
        """
        file_id = self._uploads.get(token)
        if file_id is None:
            return 404, "Not Found"
        record = self.files[file_id]
        if len(data) != record["length"]:
            return 400, f"length mismatch: expected {record['length']}, got {len(data)}"
        record.update(data=data, size=len(data))
        return 200, f"OK - {len(data)}"

    def files_complete_upload_external(self, p: Params) -> dict[str, Any]:
        entries = p.get("files")
        if not isinstance(entries, list) or not entries:
            raise invalid_arguments("missing required field: files")
        records = [self._uploaded_file(entry) for entry in entries]
        channels = self._share_targets(p)
        thread_ts = as_str(p.get("thread_ts")) or None
        if thread_ts and len(channels) != 1:
            raise invalid_arguments("thread_ts requires exactly one channel")
        comment = as_str(p.get("initial_comment")) or None
        for record, entry in zip(records, entries, strict=True):
            record.update(
                title=entry.get("title") or record["name"],
                completed=True,
                channel_id=channels[0] if channels else None,
                channels=channels,
                thread_ts=thread_ts,
                initial_comment=comment,
            )
        content = {"text": comment or ""}
        if not comment and p.get("blocks") is not None:
            content["blocks"] = self._blocks(p["blocks"])
        file_objects = [self.file_object(r) for r in records]
        for channel in channels:
            self.store_message(
                channel, content, thread_ts=thread_ts, files=file_objects, upload=True
            )
        return {"ok": True, "files": copy.deepcopy(file_objects)}

    def _uploaded_file(self, entry: Any) -> dict[str, Any]:
        record = self.files.get(entry.get("id")) if isinstance(entry, dict) else None
        if record is None or record["data"] is None:
            raise ApiError("file_not_found")
        return record

    def _share_targets(self, p: Params) -> list[str]:
        raw = as_str(p.get("channel_id")) or as_str(p.get("channels"))
        channels = [self.resolve_channel(c) for c in raw.split(",") if c.strip()]
        for channel in channels:
            self._check_postable(channel)
        return channels

    def file_object(self, record: dict[str, Any]) -> dict[str, Any]:
        """Shape of a file in completeUploadExternal's answer (shares fill in asynchronously)."""
        name = record["name"]
        ext = name.rsplit(".", 1)[-1].lower() if "." in name else "binary"
        url = f"https://files.slack.com/files-pri/{self.team.id}-{record['id']}/{name}"
        return {
            "id": record["id"],
            "created": 1_700_000_000,
            "timestamp": 1_700_000_000,
            "name": name,
            "title": record["title"],
            "mimetype": mimetypes.guess_type(name)[0] or "application/octet-stream",
            "filetype": ext,
            "pretty_type": ext.upper(),
            "user": self.team.bot_user_id,
            "user_team": self.team.id,
            "editable": False,
            "size": record["size"],
            "mode": "hosted",
            "is_external": False,
            "external_type": "",
            "is_public": False,
            "public_url_shared": False,
            "display_as_bot": False,
            "username": "",
            "url_private": url,
            "url_private_download": url.rsplit("/", 1)[0] + f"/download/{name}",
            "permalink": f"{self.url}files/{self.team.bot_user_id}/{record['id']}/{name}",
            "comments_count": 0,
            "shares": {},
            "channels": [],
            "groups": [],
            "ims": [],
            "has_more_shares": False,
            "file_access": "visible",
        }

    # ----------------------------------------------------------------- response_url

    def respond(self, path: str, body: Any) -> tuple[int, dict[str, Any]]:
        """POSTs to a response_url minted by inbound: post, replace or delete."""
        match = RESPONSE_URL_RE.match(path)
        if match is None:
            return 404, {"ok": False, "error": "invalid_url"}
        uses = self._response_url_uses[path] = self._response_url_uses.get(path, 0) + 1
        if uses > RESPONSE_URL_MAX_USES:
            return 404, {"ok": False, "error": "used_url"}
        if not isinstance(body, dict):
            return 400, {"ok": False, "error": "invalid_payload"}
        channel, ts = match.group(3), match.group(4)
        owner = self._response_url_owners.get(path, {})
        try:
            self._respond(channel, ts, body, owner)
        except ApiError as err:
            return 400, err.body()
        self.changed()
        return 200, {"ok": True}

    def _respond(
        self, channel: str, ts: str | None, body: dict[str, Any], owner: dict[str, Any]
    ) -> None:
        """`owner`: who the response_url was minted for, and the thread they acted in."""
        original = self.messages.get((channel, ts)) if ts else None
        ephemeral = self.ephemeral(channel, ts) if ts and original is None else None
        if flag(body.get("delete_original")):
            if original is not None:
                del self.messages[(channel, original["ts"])]
            elif ephemeral is not None:
                self.ephemerals.remove(ephemeral)
            return
        content = self.content(body)
        self._require_body(content)
        if flag(body.get("replace_original")) and original is not None:
            self._apply_update(original, content)
        elif flag(body.get("replace_original")) and ephemeral is not None:
            ephemeral.update({"blocks": None, **content})
        elif body.get("response_type") == "in_channel":
            self.store_message(channel, content, thread_ts=as_str(body.get("thread_ts")) or None)
        else:
            record = {
                "channel": channel,
                "user": owner.get("user"),
                "ts": self.next_ts(),
                "thread_ts": owner.get("thread_ts"),
                **content,
            }
            self.ephemerals.append(record)

    def ephemeral(self, channel: str, ts: str) -> dict[str, Any] | None:
        return next((e for e in self.ephemerals if e["channel"] == channel and e["ts"] == ts), None)


def _kept_values(state: dict[str, Any], blocks: list[dict[str, Any]]) -> dict[str, Any]:
    """The typed values whose input block and action_id the new view still has."""
    kept: dict[str, Any] = {}
    values = state.get("values") or {}
    for block in blocks:
        element = block.get("element") if block.get("type") == "input" else None
        block_values = values.get(block.get("block_id"), {})
        if isinstance(element, dict) and element.get("action_id") in block_values:
            action_id = element["action_id"]
            kept[block["block_id"]] = {action_id: block_values[action_id]}
    return kept
