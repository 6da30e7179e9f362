"""Events API: `app_home_opened` publishes the person's App Home; in distribution mode
`app_uninstalled` and `tokens_revoked` end the workspace's installation."""

from __future__ import annotations

from slack_bolt.async_app import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from ..home import publish_home
from ..leaving import leave_workspace
from ..workspaces import WorkspaceRef
from .keys import publish


async def home_opened(event: dict, client: AsyncWebClient, context: AsyncBoltContext) -> None:
    """Bolt acks events before this runs; the view is built from the store and the cache.

    Remembering who has opened the tab lets the notifier refresh it when their videos
    finish, without publishing a Home to people who never look at it.
    """
    if event.get("tab", "home") != "home":
        return
    services = context["services"]
    user_id = event["user"]
    await services.store.saw_home(user_id)
    if services.accounts is not None:  # distribution mode: with the workspace's key line
        await publish(context, client, user_id)
        return
    await publish_home(
        client, services.store, services.credit, user_id, sandbox=services.uses_sandbox
    )


async def uninstalled(body: dict, context: AsyncBoltContext) -> None:
    """The app was removed from a workspace or org: forget it, stop its work."""
    await leave_workspace(context["services"], _ref(body, context), "app_uninstalled")


async def tokens_revoked(event: dict, body: dict, context: AsyncBoltContext) -> None:
    """The bot's token was revoked (user tokens alone: the bot keeps none, nothing to do)."""
    if (event.get("tokens") or {}).get("bot"):
        await leave_workspace(context["services"], _ref(body, context), "tokens_revoked")


def _ref(body: dict, context: AsyncBoltContext) -> WorkspaceRef:
    authorizations = body.get("authorizations") or [{}]
    org = bool(body.get("is_enterprise_install") or authorizations[0].get("is_enterprise_install"))
    return WorkspaceRef(
        context.team_id or body.get("team_id"),
        context.enterprise_id or body.get("enterprise_id"),
        org,
    )
