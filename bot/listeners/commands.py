"""`/heygen`: open the modal (prefilled with any text typed after it), or a subcommand.

`help`, `status`, `avatars <words>` and `voices <words>` answer privately; anything
else after `/heygen` is a script to prefill, so `/heygen Status update…` still works.
"""

from __future__ import annotations

from slack_bolt.async_app import AsyncAck, AsyncBoltContext, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from ..modal import ModalChoices
from . import prefill, subcommands

HELP = (
    "*/heygen* opens a form to make a HeyGen avatar video: pick an avatar and a voice, "
    "write the script, and the finished video is posted in the thread.\n"
    "• `/heygen` opens the form\n"
    "• `/heygen Hello team!` opens it with the script filled in\n"
    "• `/heygen status` lists your recent and running videos\n"
    "• `/heygen avatars <words>` and `/heygen voices <words>` search HeyGen's catalog\n"
    "• `/heygen help` shows this message\n"
    "Also: the *Make an avatar video* shortcut on any message, *New avatar video* in the "
    "shortcuts menu, and the app's *Home* tab."
)


async def heygen_command(
    ack: AsyncAck,
    command: dict,
    client: AsyncWebClient,
    respond: AsyncRespond,
    context: AsyncBoltContext,
) -> None:
    text = (command.get("text") or "").strip()
    if text.lower() in ("help", "-h", "--help"):
        await ack(text=HELP)
        return
    services = context["services"]
    handler = subcommands.find(text)
    await ack()
    if handler is not None:
        await handler(text, command, respond, client, services)
        return
    choices = ModalChoices(script=text, channel_id=command.get("channel_id"))
    choices = await prefill.remembered(services, command["user_id"], choices)
    await prefill.open_modal(client, services, command["trigger_id"], choices)
