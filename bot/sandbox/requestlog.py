"""A log of the API requests the sandbox saw, for tests to assert what a client sent.

It records whether `X-Api-Key` was present, never its value.
"""

from __future__ import annotations

import json
from collections import deque
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .accounts import ACCOUNT_SCOPE_KEY
from .clock import Clock

ADMIN_PREFIX = "/_sandbox"
MAX_ENTRIES = 10_000


class RequestLog:
    def __init__(self) -> None:
        self.entries: deque[dict[str, Any]] = deque(maxlen=MAX_ENTRIES)
        self._seq = 0

    def add(self, entry: dict[str, Any]) -> dict[str, Any]:
        self._seq += 1
        entry = {"seq": self._seq, **entry}
        self.entries.append(entry)
        return entry

    def clear(self) -> int:
        count = len(self.entries)
        self.entries.clear()
        return count


class RequestLogMiddleware:
    """Outermost layer: sees every request, including ones a fault answers."""

    def __init__(self, app: ASGIApp, log: RequestLog, clock: Clock) -> None:
        self.app = app
        self.log = log
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        body, replay = await _buffer_body(receive)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        entry = self.log.add(
            {
                "at": self.clock.now(),
                "method": scope["method"],
                "path": scope["path"],
                "query": dict(parse_qsl(scope["query_string"].decode("latin-1"))),
                "json": _json_or_none(body),
                "api_key_present": bool(headers.get("x-api-key")),
                "idempotency_key": headers.get("idempotency-key"),
                "status": None,
                "fault": None,
                "account": None,
            }
        )

        async def record(message: Message) -> None:
            if message["type"] == "http.response.start":
                entry["status"] = message["status"]
            await send(message)

        try:
            await self.app(scope, replay, record)
        finally:
            entry["fault"] = scope.get("sandbox.fault")
            account = scope.get(ACCOUNT_SCOPE_KEY)
            entry["account"] = account.name if account else None


async def _buffer_body(receive: Receive) -> tuple[bytes, Receive]:
    """Read the whole body, and give inner layers a `receive` that hands it out again."""
    chunks: list[bytes] = []
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    body = b"".join(chunks)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


def _json_or_none(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
