"""App Home: a person's recent videos, a *New video* button and the HeyGen credit left.

Pure functions from data to the `home` view; `listeners/events.py` publishes it.
"""

from __future__ import annotations

from typing import Any

from .blocks import (
    CANCEL,
    FRESH_LINK,
    SANDBOX_NOTE,
    actions,
    button,
    context,
    image,
    job_summary,
    plain,
    section,
)
from .heygen import Credit
from .store import COMPLETED, Job

NEW_VIDEO = "home_new_video"


def credit_text(credit: Credit | None) -> str:
    if credit is None or credit.remaining is None:
        return ":moneybag: HeyGen did not say how much credit is left."
    if credit.unit == "USD":
        return f":moneybag: HeyGen balance: *${credit.remaining:,.2f}*"
    return f":moneybag: HeyGen credit left: *{credit.remaining:,.1f} credits*"


def home_view(jobs: list[Job], credit: Credit | None, *, sandbox: bool) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": plain("HeyGen avatar videos")},
        section(
            "Turn a script into a HeyGen avatar video. Also `/heygen` in any conversation, "
            "or *Make an avatar video* on any message.",
            button("New video", NEW_VIDEO, style="primary"),
        ),
        context(credit_text(credit)),
        {"type": "divider"},
        section("*Your recent videos*"),
    ]
    if not jobs:
        blocks.append(context("Nothing yet: press *New video* to make your first one."))
    for job in jobs:
        blocks += _job_blocks(job)
    if sandbox:
        blocks.append(context(SANDBOX_NOTE))
    return {"type": "home", "blocks": blocks}


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
