"""Private answers to whoever pressed a button or typed a subcommand.

Slack gives a `response_url` for messages and slash commands; App Home gives none, so
there the answer arrives as a direct message from the app instead. Either way only the
person who acted sees it, and a failed answer is logged, never raised at Slack.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from ..blocks import without_images
from ..slack_calls import post_message

log = logging.getLogger(__name__)


async def tell(
    body: dict,
    respond: AsyncRespond | None,
    client: AsyncWebClient,
    text: str,
    blocks: list[dict[str, Any]] | None = None,
) -> None:
    """Answer the person in `body` privately; images are dropped if Slack cannot load them."""
    user_id = (body.get("user") or {}).get("id") or body.get("user_id")
    try:
        if respond is not None and respond.response_url:
            await _respond(respond, text, blocks)
        elif user_id:
            await _direct_message(client, user_id, text, blocks)
    except (SlackApiError, OSError, ValueError) as error:
        log.warning("could not answer %s: %s", user_id, error)


async def _respond(respond: AsyncRespond, text: str, blocks: list | None) -> None:
    private = {"response_type": "ephemeral", "replace_original": False}
    answer = await respond(text=text, blocks=blocks, **private)
    if answer.status_code != 200 and blocks and without_images(blocks) != blocks:
        answer = await respond(text=text, blocks=without_images(blocks), **private)
    if answer.status_code != 200:
        log.warning("Slack refused an ephemeral answer: %s %s", answer.status_code, answer.body)


async def _direct_message(
    client: AsyncWebClient, user_id: str, text: str, blocks: list | None
) -> None:
    await post_message(client, channel=user_id, text=text, blocks=blocks)
