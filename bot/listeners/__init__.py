"""Slack in, intents out: every listener acks first, then records what was asked."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from slack_bolt.async_app import AsyncApp, AsyncBoltContext

from ..blocks import MODAL_CALLBACK
from ..services import Services
from . import commands, links, options, views


def register_listeners(app: AsyncApp, services: Services) -> None:
    """Attach every listener, and hand each one the process's services via context."""

    async def inject_services(
        context: AsyncBoltContext, next: Callable[[], Awaitable[None]]
    ) -> None:
        context["services"] = services
        await next()

    app.middleware(inject_services)
    app.command("/heygen")(commands.heygen_command)
    app.options("avatar")(options.avatar_options)
    app.options("voice")(options.voice_options)
    app.view_submission(MODAL_CALLBACK)(views.create_video_submission)
    app.action("open_video")(links.open_video)
