"""A fake Slack Socket Mode server: the WebSocket end of `apps.connections.open`.

Slack sends envelopes (slash commands, interactivity) over the socket and the app acks
each `envelope_id`, optionally with a response payload; this server does the same, so a
test can drive the bot in Socket Mode exactly as in HTTP mode.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from typing import Any

from aiohttp import WSMsgType, web

from bot.playground.web_api import SlackStandIn

APP_TOKEN = "xapp-standin-not-a-real-token"


class SocketModeStandIn:
    """Serves one WebSocket at a time on 127.0.0.1 and records the app's acks."""

    def __init__(self, slack: SlackStandIn) -> None:
        self.acks: dict[str, dict[str, Any]] = {}
        self._socket: web.WebSocketResponse | None = None
        self._connected = threading.Event()
        self.disconnected = threading.Event()  # set when the app closes its socket
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()
        self._ready.wait(10)
        slack.workspace.tokens.add(APP_TOKEN)
        slack.workspace.socket_mode_url = f"ws://127.0.0.1:{self.port}/link"

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_get("/link", self._link)
        runner = web.AppRunner(app)
        self._loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._ready.set()
        self._loop.run_forever()

    async def _link(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        await socket.send_str(json.dumps({"type": "hello", "num_connections": 1}))
        self._socket = socket
        self._connected.set()
        async for message in socket:
            if message.type == WSMsgType.TEXT:
                ack = json.loads(message.data)
                self.acks[ack.get("envelope_id", "")] = ack
        self.disconnected.set()
        return socket

    def wait_connected(self, timeout: float = 15) -> None:
        assert self._connected.wait(timeout), "the bot never opened the socket"

    def send(self, kind: str, payload: dict[str, Any]) -> str:
        """Deliver an envelope ("slash_commands", "interactive", "events_api")."""
        envelope_id = uuid.uuid4().hex
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": kind != "events_api",
        }
        assert self._socket is not None
        asyncio.run_coroutine_threadsafe(
            self._socket.send_str(json.dumps(envelope)), self._loop
        ).result(5)
        return envelope_id
