"""What a Slack user does, as the signed requests Slack would send for it."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import httpx
import psycopg
from psycopg.rows import dict_row

from bot.playground import inbound as sr
from tests.harness import HTTP, wait_until

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
    post_to: str | None = CHANNEL,
    pitch: str | None = None,
    avatar_style: str | None = None,
    background: str | None = None,
    title: str | None = None,
    extras: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Slack's `view.state.values` for the create modal, as the user filled it in.

    Optional fields the user left alone are absent, as Slack leaves them out too.
    """
    values = {
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
    if pitch is not None:
        values["pitch"] = {"pitch": {"type": "number_input", "value": pitch}}
    if avatar_style is not None:
        values["avatar_style"] = {"avatar_style": selected(avatar_style)}
    for name, text in (("background", background), ("title", title)):
        if text is not None:
            values[name] = {name: {"type": "plain_text_input", "value": text}}
    ticked = [{"text": {"type": "plain_text", "text": e}, "value": e} for e in extras]
    values["extras"] = {"extras": {"type": "checkboxes", "selected_options": ticked}}
    return values


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
        avatars = HTTP.get(f"{sandbox_url}/v2/avatars", headers=headers).json()
        voices = HTTP.get(f"{sandbox_url}/v2/voices", headers=headers).json()
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
        body = HTTP.get(url, params=params, headers=headers).json()
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


def text_replies(slack: Any, parent_ts: str, channel: str = CHANNEL) -> list[dict]:
    """Thread replies that are messages, not the uploaded mp4."""
    return [m for m in slack.thread_replies(channel, parent_ts) if not m.get("files")]


def file_replies(slack: Any, parent_ts: str, channel: str = CHANNEL) -> list[dict]:
    """Thread replies that share a file (the uploaded mp4)."""
    return [m for m in slack.thread_replies(channel, parent_ts) if m.get("files")]


def choose(
    bot: Any, view: dict[str, Any], picker: str, value: str, *, values: dict | None = None
) -> httpx.Response:
    """Pick an avatar or voice in an open modal (`dispatch_action` sends it at once)."""
    shown = {**view, "state": {"values": values or {picker: {picker: selected(value)}}}}
    action = {
        "type": "external_select",
        "action_id": picker,
        "block_id": picker,
        "selected_option": {"text": {"type": "plain_text", "text": value}, "value": value},
    }
    return bot.send(sr.block_actions([action], view=shown))


def press(
    bot: Any,
    slack: Any,
    message: dict[str, Any],
    action_id: str,
    *,
    user_id: str = USER,
    channel: str = CHANNEL,
) -> httpx.Response:
    """Press a button of the bot's `message` (as stored by the fake), as `user_id`."""
    block_id, button = next(
        (b["block_id"], e)
        for b in message["blocks"]
        for e in [*b.get("elements", []), b.get("accessory") or {}]
        if e.get("type") == "button" and e["action_id"] == action_id
    )
    action = {
        "type": "button",
        "action_id": action_id,
        "block_id": block_id,
        "value": button.get("value", ""),
        "text": button["text"],
    }
    return bot.send(
        sr.block_actions(
            [action],
            message=message,
            channel_id=channel,
            user_id=user_id,
            slack_url=slack.url,
        )
    )


def heygen_requests(sandbox, method: str | None = None, prefix: str = "") -> list[dict]:
    entries = HTTP.get(f"{sandbox.url}/_sandbox/requests").json()["requests"]
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


def db_rows(bot: Any, query: str) -> list[dict]:
    """Rows of `query`, read straight from the bot's database (SQLite file or PostgreSQL)."""
    url = bot.settings.database_url if hasattr(bot, "settings") else bot.env.get("DATABASE_URL")
    if url:
        with psycopg.connect(url, row_factory=dict_row) as conn:
            return list(conn.execute(query))
    path = bot.settings.database_path if hasattr(bot, "settings") else bot.env["DATABASE_PATH"]
    with sqlite3.connect(path) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute(query)]


def job_rows(bot: Any) -> list[dict]:
    """The bot's jobs table."""
    return db_rows(bot, "select * from jobs")


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


def submit_and_wait_for_result(
    bot: Any, sandbox: Any, slack: Any, version: str, script: str
) -> dict:
    """Submit the modal with the first choices; the parent once its thread reply is in."""
    submit_any(bot, sandbox, version, script)
    parent = parent_message(slack)
    wait_until(lambda: text_replies(slack, parent["ts"]), message="result")
    return parent


def parent_message(slack: Any) -> dict:
    """Slack's answer to the bot's first top-level post (the announcement)."""
    call = slack.wait_for("chat.postMessage", lambda c: not c.params.get("thread_ts"))[0]
    return call.response
