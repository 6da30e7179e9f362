"""Distribution mode: a workspace admin sets, replaces or removes the HeyGen key in App Home.

The key is checked with HeyGen before it is saved (an invalid one gets HeyGen's answer
under the field), stored encrypted, and never shown again beyond its last four characters;
it is never logged. Admins are the workspace's admins and owners (`users.info`) and the
person who installed the app.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from ..accounts import ACCOUNT, KeyRefused
from ..blocks import escape, plain, section
from ..home import publish_home
from ..workspaces import CURRENT

log = logging.getLogger(__name__)
KEY_MODAL = "heygen_key_modal"
KEY_BLOCK = "api_key"
ADMINS_ONLY = "Only a workspace admin, owner or the person who installed the app can do this."


async def may_manage_key(context: AsyncBoltContext, client: AsyncWebClient, user: str) -> bool:
    """The installer, or an admin or owner of the workspace."""
    installations, ref = context["services"].installations, CURRENT.get()
    if installations is None or ref is None:
        return False
    return await installations.may_manage(client, ref, user)


async def publish(context: AsyncBoltContext, client: AsyncWebClient, user: str) -> None:
    """The person's App Home, with the workspace's HeyGen account (and, for an admin, the
    buttons to change it)."""
    services, account = context["services"], ACCOUNT.get()
    await publish_home(
        client,
        services.store,
        services.credit,
        user,
        sandbox=services.uses_sandbox,
        heygen_key=account.label if account else None,
        manage_key=account is not None and await may_manage_key(context, client, user),
    )


async def open_key_modal(
    ack: AsyncAck, body: dict, client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    await ack()
    if not await may_manage_key(context, client, body["user"]["id"]):
        await client.chat_postEphemeral(
            channel=body["user"]["id"], user=body["user"]["id"], text=ADMINS_ONLY
        )
        return
    await client.views_open(trigger_id=body["trigger_id"], view=key_modal())


def key_modal() -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": KEY_MODAL,
        "title": plain("HeyGen API key"),
        "submit": plain("Check and save"),
        "close": plain("Cancel"),
        "blocks": [
            section(
                "Paste your team's HeyGen API key (HeyGen → Settings → API). The bot checks "
                "it with HeyGen, keeps it encrypted, and shows only its last four characters "
                "from now on. Your workspace's videos then use your HeyGen account."
            ),
            {
                "type": "input",
                "block_id": KEY_BLOCK,
                "label": plain("API key"),
                "element": {"type": "plain_text_input", "action_id": KEY_BLOCK},
            },
        ],
    }


async def save_key(
    ack: AsyncAck, body: dict, view: dict, client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    """Check the key with HeyGen; save it, or answer under the field with HeyGen's word."""
    services, user = context["services"], body["user"]["id"]
    value = (view["state"]["values"].get(KEY_BLOCK) or {}).get(KEY_BLOCK) or {}
    api_key = (value.get("value") or "").strip()
    if not await may_manage_key(context, client, user):
        await ack(response_action="errors", errors={KEY_BLOCK: ADMINS_ONLY})
        return
    try:
        await services.accounts.check(api_key)
    except KeyRefused as refused:
        text = f"HeyGen does not accept this key: {escape(refused.answer)}"
        await ack(response_action="errors", errors={KEY_BLOCK: text[:150]})
        return
    await ack()
    ref = CURRENT.get()
    assert ref is not None, "the middleware names the workspace"
    ACCOUNT.set(await services.accounts.save(ref.key, api_key))
    log.info("workspace %s: HeyGen key set by %s", ref.key, user)
    await publish(context, client, user)


async def remove_key(
    ack: AsyncAck, body: dict, client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    await ack()
    services, user, ref = context["services"], body["user"]["id"], CURRENT.get()
    if ref is None or not await may_manage_key(context, client, user):
        return
    await services.accounts.remove(ref.key)
    ACCOUNT.set(await services.accounts.for_workspace(ref.key))
    log.info("workspace %s: HeyGen key removed by %s", ref.key, user)
    await publish(context, client, user)
