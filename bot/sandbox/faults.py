"""Injected failures, so clients can be tested against a flaky HeyGen.

A plan (settings `faults`, or `POST /_sandbox/faults`) looks like::

    {"rates": {"429": 0.1, "500": 0.1, "reset": 0.05, "timeout": 0.05, "malformed_json": 0.05},
     "paths": ["/v3/videos"], "seed": 1, "timeout_seconds": 30, "retry_after": 1,
     "next": [{"path_prefix": "/v3/videos", "method": "POST", "fault": "500", "times": 2}]}

`next` rules fire first, in order, each `times` times (a rule with `account` only for
requests whose key is that account's, by name: one HeyGen account can be made slow while
another is not); then `rates` are drawn (seeded, so a
run is repeatable) for requests under one of `paths` (default: every API and file path).
Faults: any HTTP status 400-599 as a string (HeyGen's error body; 429 adds Retry-After),
`reset` (the connection is dropped with no answer), `timeout` (the request is handled but
the answer is held for `timeout_seconds`, longer than a client waits), `malformed_json`
(200 with a truncated JSON body; the request is not handled), `lost` (the request is
handled, then the connection is dropped: the work is done but the answer never arrives),
`hang` (the request waits, not yet handled, until `POST /_sandbox/faults/release` or
`hang_seconds`, then is handled; a test holds a call this way instead of racing a clock).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .accounts import ACCOUNT_SCOPE_KEY
from .errors import error_response, for_status

NAMED_FAULTS = ("reset", "timeout", "malformed_json", "lost", "hang")
ADMIN_PREFIX = "/_sandbox"
BROKEN_JSON = b'{"error": null, "data": {"video_id": "'

Abort = Callable[[Any], bool]


def _check_fault(fault: Any) -> str:
    text = str(fault)
    if text in NAMED_FAULTS or (text.isdigit() and 400 <= int(text) <= 599):
        return text
    raise ValueError(f"unknown fault {fault!r}: use an HTTP status 400-599 or {NAMED_FAULTS}")


@dataclass
class NextFault:
    path_prefix: str
    method: str | None
    fault: str
    times: int
    account: str | None = None  # only requests reaching this account (by name)

    def matches(self, method: str, path: str, account: str | None) -> bool:
        return (
            path.startswith(self.path_prefix)
            and self.method in (None, method)
            and self.account in (None, account)
        )


class FaultPlan:
    """Which requests fail and how; `pick` is called once per request."""

    def __init__(self, data: dict[str, Any]) -> None:
        if not isinstance(data, dict):
            raise ValueError("a fault plan must be a JSON object")
        self.source = data
        self.rates = {_check_fault(k): float(v) for k, v in (data.get("rates") or {}).items()}
        if any(r < 0 for r in self.rates.values()) or sum(self.rates.values()) > 1:
            raise ValueError("fault rates must be >= 0 and add up to at most 1")
        paths = data.get("paths")
        self.paths = tuple(str(p) for p in paths) if paths else None
        self.rng = random.Random(data.get("seed"))
        self.timeout_seconds = float(data.get("timeout_seconds", 30.0))
        self.retry_after = int(data.get("retry_after", 1))
        self.hang_seconds = float(data.get("hang_seconds", 300.0))
        self.next = [self._rule(r) for r in data.get("next") or []]

    @staticmethod
    def _rule(raw: Any) -> NextFault:
        if not isinstance(raw, dict) or "fault" not in raw:
            raise ValueError("each `next` rule needs at least a `fault`")
        method, account = raw.get("method"), raw.get("account")
        return NextFault(
            path_prefix=str(raw.get("path_prefix", "/")),
            method=str(method).upper() if method else None,
            fault=_check_fault(raw["fault"]),
            times=max(1, int(raw.get("times", 1))),
            account=str(account) if account else None,
        )

    def pick(self, method: str, path: str, account: str | None = None) -> str | None:
        """The fault for this request, if any; `account`: the name its key reaches."""
        for rule in self.next:
            if rule.matches(method, path, account):
                rule.times -= 1
                if rule.times == 0:
                    self.next.remove(rule)
                return rule.fault
        if not self.rates or (self.paths and not path.startswith(self.paths)):
            return None
        draw, edge = self.rng.random(), 0.0
        for fault, rate in self.rates.items():
            edge += rate
            if draw < edge:
                return fault
        return None

    def describe(self) -> dict[str, Any]:
        return {
            **self.source,
            "next": [r.__dict__ for r in self.next],
        }


class HeldRequests:
    """Requests stopped by a `hang` fault until the test lets them go."""

    def __init__(self) -> None:
        self._gate: asyncio.Event | None = None
        self.count = 0

    async def hold(self, seconds: float) -> None:
        """Wait for `release` (at most `seconds`)."""
        if self._gate is None:
            self._gate = asyncio.Event()
        gate = self._gate
        self.count += 1
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(gate.wait(), timeout=seconds)
        finally:
            self.count -= 1

    def release(self) -> int:
        """Let every held request go on; return how many there were."""
        held, gate, self._gate = self.count, self._gate, None
        if gate is not None:
            gate.set()
        return held


class FaultMiddleware:
    """Applies the sandbox's current plan to every non-admin request."""

    def __init__(self, app: ASGIApp, sandbox: Any) -> None:
        self.app = app
        self.sandbox = sandbox

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        plan: FaultPlan | None = self.sandbox.faults
        path = scope.get("path", "")
        if scope["type"] != "http" or plan is None or path.startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        account = scope.get(ACCOUNT_SCOPE_KEY)
        fault = plan.pick(scope["method"], path, account.name if account else None)
        if fault is None:
            await self.app(scope, receive, send)
            return
        scope["sandbox.fault"] = fault
        if fault == "reset":
            await self._reset(scope, send)
        elif fault == "timeout":
            await self._late(scope, receive, send, plan.timeout_seconds)
        elif fault == "malformed_json":
            await _raw(send, 200, BROKEN_JSON)
        elif fault == "lost":
            await self.app(scope, receive, _discard)
            await self._reset(scope, send)
        elif fault == "hang":
            await self.sandbox.held.hold(plan.hang_seconds)
            await self.app(scope, receive, send)
        else:
            answer = error_response(path, for_status(int(fault), plan.retry_after))
            await answer(scope, receive, send)

    async def _reset(self, scope: Scope, send: Send) -> None:
        """Drop the connection; without the server's help, cut the answer short instead."""
        abort: Abort | None = self.sandbox.abort_connection
        if abort and abort(scope.get("client")):
            await asyncio.sleep(0.05)  # let the server notice before this request returns
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"512")],
            }
        )
        await send({"type": "http.response.body", "body": BROKEN_JSON, "more_body": True})
        # Returning mid-answer makes the server close the connection.

    async def _late(self, scope: Scope, receive: Receive, send: Send, seconds: float) -> None:
        """Handle the request now, answer after `seconds` (the client has given up by then)."""
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        await self.app(scope, receive, hold)
        await asyncio.sleep(seconds)
        for message in held:
            await send(message)


def abort_transport(transport: Any) -> None:
    """Close a connection with a TCP reset (SO_LINGER 0) rather than a polite FIN."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


async def _discard(message: Message) -> None:
    """Where a `lost` answer goes."""


async def _raw(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
