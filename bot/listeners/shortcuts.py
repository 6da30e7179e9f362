"""Shortcuts: *Make an avatar video* on any message, *New avatar video* from anywhere.

The message shortcut prefills the script with the message's text, as plain words (no
mrkdwn), and sends the result to that message's thread. The global shortcut has no
conversation, so the modal asks where to post.
"""

from __future__ import annotations

import re

from slack_bolt.async_app import AsyncAck, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from ..modal import ModalChoices
from . import prefill

MESSAGE_SHORTCUT = "make_video_from_message"
GLOBAL_SHORTCUT = "new_avatar_video"
SPECIAL = re.compile(r"<([^<>]*)>")
BROADCASTS = {"!channel": "@channel", "!here": "@here", "!everyone": "@everyone"}


def script_from_message(text: str) -> str:
    """A message's text as a script: mentions and links become the words they show."""

    def words(match: re.Match[str]) -> str:
        target, _, label = match.group(1).partition("|")
        if target in BROADCASTS:
            return BROADCASTS[target]
        if label:
            return label if target[:1] not in "@#" else target[0] + label.lstrip("@#")
        if target.startswith(("@", "#", "!")):
            return ""  # an id without a name reads as nonsense; the user can retype it
        return target  # a bare link

    plain = SPECIAL.sub(words, text)
    plain = plain.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return re.sub(r"[ \t]{2,}", " ", plain).strip()


async def from_message(
    ack: AsyncAck, shortcut: dict, client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    await ack()
    services = context["services"]
    message = shortcut.get("message") or {}
    script = script_from_message(message.get("text") or "")
    limit = services.heygen.script_limit
    notes = []
    if len(script) > limit:
        notes.append(
            f":scissors: The message has {len(script):,} characters; HeyGen takes "
            f"{limit:,}, so the script below stops there. Shorten it as you like."
        )
    choices = ModalChoices(
        script=script[:limit],
        channel_id=(shortcut.get("channel") or {}).get("id"),
        thread_ts=message.get("thread_ts") or message.get("ts"),
    )
    choices = await prefill.remembered(services, shortcut["user"]["id"], choices)
    await prefill.open_modal(client, services, shortcut["trigger_id"], choices, notes)


async def from_anywhere(
    ack: AsyncAck, shortcut: dict, client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    await ack()
    services = context["services"]
    choices = await prefill.remembered(services, shortcut["user"]["id"], ModalChoices())
    await prefill.open_modal(client, services, shortcut["trigger_id"], choices)
