"""The playground's web page and its JSON API, served by the stand-in beside its Web API.

What a person does on the page becomes what Slack would send the app: a signed request to
the bot's `/slack/events` (slash command, block_actions, view_submission…), built by
`inbound` with a trigger_id and response_url the stand-in minted for that person. The
app's answers are applied as Slack applies them (ephemeral command replies, a modal's
response_action, options for a select). Routes: `/` and `/static/<file>` (the page),
`/playground/state` (what one person sees), `/playground/events` (server-sent versions),
`/playground/files/<id>/<name>` (uploads, with Range), `/archives/…` and `/files/…` (the
workspace's permalinks, which lead back into the page), and POST `/playground/send`,
`/playground/interact`, `/playground/home` (what people do).
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import mimetypes
import re
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, unquote

import httpx

from ..app_manifest import APP_NAME, BOT_EVENTS, COMMANDS, SHORTCUTS
from . import inbound
from .block_kit import validate_options
from .team import CHANNELS, PEOPLE, TEAM_NAME, person
from .workspace import ApiError, Workspace

if TYPE_CHECKING:
    from .web_api import SlackStandIn

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
ACK_SECONDS = 3.0  # Slack gives an app 3 s to acknowledge, then tells the person it failed
KEEPALIVE_SECONDS = 15.0
RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")
CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html"}
MESSAGE_EVENTS = {"C": "message.channels", "G": "message.groups", "D": "message.im"}
REQUIRED = "Please complete this required field."  # Slack's words, before the app hears of it
NOT_A_COMMAND = (
    '{command} is not a valid command. In Slack, all messages that start with the "/" '
    "character are interpreted as commands.\n\nIf you are trying to send a message that "
    'starts with a "/" character, try adding a space before it.'
)


class Refused(Exception):
    """What Slack would tell the person instead (`{"ok": false, "error": …}`)."""


class PlaygroundPage:
    """Serves the page for one stand-in and forwards what people do to the bot."""

    def __init__(self, standin: SlackStandIn, events_url: str, signing_secret: str) -> None:
        self.standin = standin
        self.events_url = events_url
        self.secret = signing_secret
        self.http = httpx.Client(timeout=ACK_SECONDS)
        self.actions: dict[str, Callable[[str, dict[str, Any]], dict[str, Any]]] = {
            "block_actions": self._block_actions,
            "view_submission": self._view_submission,
            "view_closed": self._view_closed,
            "block_suggestion": self._block_suggestion,
            "shortcut": self._shortcut,
            "message_action": self._message_action,
        }

    @property
    def workspace(self) -> Workspace:
        return self.standin.workspace

    @staticmethod
    def handles(path: str) -> bool:
        return path == "/" or path.startswith(("/static/", "/playground/", "/archives/", "/files/"))

    def close(self) -> None:
        self.http.close()

    # ----------------------------------------------------------------- routing

    def serve(self, handler: BaseHTTPRequestHandler, path: str, query: str, body: bytes) -> None:
        """One page request; POSTs answer JSON, errors included, with 200 as the page expects."""
        if handler.command == "POST":
            self._post(handler, path, body)
        elif path == "/playground/state":
            me = (parse_qs(query).get("as") or [inbound.USER_ID])[0]
            _send_json(handler, self.state(me))
        elif path == "/playground/events":
            self._events(handler)
        elif path.startswith("/playground/files/"):
            self._file(handler, path)
        elif path.startswith(("/archives/", "/files/")):
            _redirect(handler, self._permalink_target(path, query))
        else:
            self._static(handler, "index.html" if path == "/" else path[len("/static/") :])

    def _post(self, handler: BaseHTTPRequestHandler, path: str, body: bytes) -> None:
        try:
            request = json.loads(body or b"{}")
            if not isinstance(request, dict):
                raise ValueError("not an object")
        except ValueError:
            _send_json(handler, {"ok": False, "error": "invalid_json"}, status=400)
            return
        user = str(request.get("as") or "")
        try:
            if person(user) is None:
                raise Refused("user_not_found")
            if path == "/playground/send":
                answer = self._send(user, request)
            elif path == "/playground/home":
                answer = self._home(user)
            elif path == "/playground/interact" and request.get("type") in self.actions:
                answer = self.actions[request["type"]](user, request)
            else:
                _send_json(handler, {"ok": False, "error": "unknown_route"}, status=404)
                return
        except Refused as refused:
            answer = {"ok": False, "error": str(refused)}
        except (KeyError, TypeError, ValueError) as error:
            answer = {"ok": False, "error": f"invalid_request: {error}"}
        _send_json(handler, answer)

    # ----------------------------------------------------------------- state

    def state(self, me: str) -> dict[str, Any]:
        """Everything the page shows `me`, read under the stand-in's lock."""
        ws = self.workspace
        channels = [
            {"id": c.id, "name": c.name, "is_im": False, "is_member": ws.is_member(c.id)}
            for c in CHANNELS
        ]
        channels.append({"id": inbound.dm_channel_id(me), "name": APP_NAME, "is_im": True})
        ids = {c["id"] for c in channels}
        with self.standin.lock:
            found = sorted(
                (m for (cid, _), m in ws.messages.items() if cid in ids),
                key=lambda m: float(m["ts"]),
            )
            modal, home = ws.open_modal(me), ws.home_view(me)
            top = modal and {"id": modal[0]["id"], "view": modal[0], "stack_depth": modal[1]}
            state = {
                "version": ws.version,
                "team": {"id": inbound.TEAM_ID, "name": TEAM_NAME, "domain": inbound.TEAM_DOMAIN},
                "app": {
                    "name": APP_NAME,
                    "bot_user_id": inbound.BOT_USER_ID,
                    "app_id": inbound.API_APP_ID,
                },
                "me": me,
                "people": [{"id": p.id, "name": p.name, "real_name": p.real_name} for p in PEOPLE],
                "channels": channels,
                "messages": {cid: [] for cid in ids},
                "threads": {},
                "ephemerals": [_ephemeral(e) for e in ws.ephemerals if e.get("user") == me],
                "modal": top,
                "home": home and {"id": home["id"], "view": home},
                "commands": list(COMMANDS),
                "shortcuts": list(SHORTCUTS),
            }
            for message in found:
                shown, parent = _message(message), message.get("thread_ts")
                if not parent or parent == message["ts"] or message.get("subtype"):
                    state["messages"][message["channel"]].append(shown)
                if parent and parent != message["ts"]:
                    state["threads"].setdefault(f"{message['channel']}/{parent}", []).append(shown)
            return copy.deepcopy(state)

    def _events(self, handler: BaseHTTPRequestHandler) -> None:
        """Server-sent events: the version after each change, a comment line now and then."""
        handler.send_response(200)
        for name, value in (
            ("Content-Type", "text/event-stream; charset=utf-8"),
            ("Cache-Control", "no-cache"),
            ("Connection", "close"),
        ):
            handler.send_header(name, value)
        handler.close_connection = True
        seen: int | None = None
        with contextlib.suppress(OSError):
            handler.end_headers()
            while not self.standin.stopped:
                version = self.standin.wait_for_change(seen, KEEPALIVE_SECONDS)
                if version is None:
                    break
                line = f"data: {json.dumps({'version': version})}\n\n"
                handler.wfile.write(line.encode() if version != seen else b": keepalive\n\n")
                handler.wfile.flush()
                seen = version

    def _file(self, handler: BaseHTTPRequestHandler, path: str) -> None:
        """An uploaded file's bytes, with Range support so a <video> can play and seek."""
        parts = path.split("/")  # "", "playground", "files", id, name
        with self.standin.lock:
            record = self.workspace.files.get(parts[3]) if len(parts) == 5 else None
            ok = record and record["completed"] and record["name"] == unquote(parts[4])
            data: bytes = record["data"] if ok else b""  # type: ignore[index]
        if not ok:
            _send_bytes(handler, 404, b"file_not_found", "text/plain; charset=utf-8")
            return
        kind = mimetypes.guess_type(record["name"])[0] or "application/octet-stream"  # type: ignore[index]
        span = _range(handler.headers.get("Range"), len(data))
        if span is None:
            _send_bytes(handler, 200, data, kind)
        elif span == ():
            headers = {"Content-Range": f"bytes */{len(data)}"}
            _send_bytes(handler, 416, b"", kind, headers)
        else:
            start, end = span
            headers = {"Content-Range": f"bytes {start}-{end}/{len(data)}"}
            _send_bytes(handler, 206, data[start : end + 1], kind, headers)

    def _static(self, handler: BaseHTTPRequestHandler, name: str) -> None:
        file = (STATIC / name).resolve()
        if not file.is_relative_to(STATIC) or not file.is_file():
            _send_bytes(handler, 404, b"not found", "text/plain; charset=utf-8")
            return
        kind = CONTENT_TYPES.get(file.suffix) or mimetypes.guess_type(file.name)[0]
        kind = kind or "application/octet-stream"
        if kind.startswith("text/"):
            kind += "; charset=utf-8"
        _send_bytes(handler, 200, file.read_bytes(), kind, {"Cache-Control": "no-cache"})

    def _permalink_target(self, path: str, query: str) -> str:
        """Where a permalink of this workspace leads in the page: a reply's thread, or a
        message's thread when it has replies, else its conversation; an upload's bytes."""
        if path.startswith("/files/"):
            parts = path.split("/")  # "", "files", user, id, name
            return f"/playground/files/{'/'.join(parts[3:5])}" if len(parts) == 5 else "/"
        found = PERMALINK_RE.match(path)
        if not found:
            return "/"
        channel, ts = found[1], f"{found[2]}.{found[3]}"
        thread = (parse_qs(query).get("thread_ts") or [""])[0]
        if not TS_RE.match(thread):
            with self.standin.lock:
                message = self.workspace.messages.get((channel, ts)) or {}
            thread = ts if message.get("reply_count") else ""
        return f"/#{channel}/{thread}" if thread else f"/#{channel}"

    # ----------------------------------------------------------------- the composer

    def _send(self, user: str, request: dict[str, Any]) -> dict[str, Any]:
        channel, text = str(request["channel"]), str(request.get("text") or "")
        thread_ts = request.get("thread_ts") or None
        self._check_channel(user, channel)
        if text.startswith("/"):
            return self._command(user, channel, text, thread_ts)
        if not text.strip():
            raise Refused("no_text")
        with self.standin.lock:
            message = self.workspace.store_message(
                channel, {"text": text}, user=user, thread_ts=thread_ts
            )
            event = {**Workspace.public(message), "channel": channel, "event_ts": message["ts"]}
        if MESSAGE_EVENTS.get(channel[:1]) in BOT_EVENTS:
            event["channel_type"] = {"C": "channel", "G": "group", "D": "im"}[channel[:1]]
            self._deliver(inbound.event_callback(event, secret=self.secret))
        return {"ok": True, "ts": message["ts"]}

    def _command(self, user: str, channel: str, text: str, thread_ts: str | None) -> dict[str, Any]:
        command, _, rest = text.partition(" ")
        if command not in {c["command"] for c in COMMANDS}:
            raise Refused(NOT_A_COMMAND.format(command=command))
        with self.standin.lock:
            trigger = self.workspace.mint_trigger(user)
            reply_to = self.workspace.mint_response_url(user, channel, thread_ts=thread_ts)
        request = inbound.slash_command(
            rest.strip(),
            user_id=user,
            channel_id=channel,
            command=command,
            trigger_id=trigger,
            response_url=reply_to,
            secret=self.secret,
        )
        answer = self._deliver(request, failure=f"{command} failed with the error")
        if answer.content:
            self._command_reply(user, channel, thread_ts, answer)
        return {"ok": True}

    def _command_reply(
        self, user: str, channel: str, thread_ts: str | None, answer: httpx.Response
    ) -> None:
        """A command's immediate answer: in the channel, or shown to the person only."""
        try:
            body = answer.json()
        except ValueError:
            body = {"text": answer.text}
        if not isinstance(body, dict):
            return
        with self.standin.lock:
            content = self._content(body)
            if not content:
                return
            if body.get("response_type") == "in_channel":
                self.workspace.store_message(channel, content, thread_ts=thread_ts)
            else:
                ts = self.workspace.next_ts()
                record = {"channel": channel, "user": user, "ts": ts, "thread_ts": thread_ts}
                self.workspace.ephemerals.append({**record, **content})
                self.workspace.changed()

    def _content(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            return self.workspace.content(body)
        except ApiError as error:
            raise Refused(f"the app's answer was refused: {error.error}") from None

    def _home(self, user: str) -> dict[str, Any]:
        with self.standin.lock:
            view = copy.deepcopy(self.workspace.home_view(user))
        self._deliver(inbound.app_home_opened(user, view=view, secret=self.secret))
        return {"ok": True}

    # ----------------------------------------------------------------- interactions

    def _block_actions(self, user: str, request: dict[str, Any]) -> dict[str, Any]:
        action = dict(request["action"])
        with self.standin.lock:
            trigger = self.workspace.mint_trigger(user)
            if request.get("view_id"):
                view = self._view(user, str(request["view_id"]), home_too=True)
                if isinstance(request.get("state"), dict):
                    view["state"] = copy.deepcopy(request["state"])
                    self.workspace.views[view["id"]]["state"] = copy.deepcopy(request["state"])
                where: dict[str, Any] = {"view": view}
            else:
                where = self._on_message(user, request)
        signed = inbound.block_actions(
            [action], user_id=user, trigger_id=trigger, secret=self.secret, **where
        )
        self._deliver(signed)
        return {"ok": True}

    def _on_message(self, user: str, request: dict[str, Any]) -> dict[str, Any]:
        """block_actions' message fields: container, message (none when ephemeral), response_url."""
        channel, ts = str(request["channel"]), str(request["message_ts"])
        container: dict[str, Any] = {"type": "message", "message_ts": ts, "channel_id": channel}
        if request.get("ephemeral"):
            ephemeral = self.workspace.ephemeral(channel, ts)
            if ephemeral is None or ephemeral.get("user") != user:
                raise Refused("message_not_found")
            thread_ts, message = ephemeral.get("thread_ts"), None
        else:
            stored = self._message(user, channel, ts)
            thread_ts, message = stored.get("thread_ts"), Workspace.public(stored)
        container["is_ephemeral"] = message is None
        if thread_ts:
            container["thread_ts"] = thread_ts
        answer_in = _answer_thread(request, message or {"ts": ts, "thread_ts": thread_ts})
        reply_to = self.workspace.mint_response_url(user, channel, ts, answer_in)
        return {
            "container": container,
            "message": message,
            "channel_id": channel,
            "response_url": reply_to,
            "state_values": (request.get("state") or {}).get("values"),
        }

    def _view_submission(self, user: str, request: dict[str, Any]) -> dict[str, Any]:
        view_id = str(request["view_id"])
        with self.standin.lock:
            view = self._view(user, view_id)
            view["state"] = {"values": copy.deepcopy(request.get("values") or {})}
            self.workspace.views[view_id]["state"] = copy.deepcopy(view["state"])
            missing = _missing_required(view)
            if missing:  # Slack's client refuses these without asking the app
                return {"ok": True, "response_action": "errors", "errors": missing}
            trigger = self.workspace.mint_trigger(user)
        signed = inbound.view_submission(
            view["callback_id"],
            view["state"]["values"],
            view=view,
            user_id=user,
            trigger_id=trigger,
            secret=self.secret,
        )
        answer = self._deliver(signed)
        body: Any = None
        if answer.content:
            try:
                body = answer.json()
            except ValueError:
                raise Refused("We had some trouble connecting. Try again?") from None
        with self.standin.lock:
            try:
                applied = self.workspace.answer_submission(user, view_id, body)
            except ApiError as error:
                messages = error.extra.get("response_metadata", {}).get("messages", [])
                raise Refused("; ".join(messages) or error.error) from None
        return {"ok": True, **applied}

    def _view_closed(self, user: str, request: dict[str, Any]) -> dict[str, Any]:
        with self.standin.lock:
            view = self._view(user, str(request["view_id"]))
            closed = self.workspace.close_modals(user)
        if view.get("notify_on_close"):
            signed = inbound.view_closed(
                view, is_cleared=len(closed) > 1, user_id=user, secret=self.secret
            )
            self._deliver(signed)
        return {"ok": True}

    def _block_suggestion(self, user: str, request: dict[str, Any]) -> dict[str, Any]:
        with self.standin.lock:
            view = self._view(user, str(request["view_id"]), home_too=True)
        signed = inbound.block_suggestion(
            str(request["action_id"]),
            str(request["block_id"]),
            str(request.get("value") or ""),
            view=view,
            user_id=user,
            secret=self.secret,
        )
        try:
            body = self._deliver(signed).json()
        except ValueError:
            body = None
        if validate_options(body):  # Slack shows nothing when the options are not valid
            raise Refused("no_valid_options: " + "; ".join(validate_options(body)))
        return {"ok": True, **{k: body[k] for k in ("options", "option_groups") if k in body}}

    def _shortcut(self, user: str, request: dict[str, Any]) -> dict[str, Any]:
        callback_id = self._callback(request, "global")
        with self.standin.lock:
            trigger = self.workspace.mint_trigger(user)
        self._deliver(
            inbound.shortcut(callback_id, user_id=user, trigger_id=trigger, secret=self.secret)
        )
        return {"ok": True}

    def _message_action(self, user: str, request: dict[str, Any]) -> dict[str, Any]:
        callback_id = self._callback(request, "message")
        channel, ts = str(request["channel"]), str(request["message_ts"])
        with self.standin.lock:
            stored = self._message(user, channel, ts)
            message = Workspace.public(stored)
            trigger = self.workspace.mint_trigger(user)
            answer_in = _answer_thread(request, stored)
            reply_to = self.workspace.mint_response_url(user, channel, ts, answer_in)
        signed = inbound.message_shortcut(
            callback_id,
            message,
            channel,
            user_id=user,
            trigger_id=trigger,
            response_url=reply_to,
            secret=self.secret,
        )
        self._deliver(signed)
        return {"ok": True}

    # ----------------------------------------------------------------- lookups

    @staticmethod
    def _callback(request: dict[str, Any], kind: str) -> str:
        callback_id = str(request["callback_id"])
        if not any(s["type"] == kind and s["callback_id"] == callback_id for s in SHORTCUTS):
            raise Refused(f"no {kind} shortcut {callback_id!r} in the app's manifest")
        return callback_id

    def _check_channel(self, user: str, channel: str) -> None:
        if channel != inbound.dm_channel_id(user) and channel not in {c.id for c in CHANNELS}:
            raise Refused("channel_not_found")

    def _message(self, user: str, channel: str, ts: str) -> dict[str, Any]:
        self._check_channel(user, channel)
        message = self.workspace.messages.get((channel, ts))
        if message is None:
            raise Refused("message_not_found")
        return message

    def _view(self, user: str, view_id: str, *, home_too: bool = False) -> dict[str, Any]:
        """A copy of a view the person has open: the top of their modal stack, or Home."""
        ws = self.workspace
        top = ws.open_modal(user)
        home = ws.home_view(user) if home_too else None
        for view in (top[0] if top else None, home):
            if view is not None and view["id"] == view_id:
                return copy.deepcopy(view)
        raise Refused("view_not_found")

    def _deliver(
        self, signed: inbound.SignedRequest, failure: str = "The app did not respond:"
    ) -> httpx.Response:
        """POST to the bot as Slack does; Slack's words for an app that does not answer."""
        try:
            answer = inbound.send(self.http, signed, self.events_url, timeout=ACK_SECONDS)
        except httpx.TimeoutException:
            raise Refused(f'{failure} "operation_timeout"') from None
        except httpx.HTTPError:
            raise Refused(f'{failure} "dispatch_failed"') from None
        if answer.status_code != 200:
            raise Refused(f'{failure} "http_service_error" ({answer.status_code})')
        return answer


def _missing_required(view: dict[str, Any]) -> dict[str, str]:
    """Input blocks not marked optional that the person left empty."""
    values = view["state"]["values"]
    missing = {}
    for block in view.get("blocks") or []:
        if block.get("type") != "input" or block.get("optional"):
            continue
        element = block.get("element") or {}
        given = (values.get(block.get("block_id")) or {}).get(element.get("action_id")) or {}
        if not any(value not in (None, "", []) for key, value in given.items() if key != "type"):
            missing[block["block_id"]] = REQUIRED
    return missing


def _message(message: dict[str, Any]) -> dict[str, Any]:
    """A message as the page shows it: who wrote it, its content and files."""
    shown: dict[str, Any] = {"ts": message["ts"], "text": message.get("text") or ""}
    if message.get("thread_ts"):
        shown["thread_ts"] = message["thread_ts"]
    if message.get("bot_id"):
        shown.update(bot_id=message["bot_id"], username=APP_NAME)
    else:
        writer = person(message["user"])
        shown.update(user=message["user"], username=writer.real_name if writer else "")
    for key in ("blocks", "attachments", "subtype", "reply_count"):
        if message.get(key):
            shown[key] = message[key]
    if message.get("files"):
        shown["files"] = [_file(f) for f in message["files"]]
    shown["edited"] = bool(message.get("edited"))
    return shown


def _file(file: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": file["id"],
        "name": file["name"],
        "title": file["title"],
        "mimetype": file["mimetype"],
        "size": file.get("size"),
        "url": f"/playground/files/{file['id']}/{quote(file['name'])}",
    }


def _ephemeral(record: dict[str, Any]) -> dict[str, Any]:
    keys = ("channel", "thread_ts", "ts", "text", "blocks")
    return {k: record.get(k) for k in keys}


def _range(header: str | None, size: int) -> tuple[int, int] | tuple[()] | None:
    """None: the whole file; (): a range outside it (416); else the inclusive byte span."""
    match = RANGE_RE.match((header or "").strip())
    if match is None or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if first == "":
        start, end = max(0, size - int(last)), size - 1
    else:
        start, end = int(first), min(int(last) if last else size - 1, size - 1)
    return (start, end) if start <= end and start < size else ()


def _send_json(handler: BaseHTTPRequestHandler, body: Any, status: int = 200) -> None:
    data = json.dumps(body).encode()
    headers = {"Cache-Control": "no-store"}
    _send_bytes(handler, status, data, "application/json; charset=utf-8", headers)


def _answer_thread(request: dict[str, Any], message: dict[str, Any]) -> str | None:
    """Where an answer to `response_url` shows: a reply's thread; for a thread's parent,
    its thread only if the person acted on it there (the page says so), else the channel."""
    thread_ts = message.get("thread_ts")
    if thread_ts and thread_ts != message["ts"]:
        return str(thread_ts)
    return str(message["ts"]) if request.get("thread_ts") == message["ts"] else None


PERMALINK_RE = re.compile(r"^/archives/([A-Z0-9]+)/p(\d+)(\d{6})$")
TS_RE = re.compile(r"^\d+\.\d+$")


def _redirect(handler: BaseHTTPRequestHandler, location: str) -> None:
    _send_bytes(handler, 302, b"", "text/plain; charset=utf-8", {"Location": location})


def _send_bytes(
    handler: BaseHTTPRequestHandler,
    status: int,
    data: bytes,
    content_type: str,
    headers: dict[str, str] | None = None,
) -> None:
    handler.send_response(status)
    all_headers = {
        "Content-Type": content_type,
        "Accept-Ranges": "bytes",
        **(headers or {}),
        "Content-Length": str(len(data)),
    }
    for name, value in all_headers.items():
        handler.send_header(name, value)
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        handler.end_headers()
        handler.wfile.write(data)
