"""The HTTP surface: Slack's events URL, HeyGen's webhook, and the health check."""

from __future__ import annotations

import contextlib
import logging
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
from .startup import SlackIdentity, announce
from .webhook import handle_webhook

log = logging.getLogger(__name__)


def create_http_app(settings: Settings, identity: SlackIdentity | None = None) -> Starlette:
    """An ASGI app whose lifespan starts and stops every background service.

    `identity`: `auth.test`'s answer when `python -m bot` asked before serving; without
    it the lifespan asks. Whoever stops the server may set `app.state.stop_deadline`
    (a `time.monotonic()` value) so the drain ends within the grace counted from SIGTERM.
    """
    state: dict[str, object] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        services = await start_services(settings, identity)
        await subscribe_to_sandbox(services)
        announce(services)
        state["services"] = app.state.services = services
        state["slack"] = AsyncSlackRequestHandler(build_app(services))
        try:
            yield
        finally:
            await stop_services(services, getattr(app.state, "stop_deadline", None))

    async def slack_events(request: Request) -> Response:
        refused = await rejection(request, settings.slack_signing_secret or "")
        if refused:
            return refused
        try:
            return await state["slack"].handle(request)  # type: ignore[attr-defined]
        except Exception as error:  # never a 500 and a traceback per Slack request
            log.error("Slack request failed: %s: %s", type(error).__name__, error)
            return Response(status_code=503, headers={"Retry-After": "1"})

    async def heygen_webhook(request: Request) -> Response:
        return await handle_webhook(request, state["services"])  # type: ignore[arg-type]

    async def healthz(_: Request) -> Response:
        """200 or 503 with the reason; Services.health never raises."""
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
