"""Command line: `python -m bot [run|playground|sandbox|webhook register|migrate-db --to URL]`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from dotenv import load_dotenv

from .config import SETTINGS, ConfigError, Setting, Settings, load_settings, no_slack_settings

if TYPE_CHECKING:
    from .server import OpsServer

log = logging.getLogger("bot.startup")

ENV_FILE_HELP = (
    "read settings from this file (default: DOTENV_PATH, else .env in the working "
    "directory); the process environment wins over the file"
)


def _settings_help(settings: tuple[Setting, ...] = SETTINGS) -> str:
    lines = ["settings (environment variables, or a .env file; the environment wins):"]
    for s in settings:
        default = f" (default {s.default})" if s.default else ""
        if s.default is None and "required" not in s.meaning:
            default = " (default: unset)"
        lines.append(f"  {s.name:<26} {s.meaning}{default}")
    return "\n".join(lines)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="HeyGen avatar videos from Slack's /heygen.",
        epilog=_settings_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--env-file", metavar="PATH", help=ENV_FILE_HELP)
    commands = parser.add_subparsers(dest="command", metavar="command")
    commands.add_parser(
        "run",
        help="run the bot (the default): Socket Mode when SLACK_APP_TOKEN is set, else HTTP "
        "on PORT; with no Slack setting at all, the playground",
    )
    commands.add_parser(
        "playground",
        help="try the bot in a browser, no Slack workspace needed: a local Slack stand-in "
        "at http://127.0.0.1:PORT/, the bot and the HeyGen sandbox in one process",
    )
    from .sandbox.settings import SANDBOX_SETTINGS

    sandbox = commands.add_parser(
        "sandbox",
        help="run only the HeyGen sandbox on SANDBOX_PORT",
        description="A local HeyGen-compatible API (v2 and v3) for trying clients.",
        epilog=_settings_help(SANDBOX_SETTINGS),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sandbox.add_argument("--host", default="127.0.0.1", help="address to listen on")
    webhook = commands.add_parser("webhook", help="manage HeyGen webhooks")
    actions = webhook.add_subparsers(dest="action", metavar="action", required=True)
    register = actions.add_parser(
        "register",
        help="register URL for video events and print the secret for HEYGEN_WEBHOOK_SECRET",
    )
    register.add_argument("--url", required=True, help="public URL of /heygen/webhook")
    migrate = commands.add_parser(
        "migrate-db",
        help="copy the SQLite install at DATABASE_PATH into an empty PostgreSQL database",
    )
    migrate.add_argument("--to", required=True, metavar="URL", help="postgresql://…")
    return parser.parse_args(argv)


def load_env_file(explicit: str | None) -> None:
    """Settings come from the process environment, then from one .env file under it.

    The file is `--env-file` (which must exist), else DOTENV_PATH, else `.env` in the
    working directory: not searched for upward, so an installed bot reads the operator's
    file, never one beside its own code.
    """
    if explicit and not Path(explicit).is_file():
        raise ConfigError(f"--env-file {explicit}: no such file")
    named = explicit or os.environ.get("DOTENV_PATH")
    load_dotenv(Path(named) if named else Path.cwd() / ".env", override=False)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        load_env_file(args.env_file)
        if args.command == "sandbox":
            return _run_sandbox(args.host)
        if args.command == "migrate-db":
            return asyncio.run(_migrate_db(load_settings(need_slack=False), args.to))
        if args.command == "webhook":
            return asyncio.run(_register_webhook(load_settings(need_slack=False), args.url))
        if args.command == "playground" or no_slack_settings():
            from .playground.run import run_playground

            return run_playground(os.environ, implicit=args.command != "playground")
        return _run_bot(load_settings())
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0


def _run_bot(settings: Settings) -> int:
    from .logs import setup_logging
    from .startup import SlackRejected

    setup_logging(settings)
    ops = None
    if settings.socket_mode and settings.metrics_port is not None:
        from .server import OpsServer

        ops = OpsServer(settings.metrics_port)  # a busy port is a setting error: say so first
    if settings.distribution:  # no token of its own: each workspace's comes with its install
        from .server import serve_http

        serve_http(settings)
        return 0
    try:
        identity = asyncio.run(_verify_until_stopped(settings))
    except SlackRejected as error:
        log.error("%s; check the token in the app's settings at api.slack.com/apps", error)
        return 2
    if identity is None:
        log.info("stopped before Slack answered")
        return 0
    if settings.socket_mode:
        asyncio.run(_socket_mode(settings, identity, ops))
        return 0
    from .server import serve_http

    serve_http(settings, identity)  # type: ignore[arg-type]
    return 0


async def _verify_until_stopped(settings: Settings) -> object | None:
    """`auth.test` with retries, or None when SIGTERM/SIGINT comes first."""
    from .startup import verify_slack

    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    try:
        return await verify_slack(settings)
    except asyncio.CancelledError:
        return None
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


async def _socket_mode(settings: Settings, identity: object, ops: OpsServer | None) -> None:
    """Socket Mode: same services, events over a websocket instead of HTTP."""
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    from .app import build_app
    from .services import start_services, stop_services
    from .startup import announce

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    services = await start_services(settings, identity)  # type: ignore[arg-type]
    if ops is not None:
        await ops.start(services)
    announce(services)
    # slack_sdk's session chatter at WARNING, its retry tracebacks as one line (bot.logs).
    quiet = logging.getLogger("slack_sdk.socket_mode.bot")
    handler = AsyncSocketModeHandler(build_app(services), settings.slack_app_token, logger=quiet)
    connecting = asyncio.create_task(handler.connect_async())  # retries until Slack answers
    await stop.wait()
    deadline = time.monotonic() + settings.shutdown_grace_seconds
    connecting.cancel()
    await handler.close_async()  # no new envelopes; unacked ones Slack sends again
    if ops is not None:
        await ops.stop()
    await stop_services(services, deadline)


def _run_sandbox(host: str) -> int:
    from .sandbox import serve_forever, settings_from_env
    from .sandbox.settings import DEFAULT_PORT

    raw_port = (os.environ.get("SANDBOX_PORT") or str(DEFAULT_PORT)).strip()
    if not raw_port.isdigit() or int(raw_port) > 65535:
        raise ConfigError(f"SANDBOX_PORT must be a port number (0-65535), got {raw_port!r}")
    try:
        sandbox_settings = settings_from_env(os.environ)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    serve_forever(sandbox_settings, host, int(raw_port))
    return 0


async def _migrate_db(settings: Settings, url: str) -> int:
    """Copy jobs, outbox, preferences and history into PostgreSQL; say what was copied."""
    from .store.copy import CopyRefused, copy_to_postgres

    if not url.startswith(("postgresql://", "postgres://")):
        raise ConfigError("--to must be a postgresql:// URL")
    try:
        copied = await copy_to_postgres(settings.database_path, url)
    except CopyRefused as error:
        print(f"error: {error}; nothing was copied", file=sys.stderr)
        return 1
    rows = ", ".join(f"{table} {count}" for table, count in copied.items())
    print(f"copied {settings.database_path} into PostgreSQL: {rows}")
    print("now set DATABASE_URL to that URL and start the bot (one replica or several)")
    return 0


async def _register_webhook(settings: Settings, url: str) -> int:
    from .heygen import HeyGenError, make_client

    if settings.uses_sandbox:
        raise ConfigError("HEYGEN_API_KEY is required to register a webhook with HeyGen")
    client = make_client(
        settings.heygen_api_version, settings.heygen_api_url, settings.heygen_api_key
    )
    try:
        endpoint_id, secret = await client.register_webhook(url)
    except HeyGenError as error:
        print(f"error: HeyGen refused the webhook: {error}", file=sys.stderr)
        return 1
    finally:
        await client.aclose()
    print(f"Registered webhook endpoint {endpoint_id} for {url}")
    print(f"Set this in the bot's environment:\nHEYGEN_WEBHOOK_SECRET={secret}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
