"""The HTTP surface: Slack's events URL, HeyGen's webhook, and the health check."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .app import build_app
from .body_limit import BodySizeLimit
from .config import Settings
from .sandbox_webhook import subscribe_to_sandbox
from .services import Services, start_services, stop_services
from .slack_guard import rejection
from .webhook import handle_webhook


def create_http_app(settings: Settings) -> Starlette:
    """An ASGI app whose lifespan starts and stops every background service."""
    state: dict[str, object] = {}

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        services = await start_services(settings)
        await subscribe_to_sandbox(services)
        state["services"] = services
        state["slack"] = AsyncSlackRequestHandler(build_app(services))
        try:
            yield
        finally:
            await stop_services(services)

    async def slack_events(request: Request) -> Response:
        refused = await rejection(request, settings.slack_signing_secret or "")
        return refused or await state["slack"].handle(request)  # type: ignore[attr-defined]

    async def heygen_webhook(request: Request) -> Response:
        return await handle_webhook(request, state["services"])  # type: ignore[arg-type]

    async def healthz(_: Request) -> Response:
        services: Services = state["services"]  # type: ignore[assignment]
        health = await services.health()
        return JSONResponse(health, status_code=200 if health["ok"] else 503)

    return Starlette(
        lifespan=lifespan,
        middleware=[Middleware(BodySizeLimit)],
        routes=[
            Route("/slack/events", slack_events, methods=["POST"]),
            Route("/heygen/webhook", heygen_webhook, methods=["POST", "OPTIONS"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
    )
