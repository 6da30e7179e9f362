"""What a Slack user does, as the signed requests Slack would send for it."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import httpx

from tests.fakes import slack_requests as sr

USER = "U0USER"
CHANNEL = "C0CHAN"


def selected(value: str, kind: str = "static_select") -> dict[str, Any]:
    return {
        "type": kind,
        "selected_option": {"text": {"type": "plain_text", "text": value}, "value": value},
    }


def form_values(
    avatar: str | None,
    voice: str | None,
    script: str,
    *,
    shape: str = "16:9",
    resolution: str = "720p",
    speed: str = "1.0",
    post_to: str = CHANNEL,
) -> dict[str, Any]:
    """Slack's `view.state.values` for the create modal, as the user filled it in."""
    return {
        "avatar": {
            "avatar": selected(avatar, "external_select")
            if avatar
            else {"type": "external_select", "selected_option": None}
        },
        "voice": {
            "voice": selected(voice, "external_select")
            if voice
            else {"type": "external_select", "selected_option": None}
        },
        "script": {"script": {"type": "plain_text_input", "value": script}},
        "shape": {"shape": selected(shape)},
        "resolution": {"resolution": selected(resolution)},
        "speed": {"speed": {"type": "number_input", "value": speed}},
        "post_to": {"post_to": {"type": "conversations_select", "selected_conversation": post_to}},
    }


def submit_form(
    bot: Any,
    values: dict[str, Any],
    *,
    channel: str = CHANNEL,
    thread_ts: str | None = None,
    user_id: str = USER,
) -> httpx.Response:
    meta = json.dumps({"channel_id": channel, "thread_ts": thread_ts})
    return bot.send(
        sr.view_submission("heygen_create", values, private_metadata=meta, user_id=user_id)
    )


def sandbox_catalog(sandbox_url: str, version: str) -> tuple[list[dict], list[dict]]:
    """Every avatar and voice the sandbox offers, read straight from its API."""
    headers = {"X-Api-Key": "test-heygen-key"}
    if version == "v2":
        avatars = httpx.get(f"{sandbox_url}/v2/avatars", headers=headers).json()
        voices = httpx.get(f"{sandbox_url}/v2/voices", headers=headers).json()
        return (
            [{"id": a["avatar_id"], "name": a["avatar_name"]} for a in avatars["data"]["avatars"]],
            [{"id": v["voice_id"], "name": v["name"]} for v in voices["data"]["voices"]],
        )
    return (
        _pages(f"{sandbox_url}/v3/avatars/looks", headers, "id"),
        _pages(f"{sandbox_url}/v3/voices", headers, "voice_id"),
    )


def _pages(url: str, headers: dict[str, str], key: str) -> list[dict]:
    items: list[dict] = []
    params: dict[str, Any] = {}
    while True:
        body = httpx.get(url, params=params, headers=headers).json()
        items += [
            {"id": i[key], "name": i["name"]}
            for i in body["data"]
            if i.get("supported_api_engines") != []
        ]  # HeyGen: not usable by the API
        if not body.get("has_more"):
            return items
        params = {"token": body["next_token"]}


def mrkdwn_texts(blocks: list[dict[str, Any]]) -> list[str]:
    """Every string Slack would parse as mrkdwn (where `<!channel>` would ping)."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                found.append(node.get("text", ""))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(blocks)
    return found


def heygen_requests(sandbox, method: str | None = None, prefix: str = "") -> list[dict]:
    entries = httpx.get(f"{sandbox.url}/_sandbox/requests").json()["requests"]
    return [
        e
        for e in entries
        if (method is None or e["method"] == method) and e["path"].startswith(prefix)
    ]


def creates(sandbox) -> list[dict]:
    return [
        e
        for e in heygen_requests(sandbox, "POST")
        if e["path"] in ("/v3/videos", "/v2/video/generate")
    ]


def first_choices(sandbox, version: str) -> tuple[str, str]:
    avatars, voices = sandbox_catalog(sandbox.url, version)
    return avatars[0]["id"], voices[0]["id"]


def job_rows(bot: Any) -> list[dict]:
    """The bot's jobs table, read straight from its SQLite file."""
    path = bot.settings.database_path if hasattr(bot, "settings") else bot.env["DATABASE_PATH"]
    with sqlite3.connect(path) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("select * from jobs")]


def posts_by_job(slack: Any, kind: str) -> dict[str, int]:
    """How many live messages of `kind` ("parent" or "result") Slack holds per job.

    The bot tags each message with metadata naming its job, as a reader of the channel
    could check; deleted or never-accepted messages are not counted.
    """
    counts: dict[str, int] = {}
    for message in slack.messages():
        payload = (message.get("metadata") or {}).get("event_payload") or {}
        if payload.get("kind") == kind:
            counts[payload["job_id"]] = counts.get(payload["job_id"], 0) + 1
    return counts


def submit_any(bot: Any, sandbox: Any, version: str, script: str = "Hello") -> Any:
    """Fill in the modal with the first avatar and voice and submit it."""
    avatar, voice = first_choices(sandbox, version)
    return submit_form(bot, form_values(avatar, voice, script))
