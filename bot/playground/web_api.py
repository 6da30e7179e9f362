"""SlackStandIn: a real loopback HTTP server that speaks the Slack Web API.

The app under test keeps its real ``WebClient``/``AsyncWebClient``; only ``base_url`` points
here (``SLACK_API_URL=fake.url``). Running over real HTTP means slack_sdk's own encoding, retry
handlers and error mapping are exercised, so the fake accepts requests exactly as slack_sdk
sends them (JSON for chat.*/views.*, form fields holding JSON strings elsewhere, GET with a query
string from the async client) and answers the way Slack does, including HTTP 429 +
``Retry-After``. Every request is recorded as a ``SlackCall`` for assertions.

Besides ``/api/<method>`` it serves the ``upload_url`` handed out by
``files.getUploadURLExternal`` (recorded as method ``"upload"``) and the ``response_url``s minted
by ``inbound`` (recorded as method ``"response_url"``).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import email.parser
import email.policy
import json
import random
import secrets
import socket
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .inbound import TEAM_ID, USER_ID
from .installs import CODE_TTL, MultiTeam
from .page import PlaygroundPage
from .workspace import TOKEN_ERRORS, ApiError, Workspace

JSON_FIELDS = frozenset(
    {"attachments", "blocks", "chunks", "files", "metadata", "outputs", "unfurls", "view"}
)
RATE_LIMIT_ERRORS = frozenset({"ratelimited", "rate_limited"})

Predicate = Callable[["SlackCall"], bool]


@dataclass(frozen=True)
class SlackCall:
    """One request the fake received; ``response`` is None when the connection was dropped."""

    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    at: float
    status: int = 200
    response: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return bool(self.response and self.response.get("ok"))

    @property
    def error(self) -> str | None:
        return self.response.get("error") if self.response else None


@dataclass(frozen=True)
class _Fault:
    error: str | None
    status: int
    retry_after: int
    drop_connection: bool = False
    after_handling: bool = False  # Slack did the work, then the answer was lost
    delay: float = 0.0  # Slack does the work and answers normally, this many seconds late


@dataclass
class _Queued:
    fault: _Fault
    remaining: int
    where: Callable[[dict[str, Any]], bool] | None = None  # only calls with such params


@dataclass
class Hold:
    """Calls that wait in the fake until `release()`: a slow Slack, under the test's control.

    `arrived` is set when the first held call comes in; held calls are then served as usual.
    """

    method: str
    where: Callable[[dict[str, Any]], bool] | None
    remaining: int
    arrived: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)

    def release(self) -> None:
        self.released.set()


@dataclass
class _Reply:
    status: int
    body: dict[str, Any] | str | None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to hold the answer (the call is recorded at once)

    @property
    def dropped(self) -> bool:
        return self.body is None


def _make_fault(
    error: str | None, status: int | None, retry_after: int, drop_connection: bool
) -> _Fault:
    """Fill in whichever of error/status was omitted the way Slack pairs them."""
    if drop_connection:
        return _Fault(None, 0, retry_after, drop_connection=True)
    if status is None:
        status = 429 if error is None or error in RATE_LIMIT_ERRORS else 200
    if error is None:
        error = {429: "ratelimited"}.get(status, "internal_error" if status >= 500 else "failed")
    return _Fault(error, status, retry_after)


def _fault_for_kind(kind: str, retry_after: int) -> _Fault:
    """Keys of set_fault_rates: an error code, an HTTP status ("500"), or "drop"."""
    if kind in ("drop", "drop_connection"):
        return _make_fault(None, None, retry_after, True)
    if kind == "drop_after":
        return _Fault(None, 0, retry_after, drop_connection=True, after_handling=True)
    if kind.isdigit():
        return _make_fault(None, int(kind), retry_after, False)
    return _make_fault(kind, None, retry_after, False)


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    if "chunked" in handler.headers.get("Transfer-Encoding", "").lower():
        return _read_chunked(handler)
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length else b""


def _read_chunked(handler: BaseHTTPRequestHandler) -> bytes:
    chunks = []
    while size := int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16):
        chunks.append(handler.rfile.read(size))
        handler.rfile.readline()
    while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
        pass
    return b"".join(chunks)


def _parse_multipart(body: bytes, content_type: str) -> dict[str, Any]:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.default).parsebytes(head + body)
    params: dict[str, Any] = {}
    for part in message.iter_parts():  # type: ignore[attr-defined]
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        params[name] = payload if part.get_filename() else payload.decode("utf-8", "replace")
    return params


def _decode_json_fields(params: dict[str, Any]) -> None:
    """Form-encoded calls carry blocks/view/metadata as JSON strings; tests want objects."""
    for key in JSON_FIELDS & params.keys():
        value = params[key]
        if isinstance(value, str) and value[:1] in ("[", "{"):
            with contextlib.suppress(ValueError):
                params[key] = json.loads(value)


def _parse_params(query: str, body: bytes, content_type: str) -> tuple[dict[str, Any], bool]:
    """Merge query string and body; raises ApiError like Slack for malformed JSON."""
    params: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    is_json = content_type.startswith("application/json")
    if is_json:
        try:
            decoded = json.loads(body or b"{}")
        except ValueError:
            raise ApiError("invalid_json") from None
        if not isinstance(decoded, dict):
            raise ApiError("json_not_object")
        params.update(decoded)
    elif content_type.startswith("multipart/form-data"):
        params.update(_parse_multipart(body, content_type))
    elif body:
        params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    _decode_json_fields(params)
    return params, is_json


def _brief(params: Mapping[str, Any], limit: int = 160) -> str:
    text = json.dumps(params, default=lambda o: f"<{type(o).__name__}>")
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _Server(ThreadingHTTPServer):
    """Tracks live connections so stop() can cut keep-alive clients off like a real outage."""

    daemon_threads = True
    fake: SlackStandIn

    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(address, _Handler)
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()

    def close_connections(self) -> None:
        with self.connections_lock:
            live = list(self.connections)
        for sock in live:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    """Thin adapter: all behaviour lives in SlackStandIn._serve."""

    protocol_version = "HTTP/1.1"  # keep-alive, as aiohttp and urllib expect from Slack
    disable_nagle_algorithm = True  # headers and body are separate writes: avoid 40 ms stalls
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        super().finish()

    def do_POST(self) -> None:
        self.server.fake._serve(self)

    def do_GET(self) -> None:
        self.server.fake._serve(self)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request stderr logging; every call is recorded instead."""


class SlackStandIn(MultiTeam):
    """Loopback Slack Web API. Starts on construction; use as a context manager or stop().

    It hosts the default workspace (T0001, ``workspace``) and any added with ``add_team``;
    a call is served by the workspace its token belongs to (see ``installs``).
    """

    def __init__(
        self, *, host: str = "127.0.0.1", port: int = 0, trigger_ttl: float | None = 3.0
    ) -> None:
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._calls: list[SlackCall] = []
        self._faults: dict[str, deque[_Queued]] = {}
        self._holds: list[Hold] = []
        self._rates: dict[str, dict[str, float]] = {}
        self._rate_retry_after = 1
        self._rng = random.Random()
        self._started_at = time.time()
        self._stopped = False
        self.internal_errors: list[str] = []
        self._server = _Server((host, port))
        self._server.fake = self
        self.root_url = f"http://{host}:{self._server.server_address[1]}"
        self.url = f"{self.root_url}/api/"
        self.workspace = Workspace(self.root_url, trigger_ttl=trigger_ttl)
        self.oauth_code_ttl = CODE_TTL  # seconds an OAuth code stays good (Slack: ten minutes)
        self._served_scopes = threading.local()  # the X-OAuth-Scopes of this thread's call
        self._init_teams()
        self.page: PlaygroundPage | None = None
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()

    # ----------------------------------------------------------------- lifecycle

    def __enter__(self) -> SlackStandIn:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop serving and drop open keep-alive connections; idempotent."""
        if self._stopped:
            return
        with self._changed:
            self._stopped = True
            self._changed.notify_all()  # the page's event streams end
        for hold in self._holds:
            hold.release()
        if self.page is not None:
            self.page.close()
        self._server.shutdown()
        self._server.server_close()
        self._server.close_connections()
        self._thread.join(timeout=5)

    def reset(self) -> None:
        """Forget calls, state (messages, views, files, not_in_channel) and all faults."""
        with self._lock:
            self._calls.clear()
            self._faults.clear()
            for hold in self._holds:
                hold.release()
            self._holds.clear()
            self._rates.clear()
            self.internal_errors.clear()
            self.workspace = Workspace(self.root_url, trigger_ttl=self.workspace.trigger_ttl)
            self._init_teams()  # one team again, no apps, codes or OAuth tokens

    # ----------------------------------------------------------------- the playground page

    def serve_page(self, events_url: str, signing_secret: str) -> PlaygroundPage:
        """Serve the playground's page and API here, sending what people do to `events_url`
        (the app's Request URL) signed with `signing_secret`. The workspace's links
        (permalinks, auth.test's url) then lead to this page, never to slack.com."""
        self.workspace.url = f"{self.root_url}/"
        self.page = PlaygroundPage(self, events_url, signing_secret)
        return self.page

    @property
    def lock(self) -> threading.RLock:
        """Held while the workspace changes; read it under this lock."""
        return self._lock  # type: ignore[return-value]

    @property
    def stopped(self) -> bool:
        return self._stopped

    def wait_for_change(self, seen: int | None, timeout: float) -> int | None:
        """The workspace's version once it differs from `seen` (or after `timeout`);
        None once the stand-in stops."""
        with self._changed:
            self._changed.wait_for(
                lambda: self._stopped or self.workspace.version != seen, timeout=timeout
            )
            return None if self._stopped else self.workspace.version

    # ----------------------------------------------------------------- configuration

    @property
    def not_in_channel(self) -> set[str]:
        """Channel ids the bot is not a member of: posting there answers ``not_in_channel``."""
        return self.workspace.not_in_channel

    @not_in_channel.setter
    def not_in_channel(self, channels: Iterable[str]) -> None:
        self.workspace.not_in_channel = set(channels)

    @property
    def tokens(self) -> set[str]:
        """Tokens that authenticate; anything else is ``invalid_auth``."""
        return self.workspace.tokens

    @property
    def scopes(self) -> set[str]:
        """The bot token's scopes (manifest.yml's by default); remove some to narrow the install."""
        return self.workspace.scopes

    def revoke_token(self, error: str = "token_revoked") -> None:
        """Every call now answers `error` (token_revoked, invalid_auth, account_inactive...)."""
        if error not in TOKEN_ERRORS:
            raise ValueError(f"not a token error: {error}")
        with self._lock:
            self.workspace.token_error = error

    def restore_token(self) -> None:
        with self._lock:
            self.workspace.token_error = None

    def hold(
        self,
        method: str,
        *,
        where: Callable[[dict[str, Any]], bool] | None = None,
        times: int = 1,
    ) -> Hold:
        """The next `times` calls to `method` (or "upload") wait until the hold is released."""
        hold = Hold(method, where, times)
        with self._lock:
            self._holds.append(hold)
        return hold

    def _wait_if_held(self, method: str, params: dict[str, Any]) -> None:
        with self._lock:
            waiting = [h for h in self._holds if h.method == method and h.remaining > 0]
            hold = next((h for h in waiting if h.where is None or h.where(params)), None)
            if hold is None:
                return
            hold.remaining -= 1
        hold.arrived.set()
        hold.released.wait(120)

    @property
    def users(self) -> dict[str, dict[str, Any]]:
        """Per-user overrides merged into users.info (``profile`` is merged key by key)."""
        return self.workspace.users

    @property
    def channels(self) -> dict[str, dict[str, Any]]:
        """Per-channel overrides merged into conversations.info (``name``, ``is_archived``...)."""
        return self.workspace.channels

    @property
    def trigger_ttl(self) -> float | None:
        return self.workspace.trigger_ttl

    @trigger_ttl.setter
    def trigger_ttl(self, seconds: float | None) -> None:
        """None disables trigger expiry (e.g. when stepping through a test in a debugger)."""
        self.workspace.trigger_ttl = seconds

    def fail_next(
        self,
        method: str,
        error: str | None = None,
        *,
        status: int | None = None,
        retry_after: int = 1,
        times: int = 1,
        drop_connection: bool = False,
        after_handling: bool = False,
        where: Callable[[dict[str, Any]], bool] | None = None,
    ) -> None:
        """Make the next ``times`` calls to ``method`` ("*" = any) fail.

        Defaults to a rate limit (HTTP 429 + Retry-After). ``status=500`` alone gives a server
        error; ``error="channel_not_found"`` alone gives Slack's usual HTTP 200 ``ok: false``.
        ``after_handling=True`` with ``drop_connection=True``: Slack did the work, then the
        answer was lost. ``where`` limits the fault to calls whose params it accepts.
        """
        if times < 1:
            raise ValueError("times must be >= 1")
        fault = _make_fault(error, status, retry_after, drop_connection)
        if after_handling:
            fault = _Fault(None, 0, retry_after, drop_connection=True, after_handling=True)
        with self._lock:
            self._faults.setdefault(method, deque()).append(_Queued(fault, times, where))

    def slow_next(
        self,
        method: str,
        seconds: float,
        *,
        times: int = 1,
        where: Callable[[dict[str, Any]], bool] | None = None,
    ) -> None:
        """The next ``times`` calls to ``method`` ("upload" = the upload_url POST) are handled,
        then answered ``seconds`` late: a client with a shorter timeout gives up on an answer
        Slack has already acted on."""
        if times < 1:
            raise ValueError("times must be >= 1")
        with self._lock:
            self._faults.setdefault(method, deque()).append(
                _Queued(_Fault(None, 0, 0, delay=seconds), times, where)
            )

    def set_fault_rates(
        self,
        rates: Mapping[str, Mapping[str, float]],
        *,
        seed: int | None = None,
        retry_after: int = 1,
    ) -> None:
        """Random faults per method ("*" = any), e.g. ``{"chat.postMessage": {"ratelimited": 0.2,
        "500": 0.1, "drop": 0.05}}``; "drop_after" does the work, then loses the answer.
        Replaces earlier rates; ``{}`` turns them off."""
        with self._lock:
            self._rates = {method: dict(kinds) for method, kinds in rates.items()}
            self._rng = random.Random(seed)
            self._rate_retry_after = retry_after

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._rates.clear()

    # ----------------------------------------------------------------- inspection

    @property
    def calls(self) -> list[SlackCall]:
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str) -> list[SlackCall]:
        with self._lock:
            return [c for c in self._calls if c.method == method]

    def messages(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Current messages (after updates/deletes), oldest first, each including ``channel``,
        ``ts``, ``thread_ts``, ``text``, ``blocks`` and ``metadata`` (None when absent)."""
        with self._lock:
            found = [
                copy.deepcopy(m)
                for workspace in self._teams.values()  # channel ids are unique across teams
                for m in workspace.messages.values()
                if channel is None or m["channel"] == channel
            ]
        return sorted(found, key=lambda m: float(m["ts"]))

    def thread_replies(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        """Replies in a thread, without the parent."""
        return [
            m
            for m in self.messages(channel)
            if m.get("thread_ts") == thread_ts and m["ts"] != thread_ts
        ]

    def add_message(
        self,
        channel: str,
        text: str = "",
        *,
        user: str = USER_ID,
        thread_ts: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
        team_id: str = TEAM_ID,
    ) -> dict[str, Any]:
        """Seed a message (e.g. a human's) to thread under or run a message shortcut on."""
        with self._lock:
            workspace = self._teams[team_id]
            content = {"text": text, "blocks": blocks}
            message = workspace.store_message(channel, content, user=user, thread_ts=thread_ts)
            return workspace.public(message)

    @property
    def views(self) -> list[dict[str, Any]]:
        """Current view objects (latest version of each), in the order they were opened."""
        with self._lock:
            return copy.deepcopy(list(self.workspace.views.values()))

    @property
    def files(self) -> list[dict[str, Any]]:
        """Upload records: id, name, title, length (declared), size and data (received),
        completed, channel_id, channels, thread_ts, initial_comment."""
        with self._lock:
            return copy.deepcopy(list(self.workspace.files.values()))

    @property
    def ephemerals(self) -> list[dict[str, Any]]:
        """chat.postEphemeral and ephemeral response_url messages (they leave no history)."""
        with self._lock:
            return copy.deepcopy(self.workspace.ephemerals)

    # ----------------------------------------------------------------- waiting

    def _matching(self, method: str, predicate: Predicate | None) -> list[SlackCall]:
        def matches(call: SlackCall) -> bool:
            try:
                return predicate is None or bool(predicate(call))
            except (KeyError, IndexError, TypeError, AttributeError):
                return False  # e.g. params["thread_ts"] on a call without one

        with self._lock:
            return [c for c in self._calls if c.method == method and matches(c)]

    def wait_for(
        self,
        method: str,
        predicate: Predicate | None = None,
        count: int = 1,
        timeout: float = 30.0,  # generous: only a failing test waits this long
    ) -> list[SlackCall]:
        """Block until ``count`` calls to ``method`` match; returns all matches so far.

        Blocks the thread: from async tests whose app shares the loop, use async_wait_for.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(found := self._matching(method, predicate)) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(self._timeout_report(method, count, found, timeout))
                self._changed.wait(min(remaining, 0.1))
        return found

    async def async_wait_for(
        self,
        method: str,
        predicate: Predicate | None = None,
        count: int = 1,
        timeout: float = 30.0,  # generous: only a failing test waits this long
    ) -> list[SlackCall]:
        """wait_for that yields to the event loop while polling."""
        deadline = time.monotonic() + timeout
        while len(found := self._matching(method, predicate)) < count:
            if time.monotonic() >= deadline:
                raise AssertionError(self._timeout_report(method, count, found, timeout))
            await asyncio.sleep(0.01)
        return found

    def _timeout_report(
        self, method: str, count: int, found: list[SlackCall], timeout: float
    ) -> str:
        calls = self.calls
        lines = [
            f"SlackStandIn: waited {timeout}s for {count} matching {method!r} call(s), "
            f"got {len(found)}; {len(calls)} call(s) recorded (last 40 shown):"
        ]
        for call in calls[-40:]:
            outcome = "dropped" if call.response is None else call.error or "ok"
            offset = call.at - self._started_at
            lines.append(
                f"  +{offset:7.3f}s {call.method:<30} {call.status} {outcome:<18} "
                f"{_brief(call.params)}"
            )
        lines.extend(f"  internal error: {e}" for e in self.internal_errors[-3:])
        return "\n".join(lines)

    # ----------------------------------------------------------------- request handling

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        url = urlsplit(handler.path)
        headers = {k.lower(): v for k, v in handler.headers.items()}
        body = _read_body(handler)
        self._served_scopes.value = None
        if self.page is not None and self.page.handles(url.path):
            self.page.serve(handler, url.path, url.query, body)
            self._notify()
            return
        try:
            if url.path.startswith("/api/"):
                reply = self._api(url.path[len("/api/") :], url.query, body, headers)
            elif url.path == "/oauth/v2/authorize":
                reply = self._authorize(url.query, headers)
            elif url.path.startswith("/upload/v1/"):
                reply = self._upload(url.path.rsplit("/", 1)[-1], body, headers)
            else:
                reply = self._response_url(url.path, body, headers)
        except Exception:  # a bug in the fake must surface in the test, not hang it
            detail = traceback.format_exc()
            self.internal_errors.append(detail)
            reply = _Reply(
                500, {"ok": False, "error": "fake_slack_internal_error", "detail": detail}
            )
        if reply.delay:
            time.sleep(reply.delay)
        scopes = self._served_scopes.value
        scopes = self.workspace.scopes if scopes is None else scopes
        reply.headers.setdefault("X-OAuth-Scopes", ",".join(sorted(scopes)))
        self._write(handler, reply)
        self._notify()

    def _notify(self) -> None:
        """Wake whoever waits on a change (wait_for, the page's event streams)."""
        with self._changed:
            self._changed.notify_all()

    def _record(
        self, method: str, params: dict[str, Any], headers: dict[str, str], reply: _Reply
    ) -> None:
        response = reply.body if isinstance(reply.body, dict) else None
        if isinstance(reply.body, str):
            response = {"ok": reply.status == 200, "body": reply.body}
        call = SlackCall(method, params, headers, time.time(), reply.status, response)
        with self._changed:
            self._calls.append(call)
            self._changed.notify_all()

    def _take_fault(self, method: str, params: dict[str, Any] | None = None) -> _Fault | None:
        with self._lock:
            for key in (method, "*"):
                queue = self._faults.get(key)
                if queue and (queue[0].where is None or queue[0].where(params or {})):
                    queued = queue[0]
                    queued.remaining -= 1
                    if queued.remaining <= 0:
                        queue.popleft()
                    return queued.fault
            rates = self._rates.get(method) or self._rates.get("*")
            if not rates:
                return None
            roll, threshold = self._rng.random(), 0.0
            for kind, rate in rates.items():
                threshold += rate
                if roll < threshold:
                    return _fault_for_kind(kind, self._rate_retry_after)
        return None

    @staticmethod
    def _fault_reply(fault: _Fault) -> _Reply:
        if fault.drop_connection:
            return _Reply(0, None)
        headers = {"Retry-After": str(fault.retry_after)} if fault.status == 429 else {}
        return _Reply(fault.status, {"ok": False, "error": fault.error}, headers)

    def _authorize(self, query: str, headers: dict[str, str]) -> _Reply:
        """The browser's stop at Slack's OAuth page (see MultiTeam.authorize)."""
        status, extra, page = self.authorize(query)
        reply = _Reply(status, page, extra)
        params = dict(parse_qsl(query, keep_blank_values=True))
        answer = {"location": extra.get("Location")} if status == 302 else {"error": page}
        self._record("oauth.v2.authorize", params, headers, _Reply(status, answer))
        return reply

    def _token(self, headers: dict[str, str], params: dict[str, Any], is_json: bool) -> str:
        """Bearer header, or a ``token`` form field; Slack ignores ``token`` in JSON bodies."""
        auth = headers.get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        body_token = params.pop("token", None)
        if token is None and not is_json:
            token = body_token
        if not token:
            raise ApiError("not_authed")
        return token

    def _api(self, method: str, query: str, body: bytes, headers: dict[str, str]) -> _Reply:
        content_type = headers.get("content-type", "")
        params: dict[str, Any] = {}
        fault = None
        try:
            params, is_json = _parse_params(query, body, content_type)
            self._wait_if_held(method, params)
            fault = self._take_fault(method, params)
            if fault is not None and fault.delay:
                reply = _Reply(200, self._dispatch(method, params, headers, is_json))
                reply.delay = fault.delay
            elif fault is not None and fault.after_handling:
                self._dispatch(method, params, headers, is_json)
                reply = self._fault_reply(fault)
            elif fault is not None:
                params.pop("token", None)
                reply = self._fault_reply(fault)
            else:
                reply = _Reply(200, self._dispatch(method, params, headers, is_json))
        except ApiError as err:
            reply = _Reply(200, err.body())
        if is_json_without_charset(content_type) and reply.status == 200 and reply.body:
            _warn_missing_charset(reply.body)  # type: ignore[arg-type]
        self._record(method, params, headers, reply)
        return reply

    def _dispatch(
        self, method: str, params: dict[str, Any], headers: dict[str, str], is_json: bool
    ) -> dict[str, Any]:
        if method == "oauth.v2.access":  # the app's credentials, not a token
            params.pop("token", None)
            with self._lock:
                return self.oauth_v2_access(params, headers)
        if method not in self.workspace.handlers and method != "apps.uninstall":
            params.pop("token", None)
            raise ApiError("unknown_method", req_method=method)
        with self._lock:
            token = self._token(headers, params, is_json)
            workspace, org_token = self.workspace_for(token, params)
            self._served_scopes.value = set(workspace.scopes)
            if method == "apps.uninstall":
                return self.apps_uninstall(params, token)
            if org_token is not None and method == "auth.test":
                return self.org_auth_test(org_token)
            workspace.require_scope_of(method)
            return workspace.handlers[method](params)

    def _upload(self, token: str, body: bytes, headers: dict[str, str]) -> _Reply:
        self._wait_if_held("upload", {"upload_id": token, "length": len(body)})
        fault = self._take_fault("upload")
        if fault is not None and not fault.delay:
            reply = self._fault_reply(fault)
        else:
            with self._lock:
                status, text = self._upload_to_any(token, body)
            reply = _Reply(status, text, {"Content-Type": "text/plain; charset=utf-8"})
            reply.delay = fault.delay if fault is not None else 0.0
        self._record("upload", {"upload_id": token, "length": len(body)}, headers, reply)
        return reply

    def _upload_to_any(self, token: str, body: bytes) -> tuple[int, str]:
        """upload_url tokens are unique: the workspace that handed it out takes the bytes."""
        status, text = 404, "Not Found"
        for workspace in self.workspaces.values():
            status, text = workspace.upload(token, body)
            if status != 404:
                break
        return status, text

    def _response_url(self, path: str, body: bytes, headers: dict[str, str]) -> _Reply:
        fault = self._take_fault("response_url")
        try:
            payload: Any = json.loads(body or b"null")
        except ValueError:
            payload = dict(parse_qsl(body.decode("utf-8", "replace")))
        if fault is not None:
            reply = self._fault_reply(fault)
        else:
            with self._lock:
                status, answer = self.team_of_path(path).respond(path, payload)
            reply = _Reply(status, answer)
        params = dict(payload) if isinstance(payload, dict) else {"body": payload}
        self._record(
            "response_url", {**params, "response_url": self.root_url + path}, headers, reply
        )
        return reply

    def _write(self, handler: BaseHTTPRequestHandler, reply: _Reply) -> None:
        if reply.dropped:
            handler.close_connection = True
            with contextlib.suppress(OSError):
                handler.connection.shutdown(socket.SHUT_RDWR)
            return
        if isinstance(reply.body, str):
            data = reply.body.encode()
        else:
            data = json.dumps(reply.body).encode()
        handler.send_response(reply.status)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-Slack-Req-Id": secrets.token_hex(16),
            **reply.headers,
            "Content-Length": str(len(data)),
        }
        for name, value in headers.items():
            handler.send_header(name, value)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client left
            handler.end_headers()
            handler.wfile.write(data)


def is_json_without_charset(content_type: str) -> bool:
    return content_type.startswith("application/json") and "charset" not in content_type


def _warn_missing_charset(body: dict[str, Any]) -> None:
    """Slack warns (but succeeds) when a JSON request omits its charset."""
    if body.get("ok"):
        body["warning"] = "missing_charset"
        body.setdefault("response_metadata", {}).setdefault("warnings", []).append(
            "missing_charset"
        )
