"""App Home: a person's recent videos, a *New video* button and the HeyGen credit left.

Built from the store and the cached credit, and published when the person opens the tab
(`listeners/events.py`) and again when one of their videos finishes (the notifier).
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from .blocks import (
    CANCEL,
    FRESH_LINK,
    SANDBOX_NOTE,
    WORKSPACE_SANDBOX_NOTE,
    actions,
    button,
    context,
    escape,
    image,
    job_summary,
    plain,
    section,
    without_images,
)
from .credit import CreditCache
from .heygen import Credit
from .jobs import COMPLETED, Job
from .store import Store

log = logging.getLogger(__name__)
NEW_VIDEO = "home_new_video"
SET_KEY = "home_set_heygen_key"  # distribution mode: an admin sets or replaces the key
REMOVE_KEY = "home_remove_heygen_key"
RECENT = 10  # videos listed


async def publish_home(
    client: AsyncWebClient,
    store: Store,
    credit: CreditCache,
    user_id: str,
    *,
    sandbox: bool,
    heygen_key: str | None = None,
    manage_key: bool = False,
) -> None:
    """Publish `user_id`'s App Home; a refusal is logged, never raised (Home is a courtesy).

    Distribution mode: `heygen_key` names the workspace's HeyGen account ("sandbox",
    "…1234"), and `manage_key` offers an admin the buttons to set, replace or remove it.
    """
    view = home_view(
        await store.recent_jobs(user_id, limit=RECENT),
        await credit.remaining(),
        sandbox=sandbox,
        heygen_key=heygen_key,
        manage_key=manage_key,
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


def credit_text(credit: Credit | None) -> str:
    if credit is None or credit.remaining is None:
        return ":moneybag: HeyGen did not say how much credit is left."
    if credit.unit == "USD":
        return f":moneybag: HeyGen balance: *${credit.remaining:,.2f}*"
    return f":moneybag: HeyGen credit left: *{credit.remaining:,.1f} credits*"


def home_view(
    jobs: list[Job],
    credit: Credit | None,
    *,
    sandbox: bool,
    heygen_key: str | None = None,
    manage_key: bool = False,
) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": plain("HeyGen avatar videos")},
        section(
            "Turn a script into a HeyGen avatar video. Also `/heygen` in any conversation, "
            "or *Make an avatar video* on any message.",
            button("New video", NEW_VIDEO, style="primary"),
        ),
        context(credit_text(credit)),
        *_key_blocks(heygen_key, manage_key),
        {"type": "divider"},
        section("*Your recent videos*"),
    ]
    if not jobs:
        blocks.append(context("Nothing yet: press *New video* to make your first one."))
    for job in jobs:
        blocks += _job_blocks(job)
    if sandbox:
        blocks.append(context(WORKSPACE_SANDBOX_NOTE if heygen_key else SANDBOX_NOTE))
    return {"type": "home", "blocks": blocks}


def _key_blocks(heygen_key: str | None, manage_key: bool) -> list[dict[str, Any]]:
    """Distribution mode: which HeyGen account the workspace uses; for admins, the buttons."""
    if heygen_key is None:
        return []
    line = context(f":key: HeyGen account: *{escape(heygen_key)}*")
    if not manage_key:
        return [line]
    own = heygen_key.startswith("…") or heygen_key == "this workspace's key"
    buttons = [button("Replace HeyGen key" if own else "Set HeyGen key", SET_KEY)]
    if own:
        buttons.append(button("Remove key", REMOVE_KEY, style="danger"))
    return [line, actions("heygen_key", *buttons)]


def _job_blocks(job: Job) -> list[dict[str, Any]]:
    thumbnail = None
    if job.status == COMPLETED and job.thumbnail_url:
        thumbnail = image(job.thumbnail_url, "Video thumbnail")
    blocks = [section(job_summary(job), thumbnail)]
    if job.status == COMPLETED and job.video_url:
        blocks.append(
            actions(
                f"home_{job.id}",
                button("Watch / download", "open_home_video", url=job.video_url),
                button("Get a fresh link", FRESH_LINK, value=job.id),
            )
        )
    elif not job.finished:
        blocks.append(actions(f"home_{job.id}", button("Cancel", CANCEL, value=job.id)))
    return blocks
