"""`X-Api-Key` on API paths: checked only when the sandbox was given a key.

Without a configured key any key (or none) is accepted, so the bot can run against the
sandbox with no setup. File links and `/_sandbox/` are never key-checked (links are signed).
`POST /_sandbox/api_key` changes the accepted key while running, as revoking a key at
HeyGen (and issuing it again) would.
"""

from __future__ import annotations

import hmac
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from .errors import ApiError, error_response

API_PREFIXES = ("/v1/", "/v2/", "/v3/")


class ApiKeyMiddleware:
    def __init__(self, app: ASGIApp, sandbox: Any) -> None:
        self.app = app
        self.sandbox = sandbox

    @property
    def api_key(self) -> str | None:
        return self.sandbox.api_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and self.api_key and path.startswith(API_PREFIXES):
            problem = self._problem(scope)
            if problem:
                answer = error_response(path, ApiError(401, "unauthorized", problem))
                await answer(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _problem(self, scope: Scope) -> str:
        given = next((v for k, v in scope["headers"] if k.lower() == b"x-api-key"), None)
        if not given:
            return "Missing API key: send it in the X-Api-Key header"
        if not hmac.compare_digest(given, (self.api_key or "").encode()):
            return "Invalid API key"
        return ""
