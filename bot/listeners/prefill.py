"""Opening the create modal for someone: what it starts with, and the `views.open` call.

Every way in (slash command, shortcuts, *Make another*, App Home) goes through
`open_modal`, so remembered choices and the API's optional fields behave the same.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from ..catalog import avatar_label, voice_label
from ..jobs import Job
from ..modal import ModalChoices, ModalFeatures, create_modal

log = logging.getLogger(__name__)


def label(services: Any, kind: str, item_id: str) -> str:
    """How the picker names an avatar or voice (its id when the catalog lacks it)."""
    index = services.catalog.avatars if kind == "avatar" else services.catalog.voices
    item = index.by_id.get(item_id)
    if item is None:
        return item_id
    return avatar_label(item) if kind == "avatar" else voice_label(item)


def _known(services: Any, kind: str, item_id: str | None) -> bool:
    index = services.catalog.avatars if kind == "avatar" else services.catalog.voices
    return bool(item_id) and (not index.items or item_id in index.by_id)


async def remembered(services: Any, user_id: str, choices: ModalChoices) -> ModalChoices:
    """Preselect this person's last avatar, voice and shape (when still offered)."""
    last = await services.store.last_choices(user_id)
    if not last:
        return choices
    picked: dict[str, Any] = {"shape": last.get("shape") or choices.shape}
    for kind in ("avatar", "voice"):
        item_id = last.get(f"{kind}_id")
        if _known(services, kind, item_id):
            picked[kind] = (item_id, label(services, kind, item_id))
    return replace(choices, **picked)


def from_job(services: Any, job: Job) -> ModalChoices:
    """*Make another*: the modal starts where this job did."""
    return ModalChoices(
        script=job.script,
        avatar=(job.avatar_id, label(services, "avatar", job.avatar_id)),
        voice=(job.voice_id, label(services, "voice", job.voice_id)),
        shape=job.shape,
        resolution=job.resolution,
        speed=job.speed,
        pitch=job.pitch,
        avatar_style=job.avatar_style,
        background=job.background or "",
        title=job.title or "",
        captions=job.captions,
        notify_dm=job.notify_dm,
        test=job.test,
        channel_id=None if job.redirected_from else job.channel_id,
        thread_ts=None if job.redirected_from else job.thread_ts,
    )


def features(services: Any, **extra: Any) -> ModalFeatures:
    heygen = services.heygen
    return ModalFeatures(
        script_limit=heygen.script_limit,
        avatar_styles=heygen.avatar_styles,
        test_mode=heygen.test_mode,
        sandbox=services.uses_sandbox,
        **extra,
    )


async def open_modal(
    client: AsyncWebClient,
    services: Any,
    trigger_id: str,
    choices: ModalChoices,
    notes: list[str] | None = None,
) -> bool:
    """Open the modal; False (logged) when Slack refused, e.g. an expired trigger."""
    view = create_modal(choices, features(services, notes=notes or []))
    try:
        await client.views_open(trigger_id=trigger_id, view=view)
    except SlackApiError as error:
        log.warning("could not open the modal: %s", error.response.get("error"))
        return False
    return True
