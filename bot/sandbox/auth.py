"""`X-Api-Key` on API paths: which account a request belongs to, or HeyGen's 401.

Without any configured key every key (or none) is the default account, so the bot can run
against the sandbox with no setup. Once a key is configured (`SANDBOX_API_KEY`,
`SANDBOX_API_KEYS`, `POST /_sandbox/accounts`), only configured keys are accepted and each
reaches its own account. File links and `/_sandbox/` are never key-checked (links are
signed). `POST /_sandbox/api_key` changes the default account's key while running, as
revoking a key at HeyGen (and issuing it again) would.
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from .accounts import ACCOUNT_SCOPE_KEY
from .errors import ApiError, error_response

API_PREFIXES = ("/v1/", "/v2/", "/v3/")


class ApiKeyMiddleware:
    def __init__(self, app: ASGIApp, sandbox: Any) -> None:
        self.app = app
        self.sandbox = sandbox

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and path.startswith(API_PREFIXES):
            given = next((v for k, v in scope["headers"] if k.lower() == b"x-api-key"), None)
            found = self.sandbox.accounts.for_request(given.decode("latin-1") if given else None)
            if isinstance(found, str):
                answer = error_response(path, ApiError(401, "unauthorized", found))
                await answer(scope, receive, send)
                return
            scope[ACCOUNT_SCOPE_KEY] = found
        await self.app(scope, receive, send)
