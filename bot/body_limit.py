"""A cap on request body size, enforced before any route reads the body.

Slack's largest payloads (a modal submission with every field filled) are a few tens of
kilobytes and HeyGen's events are smaller still, so anything near a megabyte is hostile or
broken. Refusing it here with a plain 413 keeps a huge body out of memory, out of JSON
parsers and out of the signature check.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 1024 * 1024
TOO_LARGE = b'{"error": "payload too large"}'


class BodySizeLimit:
    """ASGI middleware: 413 for bodies over `max_bytes`, declared or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._declared(scope) > self.max_bytes:
            await _too_large(send)
            return
        buffered: list[Message] = []
        size = 0
        while True:  # read it all now, counting, so nothing downstream sees an oversize body
            message = await receive()
            buffered.append(message)
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                await _too_large(send)
                return
            if message["type"] != "http.request" or not message.get("more_body"):
                break
        await self.app(scope, _replay(buffered, receive), send)

    @staticmethod
    def _declared(scope: Scope) -> int:
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                return int(value) if value.isdigit() else 0
        return 0


def _replay(buffered: list[Message], receive: Receive) -> Receive:
    """Hand the already-read body on, then fall back to the server (for disconnects)."""

    async def replay() -> Message:
        return buffered.pop(0) if buffered else await receive()

    return replay


async def _too_large(send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(TOO_LARGE)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": TOO_LARGE})
