"""`python -m bot playground`: the whole product on one machine, in a browser.

One process runs the Slack stand-in with its web page on 127.0.0.1:PORT, the real bot in
HTTP mode on a free loopback port (the same server code as `python -m bot`), and the
embedded HeyGen sandbox. The bot gets a token and signing secret made up for this run and
SLACK_API_URL pointing at the stand-in; nothing listens beyond loopback or calls out.

The stand-in keeps its Slack in memory for the life of the process, so the bot's database
does too: a temporary folder, deleted at exit. A database that outlived the stand-in would
hold jobs whose Slack messages no longer exist.
"""

from __future__ import annotations

import logging
import secrets
import socket
import tempfile
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from ..config import SLACK_SETTINGS, ConfigError, load_settings
from .team import configure
from .web_api import SlackStandIn

log = logging.getLogger("bot.startup")

LOOPBACK = "127.0.0.1"


def run_playground(env: Mapping[str, str], *, implicit: bool) -> int:
    """Serve the playground until SIGTERM/SIGINT; `implicit`: chosen for want of settings."""
    from ..logs import setup_logging
    from ..server import serve_http

    token, secret = f"xoxb-playground-{secrets.token_hex(12)}", secrets.token_hex(16)
    made_up = {"SLACK_BOT_TOKEN": token, "SLACK_SIGNING_SECRET": secret, "SLACK_APP_TOKEN": ""}
    settings = load_settings({**env, **made_up})  # every other setting as the user set it
    standin = _start_standin(settings.port)
    try:
        with tempfile.TemporaryDirectory(prefix="heygen-playground-") as folder:
            bot_socket = _loopback_socket()
            bot_port = bot_socket.getsockname()[1]
            settings = replace(
                settings,
                slack_api_url=standin.url,
                port=bot_port,
                database_path=str(Path(folder) / "heygen_bot.db"),
            )
            setup_logging(settings)
            _say_what_runs(env, implicit)
            standin.tokens.clear()
            standin.tokens.add(token)
            configure(standin.workspace)
            standin.serve_page(f"http://{LOOPBACK}:{bot_port}/slack/events", secret)
            page = f"{standin.root_url}/"
            serve_http(
                settings, sock=bot_socket, on_started=lambda: log.info("Playground: open %s", page)
            )
    finally:
        standin.stop()
    return 0


def _start_standin(port: int) -> SlackStandIn:
    try:
        return SlackStandIn(host=LOOPBACK, port=port)
    except OSError as error:
        raise ConfigError(
            f"PORT {port} cannot be used for the playground: {error.strerror}"
        ) from None


def _loopback_socket() -> socket.socket:
    """IPPROTO_TCP explicitly: with proto=0 asyncio skips TCP_NODELAY (~40 ms a reply)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind((LOOPBACK, 0))
    return sock


def _say_what_runs(env: Mapping[str, str], implicit: bool) -> None:
    """The first log line: that this is the playground, and how to leave it."""
    if implicit:
        log.info(
            "playground: no Slack settings (%s), so the bot runs against a local Slack "
            "stand-in in your browser; set them to use a real workspace",
            ", ".join(SLACK_SETTINGS),
        )
    else:
        log.info("playground: the bot runs against a local Slack stand-in in your browser")
    ignored = [name for name in (*SLACK_SETTINGS, "DATABASE_PATH") if env.get(name)]
    if ignored:
        log.info(
            "playground: %s not used here (the stand-in's Slack and the bot's database "
            "last as long as this process)",
            ", ".join(ignored),
        )
