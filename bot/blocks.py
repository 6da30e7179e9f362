"""Block Kit builders for messages: pure functions from data to the JSON Slack renders.

User text (scripts, titles, names that came from HeyGen) never reaches Slack as markup:
it is either escaped for mrkdwn or placed in rich-text elements, which Slack shows
literally, so a script saying `<!channel>` cannot ping anybody. The modal lives in
`modal.py` and App Home in `home.py`; both build on the primitives here.
"""

from __future__ import annotations

import time
from typing import Any

from .catalog import avatar_label, voice_label
from .heygen import Avatar, Voice
from .jobs import (
    CANCELLED,
    COMPLETED,
    FAILED,
    NEW,
    PENDING,
    PROCESSING,
    QUEUED,
    SUBMITTING,
    TIMED_OUT,
    UNFINISHED,
    Job,
)

SHAPES = {"16:9": "Landscape 16:9", "9:16": "Portrait 9:16", "1:1": "Square 1:1"}
AVATAR_STYLES = {"normal": "Normal", "circle": "Circle", "closeUp": "Close-up"}
SCRIPT_QUOTE_LIMIT = 2900
SANDBOX_NOTE = (
    ":test_tube: *Sandbox*: made by the bot's built-in HeyGen sandbox, not by HeyGen. "
    "Set `HEYGEN_API_KEY` for real videos."
)
# Distribution mode: the workspace has no HeyGen key of its own (yet).
WORKSPACE_SANDBOX_NOTE = (
    ":test_tube: *Sandbox*: made by the app's built-in HeyGen sandbox, not by HeyGen. "
    "For real videos, a workspace admin adds your team's HeyGen API key in the app's "
    "*Home* tab."
)
SANDBOX_ACCOUNT = "sandbox"  # `Job.account` of a workspace's sandbox videos (accounts.py)


def sandbox_note(job: Job) -> str:
    """Which sandbox note a sandbox video carries: where to set a key differs by mode."""
    return WORKSPACE_SANDBOX_NOTE if job.account == SANDBOX_ACCOUNT else SANDBOX_NOTE


# Buttons on the bot's messages; each carries the job id as its value.
CANCEL = "cancel_job"
RETRY = "retry_job"
MAKE_ANOTHER = "make_another"
FRESH_LINK = "fresh_link"
LINK_PREFIX = "open_"  # link buttons: Slack still sends an action, which is only acked


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def section(text: str, accessory: dict[str, Any] | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn", "text": text}}
    if accessory:
        block["accessory"] = accessory
    return block


def context(*texts: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": t} for t in texts]}


def plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def option(label: str, value: str) -> dict[str, Any]:
    return {"text": plain(label), "value": value}


def button(
    label: str,
    action_id: str,
    *,
    value: str | None = None,
    url: str | None = None,
    style: str | None = None,
    confirm: dict[str, Any] | None = None,
) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "button", "text": plain(label), "action_id": action_id}
    extras = {"value": value, "url": url, "style": style, "confirm": confirm}
    element.update({k: v for k, v in extras.items() if v})
    return element


def actions(block_id: str, *elements: dict[str, Any]) -> dict[str, Any]:
    return {"type": "actions", "block_id": block_id, "elements": list(elements)}


def image(url: str, alt: str) -> dict[str, Any]:
    return {"type": "image", "image_url": url, "alt_text": clip(alt, 2000)}


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def without_images(content: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same blocks minus images: for when Slack cannot fetch one (a sandbox URL)."""
    kept = []
    for block in content:
        if block["type"] == "image":
            continue
        if block.get("accessory", {}).get("type") == "image":
            block = {k: v for k, v in block.items() if k != "accessory"}
        kept.append(block)
    return kept


def slack_date(at: float) -> str:
    """A timestamp every reader sees in their own time zone."""
    fallback = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(at))
    return f"<!date^{int(at)}^{{date_short_pretty}} {{time}}|{fallback}>"


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
SHORT_STATUS = {
    NEW: ":hourglass_flowing_sand: Sending",
    SUBMITTING: ":hourglass_flowing_sand: Sending",
    QUEUED: ":hourglass: Queued",
    PENDING: ":hourglass_flowing_sand: Waiting to render",
    PROCESSING: ":clapper: Rendering",
    COMPLETED: ":white_check_mark: Done",
    FAILED: ":x: Failed",
    TIMED_OUT: ":alarm_clock: Timed out",
    CANCELLED: ":no_entry_sign: Cancelled",
}


def parent_text(job: Job) -> str:
    return f"<@{job.user_id}> is generating an avatar video ({STATUS_LINES[job.status]})"


def parent_blocks(
    job: Job, *, now: float, queue_position: int | None = None
) -> list[dict[str, Any]]:
    """The announcement in the channel, kept current by `chat.update`, with its buttons."""
    blocks = [
        section(f"<@{job.user_id}> is generating an avatar video"),
        context(_details(job)),
        _quote(job.script),
        context(_status_line(job, now, queue_position)),
        _job_buttons(job),
    ]
    if job.redirected_from:
        blocks.insert(
            1,
            context(
                f":warning: I couldn't post in <#{job.redirected_from}>, so this is a DM. "
                "Invite me there with `/invite` to post in it next time."
            ),
        )
    if job.sandbox:
        blocks.append(context(sandbox_note(job)))
    return blocks


def _details(job: Job) -> str:
    parts = [
        f"*Avatar:* {escape(job.avatar_name)}",
        f"*Voice:* {escape(job.voice_name)}",
        f"*Shape:* {SHAPES.get(job.shape, job.shape)}",
        job.resolution,
        f"*Speed:* {job.speed:g}×",
    ]
    if job.pitch:
        parts.append(f"*Pitch:* {job.pitch:+g}")
    if job.avatar_style != "normal":
        parts.append(f"*Style:* {AVATAR_STYLES.get(job.avatar_style, job.avatar_style)}")
    if job.background:
        parts.append(f"*Background:* {escape(job.background)}")
    if job.captions:
        parts.append("Captions")
    if job.test:
        parts.append("Test video")
    if job.title:
        parts.append(f"*Title:* {escape(job.title)}")
    return "  ·  ".join(parts)


def _job_buttons(job: Job) -> dict[str, Any]:
    """Cancel while unfinished; Retry after a failure; Make another once finished."""
    value = job.id
    if not job.finished:
        confirm = {
            "title": plain("Cancel this video?"),
            "text": plain("The bot stops waiting for HeyGen and says so in the thread."),
            "confirm": plain("Cancel video"),
            "deny": plain("Keep it"),
        }
        elements = [button("Cancel", CANCEL, value=value, style="danger", confirm=confirm)]
    elif job.status in (FAILED, TIMED_OUT):
        elements = [
            button("Retry", RETRY, value=value, style="primary"),
            button("Make another", MAKE_ANOTHER, value=value),
        ]
    else:
        elements = [button("Make another", MAKE_ANOTHER, value=value)]
    return actions("job_actions", *elements)


def _status_line(job: Job, now: float, queue_position: int | None = None) -> str:
    line = STATUS_LINES[job.status]
    if job.status == QUEUED and queue_position:
        line = (
            f":hourglass: Queued, position {queue_position}: HeyGen is rendering as many "
            "videos as this account allows; this one starts when a slot frees up"
        )
    if job.status in (PENDING, PROCESSING) and job.submitted_at:
        line += f" ({elapsed(now - job.submitted_at)} so far)"
    return line


def _quote(text: str) -> dict[str, Any]:
    """The script as a rich-text quote: Slack renders its characters literally."""
    shown = text if len(text) <= SCRIPT_QUOTE_LIMIT else text[:SCRIPT_QUOTE_LIMIT] + "…"
    return {
        "type": "rich_text",
        "elements": [{"type": "rich_text_quote", "elements": [{"type": "text", "text": shown}]}],
    }


def elapsed(seconds: float) -> str:
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
            section(
                f":alarm_clock: <@{job.user_id}> HeyGen had not finished this video after "
                f"{elapsed(timeout_seconds)}, so the bot stopped waiting. Last status: "
                f"*{job.failure_message or 'unknown'}*. HeyGen video id: `{job.video_id or '-'}`."
            )
        ]
    elif job.status == CANCELLED:
        blocks = [section(f":no_entry_sign: <@{job.user_id}> this video was cancelled.")]
    else:
        blocks = [section(_failure_text(job))]
    if job.sandbox:
        blocks.append(context(sandbox_note(job)))
    return blocks


def _completed_blocks(job: Job) -> list[dict[str, Any]]:
    watch = button("Watch / download", "open_video", url=job.video_url, style="primary")
    blocks: list[dict[str, Any]] = [
        section(
            f":movie_camera: <@{job.user_id}> your avatar video is ready "
            f"({_duration(job.duration)}).",
            watch,
        )
    ]
    if job.thumbnail_url:
        blocks.append({**image(job.thumbnail_url, "Video thumbnail"), "title": plain("Thumbnail")})
    if job.gif_url:
        preview = image(job.gif_url, "Animated preview of the video")
        blocks.append({**preview, "title": plain("Preview")})
    blocks.append(actions("result_actions", button("Get a fresh link", FRESH_LINK, value=job.id)))
    blocks.append(
        context(
            f"Length {_duration(job.duration)}  ·  HeyGen's link expires in 7 days: "
            "*Get a fresh link* makes a new one."
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


def key_rejected_text(job: Job) -> str:
    """The one note, in the thread, while HeyGen refuses the bot's key; never the key."""
    return (
        f":warning: <@{job.user_id}> the bot's HeyGen key was rejected, so this video is on "
        "hold. It will continue by itself once an admin fixes the key; nothing is lost."
    )


# After the result: the mp4 upload, its fallback note, the opt-in DM, fresh links.
UPLOAD_COMMENT = "The video file, so it plays right here and outlasts HeyGen's 7-day link."


def upload_fallback_text(reason: str) -> str:
    """Why the mp4 is not attached; `reason` is the bot's own wording, never user text."""
    return (
        f":information_source: {reason}, so the video is not attached here: use "
        "*Watch / download* above. HeyGen's link lasts 7 days; *Get a fresh link* makes a new one."
    )


def dm_text(job: Job) -> str:
    if job.status == COMPLETED:
        return "Your avatar video is ready."
    return f"Your avatar video did not finish ({SHORT_STATUS[job.status]})."


def dm_blocks(job: Job, permalink: str | None) -> list[dict[str, Any]]:
    """The opt-in direct message: where the video (or the reason) is."""
    where = f"<{permalink}|in the thread>" if permalink else f"in <#{job.channel_id}>"
    label = escape(job_label(job))
    if job.status == COMPLETED:
        text = f":movie_camera: Your avatar video *{label}* is ready {where}."
        accessory = button("Watch / download", "open_video", url=job.video_url)
    else:
        reason = escape(job.failure_message or "no reason given")
        text = f"{SHORT_STATUS[job.status]}: *{label}* did not finish ({reason}). Details {where}."
        accessory = None
    blocks = [section(text, accessory if job.video_url else None)]
    if job.sandbox:
        blocks.append(context(sandbox_note(job)))
    return blocks


def fresh_link_blocks(job: Job, url: str) -> list[dict[str, Any]]:
    """The ephemeral answer to *Get a fresh link*."""
    return [
        section(
            f":link: A fresh link to *{escape(job_label(job))}*, good for HeyGen's next 7 days.",
            button("Watch / download", "open_fresh_video", url=url, style="primary"),
        )
    ]


# Summaries of a person's jobs (`/heygen status`, App Home).
def job_label(job: Job) -> str:
    """What to call a job in a list: its title, else the start of its script."""
    return clip(job.title or " ".join(job.script.split()), 60)


def job_summary(job: Job) -> str:
    """One mrkdwn line per job; the label is escaped, the rest is the bot's own text."""
    where = "a DM" if job.channel_id.startswith(("D", "U")) else f"<#{job.channel_id}>"
    return (
        f"{SHORT_STATUS[job.status]}  *{escape(job_label(job))}*\n"
        f"{where}  ·  {slack_date(job.created_at)}"
    )


def status_blocks(jobs: list[Job]) -> list[dict[str, Any]]:
    """`/heygen status`: running videos first, then the most recent finished ones."""
    if not jobs:
        return [section("You have not made any avatar videos yet. Type `/heygen` to start.")]
    running = [j for j in jobs if j.status in UNFINISHED]
    done = [j for j in jobs if j.status not in UNFINISHED]
    blocks: list[dict[str, Any]] = []
    for title, group in (("Running", running), ("Recent", done)):
        if not group:
            continue
        blocks.append(section(f"*{title}*"))
        for job in group:
            link = (
                button("Watch", "open_status_video", url=job.video_url)
                if job.status == COMPLETED and job.video_url
                else None
            )
            blocks.append(section(job_summary(job), link))
    return blocks


def search_blocks(kind: str, query: str, found: list[Any], shown: int = 10) -> list[dict]:
    """`/heygen avatars|voices <words>`: the first matches, with picture or audio sample."""
    asked = f" matching *{escape(query.strip())}*" if query.strip() else ""
    if not found:
        return [section(f"No {kind}{asked}. Try fewer or other words.")]
    rows = [section(f"*{len(found)} {kind}*{asked}:")]
    rows += [_catalog_row(item) for item in found[:shown]]
    if len(found) > shown:
        rows.append(context(f"Showing the first {shown}; add words to narrow it down."))
    rows.append(context("Type `/heygen` to make a video with one of them."))
    return rows


def _catalog_row(item: Avatar | Voice) -> dict[str, Any]:
    if isinstance(item, Avatar):
        text = f"*{escape(avatar_label(item))}*\n`{escape(item.id)}`"
        url = item.preview_image_url
        return section(text, image(url, f"Preview of {item.name}") if url else None)
    text = f"*{escape(voice_label(item))}*\n`{escape(item.id)}`"
    url = item.preview_audio_url
    return section(text, button("Play sample", "open_voice_sample", url=url) if url else None)


METADATA_TYPE = "heygen_video"


def message_metadata(job: Job, kind: str) -> dict[str, Any]:
    """Marks our messages so a restarted bot can recognise what it already sent."""
    return {"event_type": METADATA_TYPE, "event_payload": {"job_id": job.id, "kind": kind}}
