"""`/heygen status`, `/heygen avatars <words>`, `/heygen voices <words>`: private answers.

Each is matched on its first word only when the rest fits (`status` stands alone), so a
script that merely starts with one of these words still opens the modal.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from ..blocks import escape, search_blocks, status_blocks
from .replies import tell

Handler = Callable[[str, dict, AsyncRespond, AsyncWebClient, Any], Awaitable[None]]


def find(text: str) -> Handler | None:
    """The subcommand `text` asks for, or None when it is a script."""
    word, _, rest = text.partition(" ")
    word = word.lower()
    if word == "status" and not rest.strip():
        return status
    if word in ("avatars", "voices"):
        return search
    return None


async def status(
    text: str, command: dict, respond: AsyncRespond, client: AsyncWebClient, services: Any
) -> None:
    jobs = await services.store.recent_jobs(command["user_id"], limit=10)
    await tell(command, respond, client, "Your avatar videos", status_blocks(jobs))


async def search(
    text: str, command: dict, respond: AsyncRespond, client: AsyncWebClient, services: Any
) -> None:
    word, _, query = text.partition(" ")
    kind = word.lower()
    catalog = services.catalog
    await catalog.ready()
    index = catalog.avatars if kind == "avatars" else catalog.voices
    found = index.search(query, limit=500)
    label = f"HeyGen {kind} matching {query.strip()}" if query.strip() else f"HeyGen {kind}"
    await tell(command, respond, client, escape(label), search_blocks(kind, query, found))
