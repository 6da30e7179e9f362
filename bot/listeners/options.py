"""Typeahead for the avatar and voice pickers, answered from the in-memory catalog."""

from __future__ import annotations

from slack_bolt.async_app import AsyncAck, AsyncBoltContext

from .. import modal
from ..catalog import avatar_label, voice_label


async def avatar_options(ack: AsyncAck, payload: dict, context: AsyncBoltContext) -> None:
    catalog = context["services"].catalog
    await catalog.ready()
    found = catalog.avatars.search(payload.get("value") or "")
    await ack(**modal.options_payload([(avatar_label(a), a.id) for a in found]))


async def voice_options(ack: AsyncAck, payload: dict, context: AsyncBoltContext) -> None:
    catalog = context["services"].catalog
    await catalog.ready()
    found = catalog.voices.search(payload.get("value") or "")
    await ack(**modal.options_payload([(voice_label(v), v.id) for v in found]))
