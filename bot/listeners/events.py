"""Events API: `app_home_opened` publishes the person's App Home."""

from __future__ import annotations

from slack_bolt.async_app import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from ..home import publish_home


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
    await publish_home(
        client, services.store, services.credit, user_id, sandbox=services.uses_sandbox
    )
