"""Command line: `python -m bot [run|sandbox|webhook register]`."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys

from dotenv import load_dotenv

from .config import SETTINGS, ConfigError, Settings, load_settings


def _settings_help() -> str:
    lines = ["settings (environment variables, or a .env file):"]
    for s in SETTINGS:
        default = f" (default {s.default})" if s.default else ""
        lines.append(f"  {s.name:<26} {s.meaning}{default}")
    return "\n".join(lines)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="HeyGen avatar videos from Slack's /heygen.",
        epilog=_settings_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="command")
    commands.add_parser(
        "run",
        help="run the bot (the default): Socket Mode when "
        "SLACK_APP_TOKEN is set, else HTTP on PORT",
    )
    sandbox = commands.add_parser("sandbox", help="run only the HeyGen sandbox on SANDBOX_PORT")
    sandbox.add_argument("--host", default="127.0.0.1", help="address to listen on")
    webhook = commands.add_parser("webhook", help="manage HeyGen webhooks")
    actions = webhook.add_subparsers(dest="action", metavar="action", required=True)
    register = actions.add_parser(
        "register",
        help="register URL for video events and print the secret for HEYGEN_WEBHOOK_SECRET",
    )
    register.add_argument("--url", required=True, help="public URL of /heygen/webhook")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    load_dotenv(os.environ.get("DOTENV_PATH") or None)
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        if args.command == "sandbox":
            return _run_sandbox(args.host)
        if args.command == "webhook":
            return asyncio.run(_register_webhook(load_settings(need_slack=False), args.url))
        return _run_bot(load_settings())
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0


def _run_bot(settings: Settings) -> int:
    from .logs import setup_logging

    setup_logging(settings)
    if settings.socket_mode:
        asyncio.run(_socket_mode(settings))
        return 0
    import uvicorn

    from .server import create_http_app

    server_class = _draining_server_class()
    config = uvicorn.Config(
        create_http_app(settings),
        host="0.0.0.0",
        port=settings.port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=10,
    )
    server_class(config).run()
    return 0


def _draining_server_class() -> type:
    import uvicorn

    class DrainingServer(uvicorn.Server):
        """Exit 0 after a graceful SIGTERM drain, instead of re-raising the signal."""

        def handle_exit(self, sig: int, frame: object) -> None:
            super().handle_exit(sig, frame)  # type: ignore[arg-type]
            self._captured_signals.clear()

    return DrainingServer


async def _socket_mode(settings: Settings) -> None:
    """Socket Mode: same services, events over a websocket instead of HTTP."""
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    from .app import build_app
    from .server import OpsServer
    from .services import start_services, stop_services

    ops = OpsServer(settings.metrics_port) if settings.metrics_port is not None else None
    services = await start_services(settings)
    if ops is not None:
        await ops.start(services)
    handler = AsyncSocketModeHandler(build_app(services), settings.slack_app_token)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    connecting = asyncio.create_task(handler.connect_async())  # retries until Slack answers
    await stop.wait()
    connecting.cancel()
    await handler.close_async()
    if ops is not None:
        await ops.stop()
    await stop_services(services)


def _run_sandbox(host: str) -> int:
    from .sandbox import serve_forever, settings_from_env

    raw_port = (os.environ.get("SANDBOX_PORT") or "4010").strip()
    if not raw_port.isdigit() or int(raw_port) > 65535:
        raise ConfigError(f"SANDBOX_PORT must be a port number (0-65535), got {raw_port!r}")
    try:
        sandbox_settings = settings_from_env(os.environ)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    serve_forever(sandbox_settings, host, int(raw_port))
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
