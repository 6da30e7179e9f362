"""Block Kit builders: pure functions from data to the JSON Slack renders.

User text (scripts, names that came from HeyGen) never reaches Slack as markup: it is
either escaped for mrkdwn or placed in rich-text elements, which Slack shows literally,
so a script saying `<!channel>` cannot ping anybody.
"""

from __future__ import annotations

import json
from typing import Any

from .store import (
    CANCELLED,
    COMPLETED,
    FAILED,
    NEW,
    PENDING,
    PROCESSING,
    QUEUED,
    SUBMITTING,
    TIMED_OUT,
    Job,
)

MODAL_CALLBACK = "heygen_create"
SHAPES = {"16:9": "Landscape 16:9", "9:16": "Portrait 9:16", "1:1": "Square 1:1"}
RESOLUTIONS = {"720p": "720p", "1080p": "1080p"}
SCRIPT_QUOTE_LIMIT = 2900
SLACK_INPUT_LIMIT = 3000  # Slack's cap on one plain_text_input
SANDBOX_NOTE = (
    ":test_tube: *Sandbox*: made by the bot's built-in HeyGen sandbox, not by HeyGen. "
    "Set `HEYGEN_API_KEY` for real videos."
)


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _context(*texts: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": t} for t in texts]}


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def _option(label: str, value: str) -> dict[str, Any]:
    return {"text": _plain(label), "value": value}


# The modal.
def create_modal(
    *,
    script: str,
    script_limit: int,
    channel_id: str | None,
    thread_ts: str | None = None,
    sandbox: bool = False,
) -> dict[str, Any]:
    """The `/heygen` modal; the conversation and thread to post to ride in metadata."""
    blocks: list[dict[str, Any]] = [
        _input("avatar", "Avatar", _external("avatar", "Search avatars by name or gender")),
        _input("voice", "Voice", _external("voice", "Search by name, language or gender")),
        *_script_inputs(script, script_limit),
        _input("shape", "Shape", _static("shape", SHAPES, "16:9")),
        _input("resolution", "Resolution", _static("resolution", RESOLUTIONS, "720p")),
        _input(
            "speed",
            "Speed",
            {
                "type": "number_input",
                "action_id": "speed",
                "is_decimal_allowed": True,
                "min_value": "0.5",
                "max_value": "1.5",
                "initial_value": "1.0",
            },
            hint="0.5 (slow) to 1.5 (fast).",
        ),
        _input("post_to", "Post to", _conversation_select(channel_id)),
    ]
    if sandbox:
        blocks.append(_context(SANDBOX_NOTE))
    return {
        "type": "modal",
        "callback_id": MODAL_CALLBACK,
        "title": _plain("HeyGen avatar video"),
        "submit": _plain("Create video"),
        "close": _plain("Cancel"),
        "private_metadata": json.dumps({"channel_id": channel_id, "thread_ts": thread_ts}),
        "blocks": blocks,
    }


def _script_inputs(script: str, limit: int) -> list[dict[str, Any]]:
    """One script box, or two where HeyGen takes more than Slack's 3,000-character box."""
    first = min(limit, SLACK_INPUT_LIMIT)
    hint = f"Up to {limit:,} characters."
    if limit > first:
        hint = f"Up to {limit:,} characters: Slack fits {first:,} in this box, the rest below."
    box = _text_input("script", script[:first], first, "What should the avatar say?")
    inputs = [_input("script", "Script", box, hint=hint)]
    if limit > first:
        more = _text_input(
            "script_more", script[first:limit], limit - first, "Only for scripts over 3,000"
        )
        inputs.append(_input("script_more", "Script, continued", more, optional=True))
    return inputs


def _text_input(action_id: str, initial: str, max_length: int, placeholder: str) -> dict[str, Any]:
    element = {
        "type": "plain_text_input",
        "action_id": action_id,
        "multiline": True,
        "max_length": max_length,
        "placeholder": _plain(placeholder),
    }
    if initial:
        element["initial_value"] = initial
    return element


def _input(
    block_id: str,
    label: str,
    element: dict[str, Any],
    *,
    hint: str | None = None,
    optional: bool = False,
) -> dict[str, Any]:
    block = {
        "type": "input",
        "block_id": block_id,
        "label": _plain(label),
        "element": element,
        "optional": optional,
    }
    if hint:
        block["hint"] = _plain(hint)
    return block


def _external(action_id: str, placeholder: str) -> dict[str, Any]:
    return {
        "type": "external_select",
        "action_id": action_id,
        "min_query_length": 0,
        "placeholder": _plain(placeholder),
    }


def _static(action_id: str, choices: dict[str, str], initial: str) -> dict[str, Any]:
    options = [_option(label, value) for value, label in choices.items()]
    return {
        "type": "static_select",
        "action_id": action_id,
        "options": options,
        "initial_option": _option(choices[initial], initial),
    }


def _conversation_select(channel_id: str | None) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "conversations_select",
        "action_id": "post_to",
        "default_to_current_conversation": True,
        "filter": {"include": ["public", "private", "mpim", "im"], "exclude_bot_users": True},
    }
    if channel_id:
        element["initial_conversation"] = channel_id
    return element


def options_payload(choices: list[tuple[str, str]]) -> dict[str, Any]:
    """An options-load answer: (label, value) pairs; Slack caps labels at 75 chars."""
    return {"options": [_option(_clip(label, 75), value) for label, value in choices[:100]]}


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# Messages about a job.
STATUS_LINES = {
    NEW: ":hourglass_flowing_sand: Sending to HeyGen…",
    SUBMITTING: ":hourglass_flowing_sand: Sending to HeyGen…",
    QUEUED: ":hourglass: Queued: waiting for a free HeyGen render slot",
    PENDING: ":hourglass_flowing_sand: Waiting for HeyGen to start rendering",
    PROCESSING: ":clapper: Rendering",
    COMPLETED: ":white_check_mark: Done. The video is in the thread.",
    FAILED: ":x: Failed. The reason is in the thread.",
    TIMED_OUT: ":alarm_clock: Timed out. Details in the thread.",
    CANCELLED: ":no_entry_sign: Cancelled.",
}


def parent_text(job: Job) -> str:
    return f"<@{job.user_id}> is generating an avatar video ({STATUS_LINES[job.status]})"


def parent_blocks(
    job: Job, *, now: float, queue_position: int | None = None
) -> list[dict[str, Any]]:
    """The announcement in the channel, kept current by `chat.update`."""
    details = (
        f"*Avatar:* {escape(job.avatar_name)}  ·  *Voice:* {escape(job.voice_name)}  ·  "
        f"*Shape:* {SHAPES.get(job.shape, job.shape)}  ·  {job.resolution}  ·  "
        f"*Speed:* {job.speed:g}×"
    )
    blocks = [
        _section(f"<@{job.user_id}> is generating an avatar video"),
        _context(details),
        _quote(job.script),
        _context(_status_line(job, now, queue_position)),
    ]
    if job.redirected_from:
        blocks.insert(
            1,
            _context(
                f":warning: I couldn't post in <#{job.redirected_from}>, so this is a DM. "
                "Invite me there with `/invite` to post in it next time."
            ),
        )
    if job.sandbox:
        blocks.append(_context(SANDBOX_NOTE))
    return blocks


def _status_line(job: Job, now: float, queue_position: int | None = None) -> str:
    line = STATUS_LINES[job.status]
    if job.status == QUEUED and queue_position:
        line = (
            f":hourglass: Queued, position {queue_position}: HeyGen is rendering as many "
            "videos as this account allows; this one starts when a slot frees up"
        )
    if job.status in (PENDING, PROCESSING) and job.submitted_at:
        line += f" ({_elapsed(now - job.submitted_at)} so far)"
    return line


def _quote(text: str) -> dict[str, Any]:
    """The script as a rich-text quote: Slack renders its characters literally."""
    shown = text if len(text) <= SCRIPT_QUOTE_LIMIT else text[:SCRIPT_QUOTE_LIMIT] + "…"
    return {
        "type": "rich_text",
        "elements": [{"type": "rich_text_quote", "elements": [{"type": "text", "text": shown}]}],
    }


def _elapsed(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown length"
    whole = round(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def result_text(job: Job) -> str:
    if job.status == COMPLETED:
        return f"<@{job.user_id}> your avatar video is ready: {job.video_url}"
    if job.status == TIMED_OUT:
        return f"<@{job.user_id}> your avatar video timed out"
    if job.status == CANCELLED:
        return f"<@{job.user_id}> your avatar video was cancelled"
    return f"<@{job.user_id}> your avatar video failed: {escape(job.failure_message or '')}"


def result_blocks(job: Job, *, timeout_seconds: float) -> list[dict[str, Any]]:
    """The one final thread reply: the video, or exactly why there is none."""
    if job.status == COMPLETED:
        blocks = _completed_blocks(job)
    elif job.status == TIMED_OUT:
        blocks = [
            _section(
                f":alarm_clock: <@{job.user_id}> HeyGen had not finished this video after "
                f"{_elapsed(timeout_seconds)}, so the bot stopped waiting. Last status: "
                f"*{job.failure_message or 'unknown'}*. HeyGen video id: `{job.video_id or '-'}`."
            )
        ]
    elif job.status == CANCELLED:
        blocks = [_section(f":no_entry_sign: <@{job.user_id}> this video was cancelled.")]
    else:
        blocks = [_section(_failure_text(job))]
    if job.sandbox:
        blocks.append(_context(SANDBOX_NOTE))
    return blocks


def _completed_blocks(job: Job) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": (
                    f":movie_camera: <@{job.user_id}> your avatar video is ready "
                    f"({_duration(job.duration)})."
                ),
            },
            "accessory": {
                "type": "button",
                "text": _plain("Watch / download"),
                "url": job.video_url,
                "action_id": "open_video",
                "style": "primary",
            },
        }
    ]
    if job.thumbnail_url:
        blocks.append(
            {
                "type": "image",
                "image_url": job.thumbnail_url,
                "alt_text": "Video thumbnail",
                "title": _plain("Thumbnail"),
            }
        )
    if job.gif_url:
        blocks.append(
            {
                "type": "image",
                "image_url": job.gif_url,
                "alt_text": "Animated preview of the video",
                "title": _plain("Preview"),
            }
        )
    blocks.append(
        _context(
            f"Length {_duration(job.duration)}  ·  HeyGen's link expires in 7 days: "
            "download the video to keep it."
        )
    )
    return blocks


def _failure_text(job: Job) -> str:
    message = escape(job.failure_message or "HeyGen gave no reason")
    code = f" (code `{escape(job.failure_code)}`)" if job.failure_code else ""
    return f":x: <@{job.user_id}> HeyGen could not make this video: *{message}*{code}"


def rejection_text(job: Job) -> str:
    """Ephemeral note when HeyGen refuses the create call itself."""
    reason = escape(job.failure_message or "no reason given")
    code = f" (`{escape(job.failure_code)}`)" if job.failure_code else ""
    return f":x: HeyGen refused to start your avatar video: *{reason}*{code}. Nothing was rendered."
