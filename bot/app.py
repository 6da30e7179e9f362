"""Build the Bolt app and register its listeners; no logic lives here."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from .listeners import register_listeners
from .services import Services


def build_app(services: Services) -> AsyncApp:
    settings = services.settings
    app = AsyncApp(
        client=services.slack,
        signing_secret=settings.slack_signing_secret or "socket-mode-needs-no-secret",
        request_verification_enabled=not settings.socket_mode,
        process_before_response=False,
        raise_error_for_unhandled_request=False,
    )
    register_listeners(app, services)
    return app
