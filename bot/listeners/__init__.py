"""Slack in, intents out: every listener acks first, then records what was asked."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from slack_bolt.async_app import AsyncApp, AsyncBoltContext

from ..accounts import ACCOUNT
from ..blocks import CANCEL, FRESH_LINK, LINK_PREFIX, MAKE_ANOTHER, RETRY
from ..home import NEW_VIDEO, REMOVE_KEY, SET_KEY
from ..modal import MODAL_CALLBACK
from ..services import Services
from ..workspaces import CURRENT, WorkspaceRef
from . import actions, commands, events, keys, links, options, previews, shortcuts, views


def register_listeners(app: AsyncApp, services: Services) -> None:
    """Attach every listener, and hand each one the process's services via context."""
    modal_previews = previews.ModalPreviews()

    async def inject_services(
        context: AsyncBoltContext, next: Callable[[], Awaitable[None]]
    ) -> None:
        context["services"] = services
        context["modal_previews"] = modal_previews
        # Calls made for this request outside Bolt's client use its workspace's token.
        workspace = WorkspaceRef(
            context.team_id, context.enterprise_id, context.is_enterprise_install
        )
        CURRENT.set(workspace)
        if services.accounts is not None:  # its HeyGen account, catalog and credit too
            ACCOUNT.set(await services.accounts.for_workspace(workspace.key))
        await next()

    app.middleware(inject_services)
    app.command("/heygen")(commands.heygen_command)
    app.options("avatar")(options.avatar_options)
    app.options("voice")(options.voice_options)
    for picker in previews.PICKERS:
        app.action(picker)(previews.choice_made)
    app.view_submission(MODAL_CALLBACK)(views.create_video_submission)
    app.action(CANCEL)(actions.cancel_job)
    app.action(RETRY)(actions.retry_job)
    app.action(MAKE_ANOTHER)(actions.make_another)
    app.action(FRESH_LINK)(actions.fresh_link)
    app.action(NEW_VIDEO)(actions.new_video)
    app.action(re.compile(f"^{LINK_PREFIX}"))(links.open_video)
    app.shortcut(shortcuts.MESSAGE_SHORTCUT)(shortcuts.from_message)
    app.shortcut(shortcuts.GLOBAL_SHORTCUT)(shortcuts.from_anywhere)
    app.event("app_home_opened")(events.home_opened)
    if services.settings.distribution:
        app.action(SET_KEY)(keys.open_key_modal)
        app.action(REMOVE_KEY)(keys.remove_key)
        app.view_submission(keys.KEY_MODAL)(keys.save_key)
        app.event("app_uninstalled")(events.uninstalled)
        app.event("tokens_revoked")(events.tokens_revoked)
