"""The HTTP surface: Slack's events URL, HeyGen's webhook, the health check and metrics."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import AsyncIterator, Callable

import uvicorn
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .app import build_app
from .body_limit import BodySizeLimit
from .config import ConfigError, Settings
from .metrics import CONTENT_TYPE
from .sandbox_webhook import subscribe_to_sandbox
from .services import Services, start_services, stop_services
from .slack_guard import rejection
from .startup import HTTP_HOST, SlackIdentity, announce
from .webhook import handle_webhook

log = logging.getLogger(__name__)


def create_http_app(
    settings: Settings, identity: SlackIdentity | None = None, host: str = HTTP_HOST
) -> Starlette:
    """An ASGI app whose lifespan starts and stops every background service.

    `identity`: `auth.test`'s answer when `python -m bot` asked before serving; without
    it the lifespan asks. `host`: where it listens, for the start-up lines. Whoever stops
    the server may set `app.state.stop_deadline` (a `time.monotonic()` value) so the drain
    ends within the grace counted from SIGTERM.
    """
    state: dict[str, object] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        services = await start_services(settings, identity)
        await subscribe_to_sandbox(services)
        announce(services, host)
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

    async def install_pages(request: Request) -> Response:
        """Distribution mode: Bolt's install page and OAuth redirect (no signature: a
        browser calls these; the OAuth state protects the redirect)."""
        try:
            return await state["slack"].handle(request)  # type: ignore[attr-defined]
        except Exception as error:
            log.error("install page failed: %s: %s", type(error).__name__, error)
            return Response("The install did not complete; try again.", status_code=503)

    async def heygen_webhook(request: Request) -> Response:
        return await handle_webhook(request, state["services"])  # type: ignore[arg-type]

    async def healthz(_: Request) -> Response:
        return await health_response(state["services"])  # type: ignore[arg-type]

    async def metrics(_: Request) -> Response:
        return await metrics_response(state["services"])  # type: ignore[arg-type]

    return Starlette(
        lifespan=lifespan,
        middleware=[Middleware(BodySizeLimit)],
        routes=[
            Route("/slack/events", slack_events, methods=["POST"]),
            Route("/heygen/webhook", heygen_webhook, methods=["POST", "OPTIONS"]),
            *(
                [
                    Route("/slack/install", install_pages, methods=["GET"]),
                    Route("/slack/oauth_redirect", install_pages, methods=["GET"]),
                ]
                if settings.distribution
                else []
            ),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ],
    )


def serve_http(
    settings: Settings,
    identity: SlackIdentity | None = None,
    *,
    sock: socket.socket | None = None,
    on_started: Callable[[], None] | None = None,
) -> None:
    """Serve until SIGTERM/SIGINT: on PORT on every interface, or on `sock` (already bound).

    On the signal: stop accepting, give in-flight work SHUTDOWN_GRACE_SECONDS, return.
    `on_started` runs once the services are up and the port accepts requests.
    """
    host = sock.getsockname()[0] if sock is not None else HTTP_HOST
    app = create_http_app(settings, identity, host)
    grace = settings.shutdown_grace_seconds

    class DrainingServer(uvicorn.Server):
        """On SIGTERM: stop accepting, give in-flight work the grace, then exit 0."""

        def handle_exit(self, sig: int, frame: object) -> None:
            if not hasattr(app.state, "stop_deadline"):
                app.state.stop_deadline = time.monotonic() + grace
            super().handle_exit(sig, frame)  # type: ignore[arg-type]
            self._captured_signals.clear()  # exit 0, not by re-raising the signal

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if on_started is not None and self.started and not self.should_exit:
                on_started()

    config = uvicorn.Config(
        app,
        host=HTTP_HOST,
        port=settings.port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=max(1, round(grace)),
    )
    DrainingServer(config).run(sockets=[sock] if sock is not None else None)


async def health_response(services: Services) -> Response:
    """/healthz: 200 when all is well, 503 naming what is not."""
    health = await services.health()
    return JSONResponse(health, status_code=200 if health["ok"] else 503)


async def metrics_response(services: Services) -> Response:
    """Prometheus' text format, read at this moment."""
    if services.metrics is None:
        return Response("metrics are off\n", status_code=404)
    return Response(await services.metrics.exposition(), media_type=CONTENT_TYPE)


class OpsServer:
    """Socket Mode has no HTTP surface of its own: /healthz and /metrics on METRICS_PORT.

    The port is taken when this is made, before anything else starts, so a busy port
    stops the bot with one clear line. It runs in the bot's event loop and leaves signal
    handling to the caller.
    """

    def __init__(self, port: int) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._socket.bind(("0.0.0.0", port))
        except OSError as error:
            self._socket.close()
            raise ConfigError(f"METRICS_PORT {port} cannot be used: {error.strerror}") from None
        self.port = self._socket.getsockname()[1]
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, services: Services) -> None:
        async def healthz(_: Request) -> Response:
            return await health_response(services)

        async def metrics(_: Request) -> Response:
            return await metrics_response(services)

        app = Starlette(
            routes=[
                Route("/healthz", healthz, methods=["GET"]),
                Route("/metrics", metrics, methods=["GET"]),
            ]
        )
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off")
        self._server = _InLoopServer(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[self._socket]))
        while not self._server.started and not self._task.done():
            await asyncio.sleep(0.01)
        if self._task.done():
            self._task.result()  # uvicorn could not start: say why
        log.info("metrics and health on port %d: /metrics, /healthz", self.port)

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
        self._socket.close()


class _InLoopServer(uvicorn.Server):
    """uvicorn inside a running program: the program's own signal handlers stay in place."""

    def capture_signals(self) -> contextlib.AbstractContextManager[None]:  # type: ignore[override]
        return contextlib.nullcontext()
