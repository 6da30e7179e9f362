"""Events API: `app_home_opened` publishes the person's App Home."""

from __future__ import annotations

import logging

from slack_bolt.async_app import AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from ..blocks import without_images
from ..home import home_view

log = logging.getLogger(__name__)
RECENT = 10


async def home_opened(event: dict, client: AsyncWebClient, context: AsyncBoltContext) -> None:
    """Bolt acks events before this runs; the view is built from the store and the cache."""
    if event.get("tab", "home") != "home":
        return
    services = context["services"]
    user_id = event["user"]
    view = home_view(
        services.store.recent_jobs(user_id, limit=RECENT),
        await services.credit.remaining(),
        sandbox=services.uses_sandbox,
    )
    for attempt in (view, {**view, "blocks": without_images(view["blocks"])}):
        try:
            await client.views_publish(user_id=user_id, view=attempt)
            return
        except SlackApiError as error:
            code = error.response.get("error")
            if code not in ("invalid_arguments", "invalid_blocks") or attempt is not view:
                log.warning("could not publish App Home for %s: %s", user_id, code)
                return
            # Slack could not load a thumbnail (e.g. a sandbox URL): publish without them.
