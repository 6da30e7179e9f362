"""Assemble the sandbox: its parts (a `Sandbox`), and the Starlette app around them.

Layers, outermost first: request log → API key → idempotency → faults → routes. Auth comes
before idempotency so a replay never skips the key check; idempotency comes before faults so
an injected error is never kept as "the first answer".
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response

from . import admin, files, routes_v2, routes_v3, routes_webhooks
from .accounts import Accounts
from .auth import ApiKeyMiddleware
from .catalog import build_catalog
from .clock import Clock
from .context import Sandbox
from .errors import ApiError, error_response, for_status
from .faults import FaultMiddleware, FaultPlan
from .idempotency import IdempotencyMiddleware
from .links import LinkSigner
from .requestlog import RequestLog, RequestLogMiddleware
from .settings import SandboxSettings
from .store import Store
from .studio import Studio
from .webhooks import WebhookDispatcher


def create_app(settings: SandboxSettings) -> Starlette:
    """A HeyGen-compatible ASGI app; serve it with uvicorn (or use SandboxServer)."""
    sandbox = _build_sandbox(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await sandbox.webhooks.start()
        if sandbox.studio is not None:
            await sandbox.studio.start()
        try:
            yield
        finally:
            if sandbox.studio is not None:
                await sandbox.studio.stop()
            await sandbox.webhooks.stop()

    app = Starlette(
        routes=[
            *routes_v2.routes,
            *routes_v3.routes,
            *routes_webhooks.routes,
            *files.routes,
            *admin.routes,
        ],
        middleware=[
            Middleware(RequestLogMiddleware, log=sandbox.requests, clock=sandbox.clock),
            Middleware(ApiKeyMiddleware, sandbox=sandbox),
            Middleware(IdempotencyMiddleware, store=sandbox.store, clock=sandbox.clock),
            Middleware(FaultMiddleware, sandbox=sandbox),
        ],
        exception_handlers={
            ApiError: _api_error,
            HTTPException: _http_error,
            Exception: _unexpected_error,
        },
        lifespan=lifespan,
    )
    app.state.sandbox = sandbox
    return app


def _build_sandbox(settings: SandboxSettings) -> Sandbox:
    store = Store(settings.state_path)
    clock = Clock()
    signer = LinkSigner(store.secret("file_links"))
    accounts = Accounts(store, build_catalog(settings.avatars, settings.voices), settings)
    webhooks = WebhookDispatcher(store, clock, signer, settings.public_url)
    studio = None
    if settings.render == "real":
        studio = Studio(
            store, clock, accounts.catalog_of, settings.state_path, on_finish=webhooks.wake
        )
    return Sandbox(
        settings=settings,
        accounts=accounts,
        store=store,
        clock=clock,
        signer=signer,
        requests=RequestLog(),
        webhooks=webhooks,
        faults=FaultPlan(settings.faults) if settings.faults else None,
        studio=studio,
    )


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(request.url.path, exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    error = for_status(exc.status_code)
    if exc.status_code == 404:
        error.message = f"No route for {request.method} {request.url.path}"
    return error_response(request.url.path, error)


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    return error_response(request.url.path, for_status(500))
