"""`Idempotency-Key` on v3 POSTs: a repeat gets the first answer, never a second video.

Only a successful (2xx, valid JSON) answer is kept, for 24 h; errors, injected faults and
rate limits are not, so a retry after them really retries. A repeat that arrives while the
first request is still being handled gets 409 `request_in_progress`. This layer sits outside
the fault layer, so a `timeout` fault (answer held back) shows the in-progress window.
"""

from __future__ import annotations

import json
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .accounts import ACCOUNT_SCOPE_KEY
from .clock import Clock
from .errors import ApiError, error_response, invalid
from .store import Store, StoredAnswer

KEY_FORMAT = re.compile(r"^[A-Za-z0-9_\-:.]{1,255}$")


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, store: Store, clock: Clock) -> None:
        self.app = app
        self.store = store
        self.clock = clock
        self.running: set[str] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = _key(scope)
        if key is None:
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if not KEY_FORMAT.match(key):
            message = "Idempotency-Key must be 1-255 characters of A-Z a-z 0-9 _ - : ."
            await error_response(path, invalid("Idempotency-Key", message))(scope, receive, send)
            return
        # Keys are per account, as at HeyGen: two accounts may well use the same job id.
        slot = f"POST {path} {key} {scope[ACCOUNT_SCOPE_KEY].name}"
        stored = self.store.answer(slot, self.clock.now())
        if stored:
            await _replay(stored, send)
        elif slot in self.running:
            message = "A request with this Idempotency-Key is still being processed"
            busy = ApiError(409, "request_in_progress", message)
            await error_response(path, busy)(scope, receive, send)
        else:
            await self._first(slot, scope, receive, send)

    async def _first(self, slot: str, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the request once; keep a good answer before the client can see it."""
        self.running.add(slot)
        status, content_type, chunks = 0, "application/json", []

        async def capture(message: Message) -> None:
            nonlocal status, content_type
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = dict(message.get("headers", []))
                content_type = headers.get(b"content-type", b"application/json").decode()
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    self._keep(slot, StoredAnswer(status, b"".join(chunks), content_type))
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            self.running.discard(slot)

    def _keep(self, slot: str, answer: StoredAnswer) -> None:
        self.running.discard(slot)
        if 200 <= answer.status < 300 and _is_json(answer.body):
            self.store.keep_answer(slot, self.clock.now(), answer)


def _key(scope: Scope) -> str | None:
    if scope["type"] != "http" or scope["method"] != "POST" or not scope["path"].startswith("/v3/"):
        return None
    raw = next((v for k, v in scope["headers"] if k.lower() == b"idempotency-key"), None)
    return None if raw is None else raw.decode("latin-1")


def _is_json(body: bytes) -> bool:
    try:
        json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False
    return True


async def _replay(answer: StoredAnswer, send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": answer.status,
            "headers": [
                (b"content-type", answer.content_type.encode()),
                (b"content-length", str(len(answer.body)).encode()),
                (b"idempotent-replayed", b"true"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": answer.body})
