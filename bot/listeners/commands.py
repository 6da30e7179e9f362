"""`/heygen`: open the modal, prefilled with any text typed after the command."""

from __future__ import annotations

import logging

from slack_bolt.async_app import AsyncAck, AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from .. import blocks

log = logging.getLogger(__name__)

HELP = (
    "*/heygen* opens a form to make a HeyGen avatar video: pick an avatar and a voice, "
    "write the script, and the finished video is posted in the thread.\n"
    "• `/heygen` opens the form\n"
    "• `/heygen Hello team!` opens it with the script filled in\n"
    "• `/heygen help` shows this message"
)


async def heygen_command(
    ack: AsyncAck, command: dict, client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    text = (command.get("text") or "").strip()
    if text.lower() in ("help", "-h", "--help"):
        await ack(text=HELP)
        return
    await ack()
    services = context["services"]
    view = blocks.create_modal(
        script=text,
        script_limit=services.heygen.script_limit,
        channel_id=command.get("channel_id"),
        sandbox=services.uses_sandbox,
    )
    try:
        await client.views_open(trigger_id=command["trigger_id"], view=view)
    except SlackApiError as error:
        log.warning("could not open the modal: %s", error.response.get("error"))
