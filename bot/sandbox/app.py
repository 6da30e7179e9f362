"""Assemble the sandbox: one `Sandbox` holding its parts, and the Starlette app around it.

Layers, outermost first: request log → API key → idempotency → faults → routes. Auth comes
before idempotency so a replay never skips the key check; idempotency comes before faults so
an injected error is never kept as "the first answer".
"""

from __future__ import annotations

import contextlib
import math
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response

from . import admin, files, routes_v2, routes_v3, routes_webhooks
from .auth import ApiKeyMiddleware
from .catalog import Catalog, build_catalog
from .clock import Clock
from .errors import ApiError, error_response, for_status
from .faults import FaultMiddleware, FaultPlan
from .files import LinkSigner
from .idempotency import IdempotencyMiddleware
from .requestlog import RequestLog, RequestLogMiddleware
from .settings import SandboxSettings
from .store import Store
from .videos import Video, plan_from_script
from .webhooks import WebhookDispatcher

QUOTA_SECONDS = 100 * 3600.0


@dataclass
class Sandbox:
    """Everything one running sandbox knows; routes reach it as `request.app.state.sandbox`."""

    settings: SandboxSettings
    catalog: Catalog
    store: Store
    clock: Clock
    signer: LinkSigner
    requests: RequestLog
    webhooks: WebhookDispatcher
    faults: FaultPlan | None = None
    abort_connection: Callable[[Any], bool] | None = None  # set by SandboxServer

    def base_url(self, request: Request) -> str:
        """Where file links point: `public_url`, else the address the client used."""
        return self.settings.public_url or str(request.base_url).rstrip("/")

    def remaining_seconds(self) -> float:
        return max(0.0, QUOTA_SECONDS - self.store.used_seconds())

    def start_video(self, request: Request, body: dict[str, Any], **fields: Any) -> Video:
        """Queue a render, or 429 when `concurrency` videos are already rendering."""
        now = self.clock.now()
        busy, soonest = self.store.rendering(now)
        if busy >= self.settings.concurrency:
            wait = max(1, math.ceil(soonest - now)) if soonest else 5
            raise ApiError(
                429,
                "rate_limit_exceeded",
                f"Too many videos rendering at once (limit {self.settings.concurrency}); "
                f"retry after {wait} seconds",
                headers={"Retry-After": str(wait)},
            )
        plan = plan_from_script(fields["script"])
        seconds = (
            self.settings.render_seconds if plan.render_seconds is None else plan.render_seconds
        )
        video = Video(
            id=uuid.uuid4().hex,
            created_at=now,
            render_seconds=seconds,
            finish_at=None if plan.stall else now + seconds,
            base_url=self.base_url(request),
            failure=plan.failure,
            request=body,
            **fields,
        )
        self.store.add_video(video)
        self.webhooks.wake()
        return video


def create_app(settings: SandboxSettings) -> Starlette:
    """A HeyGen-compatible ASGI app; serve it with uvicorn (or use SandboxServer)."""
    sandbox = _build_sandbox(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await sandbox.webhooks.start()
        try:
            yield
        finally:
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
            Middleware(ApiKeyMiddleware, api_key=settings.api_key),
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
    return Sandbox(
        settings=settings,
        catalog=build_catalog(settings.avatars, settings.voices),
        store=store,
        clock=clock,
        signer=signer,
        requests=RequestLog(),
        webhooks=WebhookDispatcher(store, clock, signer, settings.public_url),
        faults=FaultPlan(settings.faults) if settings.faults else None,
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
