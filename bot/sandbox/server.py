"""Serving the sandbox with uvicorn: in the caller's event loop, in a thread, or until Ctrl-C.

The server binds its own socket (port 0 = any free port), keeps uvicorn quiet (warnings
only, no access log, no takeover of signal handlers or logging config), and lends the app a
way to drop a connection, which the `reset` fault needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn
from starlette.applications import Starlette

from .app import Sandbox, create_app
from .faults import abort_transport
from .settings import SandboxSettings

START_TIMEOUT = 30.0


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to whoever embeds it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _aborter(server: uvicorn.Server) -> Callable[[Any], bool]:
    def abort(client: Any) -> bool:
        if not client:
            return False
        for connection in list(server.server_state.connections):
            if getattr(connection, "client", None) == tuple(client):
                abort_transport(connection.transport)
                return True
        return False

    return abort


def _bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket. IPPROTO_TCP matters: without it asyncio skips TCP_NODELAY on
    accepted connections, and every answer stalls ~40 ms on Nagle + delayed ACK."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    return sock


def _url_host(host: str) -> str:
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


class SandboxServer:
    """One sandbox served by uvicorn inside the current event loop."""

    def __init__(self, settings: SandboxSettings, host: str = "127.0.0.1", port: int = 0) -> None:
        self.settings = settings
        self.host = host
        self.port = port
        self.url = ""
        self.app: Starlette = create_app(settings)
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def sandbox(self) -> Sandbox:
        return self.app.state.sandbox

    async def start(self) -> str:
        """Bind, start serving, and return the base URL once requests are accepted.

        A busy port raises OSError before anything runs (and releases the state file), so a
        caller can retry with another SandboxServer on port 0.
        """
        try:
            sock = _bind(self.host, self.port)
        except OSError:
            self.sandbox.store.close()
            raise
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            log_config=None,
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=1,
        )
        server = _EmbeddedServer(config)
        self.sandbox.abort_connection = _aborter(server)
        self._server = server
        self._task = asyncio.create_task(server.serve(sockets=[sock]), name="heygen-sandbox")
        while not server.started:
            if self._task.done():
                sock.close()
                self._task.result()
                raise RuntimeError("the HeyGen sandbox failed to start")
            await asyncio.sleep(0.005)
        self.port = sock.getsockname()[1]
        self.url = f"http://{_url_host(self.host)}:{self.port}"
        return self.url

    async def stop(self) -> None:
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._server = self._task = None
        self.sandbox.store.close()


class RunningSandbox:
    """A sandbox serving from its own thread and event loop (tests, CLI)."""

    def __init__(
        self, server: SandboxServer, loop: asyncio.AbstractEventLoop, thread: threading.Thread
    ) -> None:
        self.server = server
        self._loop = loop
        self._thread = thread

    @property
    def url(self) -> str:
        return self.server.url

    def stop(self, timeout: float = 10.0) -> None:
        if not self._thread.is_alive():
            return
        future = asyncio.run_coroutine_threadsafe(self.server.stop(), self._loop)
        future.result(timeout)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)

    def __enter__(self) -> RunningSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_in_thread(
    settings: SandboxSettings, host: str = "127.0.0.1", port: int = 0
) -> RunningSandbox:
    """Start a sandbox on a daemon thread; returns once it accepts requests."""
    ready = threading.Event()
    outcome: dict[str, Any] = {}

    def run() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            server = SandboxServer(settings, host, port)
            loop.run_until_complete(server.start())
        except BaseException as exc:  # handed to the starting thread
            outcome["error"] = exc
            ready.set()
            loop.close()
            return
        outcome["server"], outcome["loop"] = server, loop
        ready.set()
        try:
            loop.run_forever()
        finally:
            _close_loop(loop)

    thread = threading.Thread(target=run, name="heygen-sandbox", daemon=True)
    thread.start()
    if not ready.wait(START_TIMEOUT):
        raise RuntimeError("the HeyGen sandbox did not start in time")
    if "error" in outcome:
        raise outcome["error"]
    return RunningSandbox(outcome["server"], outcome["loop"], thread)


def _close_loop(loop: asyncio.AbstractEventLoop) -> None:
    pending = asyncio.all_tasks(loop)
    for task in pending:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()


def serve_forever(
    settings: SandboxSettings,
    host: str = "127.0.0.1",
    port: int = 4010,
    announce: Callable[[str], None] = print,
) -> None:
    """Serve until Ctrl-C or SIGTERM; for `python -m bot sandbox`."""

    async def main() -> None:
        server = SandboxServer(settings, host, port)
        url = await server.start()
        announce(f"HeyGen sandbox listening on {url}")
        stopped = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stopped.set)
        try:
            await stopped.wait()
        finally:
            await server.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
