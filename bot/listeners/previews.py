"""Choosing an avatar or a voice in the modal shows its preview, updated in place.

The pickers' input blocks set `dispatch_action`, so each choice arrives here at once.
The modal is rebuilt from what is filled in and sent with `views.update` and the view's
`hash`, so an update never overwrites a newer one:
- updates of one modal are serialised in this process, each sent with the hash the
  previous one returned, and each preview reflects the latest choice of its picker even
  when Slack's events arrive out of order;
- a `hash_conflict` means someone else (another bot process) changed the modal first:
  theirs is kept, and the next choice refreshes the previews again.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from ..modal import create_modal
from . import form, prefill

log = logging.getLogger(__name__)
PICKERS = ("avatar", "voice")


@dataclass
class _Modal:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    hash: str | None = None  # what our last update returned
    picks: dict[str, tuple[float, str | None]] = field(default_factory=dict)  # by picker


class ModalPreviews:
    """Per-modal state of one process, for the modals it refreshed lately."""

    def __init__(self, capacity: int = 500) -> None:
        self._modals: OrderedDict[str, _Modal] = OrderedDict()
        self._capacity = capacity

    def modal(self, view_id: str) -> _Modal:
        modal = self._modals.pop(view_id, None) or _Modal()
        self._modals[view_id] = modal
        while len(self._modals) > self._capacity:
            self._modals.popitem(last=False)
        return modal


async def choice_made(
    ack: AsyncAck, body: dict, action: dict, client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    """An avatar or voice was chosen: show its preview below the picker."""
    await ack()
    view = body.get("view") or {}
    if not view.get("id"):
        return
    services, previews = context["services"], context["modal_previews"]
    modal = previews.modal(view["id"])
    async with modal.lock:
        _remember_pick(modal, action)
        answers = form.read_form(view)
        for picker, (_, value) in modal.picks.items():
            answers[picker] = value
        await _update(client, services, view, modal, answers)


def _remember_pick(modal: _Modal, action: dict) -> None:
    picker = action.get("block_id") or action.get("action_id")
    if picker not in PICKERS:
        return
    try:
        at = float(action.get("action_ts") or 0)
    except ValueError:
        at = 0.0
    if at >= modal.picks.get(picker, (0.0, None))[0]:
        value = (action.get("selected_option") or {}).get("value")
        modal.picks[picker] = (at, value)


async def _update(
    client: AsyncWebClient, services: Any, view: dict, modal: _Modal, answers: dict
) -> None:
    catalog = services.catalog
    choices = form.choices(
        answers, form.metadata(view), lambda kind, item: prefill.label(services, kind, item)
    )
    extra = {
        "avatar_preview": catalog.avatars.by_id.get(answers.get("avatar") or ""),
        "voice_preview": catalog.voices.by_id.get(answers.get("voice") or ""),
    }
    for show_images in (True, False):
        new_view = create_modal(
            choices, prefill.features(services, preview_images=show_images, **extra)
        )
        try:
            answer = await client.views_update(
                view_id=view["id"], hash=modal.hash or view.get("hash"), view=new_view
            )
        except SlackApiError as error:
            code = error.response.get("error")
            if code == "hash_conflict":
                log.info("modal %s changed elsewhere first; keeping that version", view["id"])
                modal.hash = None
                return
            if show_images and code in ("invalid_arguments", "invalid_blocks"):
                continue  # Slack could not load the preview image: link to it instead
            log.warning("could not refresh the modal: %s", code)
            return
        modal.hash = (answer.get("view") or {}).get("hash")
        return
