"""The create-video modal: a pure function from what to prefill to the view JSON.

One builder serves every way in (slash command, shortcuts, *Make another*, App Home) and
the in-place refresh that shows avatar and voice previews, so block ids never drift
between them (Slack keeps what the user typed only while block ids stay the same).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .blocks import (
    AVATAR_STYLES,
    SANDBOX_NOTE,
    SHAPES,
    button,
    clip,
    context,
    escape,
    image,
    option,
    plain,
    section,
)
from .heygen import Avatar, Voice

MODAL_CALLBACK = "heygen_create"
RESOLUTIONS = {"720p": "720p", "1080p": "1080p"}
SLACK_INPUT_LIMIT = 3000  # Slack's cap on one plain_text_input
TITLE_LIMIT = 200
PITCH_RANGE = (-50, 50)
EXTRAS = {
    "captions": "Add captions",
    "notify_dm": "DM me when it is done",
    "test": "Test video (watermarked, uses no credit)",
}


@dataclass
class ModalChoices:
    """What the modal starts with: blank, someone's last choices, or a finished job's."""

    script: str = ""
    avatar: tuple[str, str] | None = None  # (id, label)
    voice: tuple[str, str] | None = None  # (id, label)
    shape: str = "16:9"
    resolution: str = "720p"
    speed: float = 1.0
    pitch: float = 0
    avatar_style: str = "normal"
    background: str = ""
    title: str = ""
    captions: bool = False
    notify_dm: bool = False
    test: bool = False
    channel_id: str | None = None  # where to post; None asks (global shortcut, App Home)
    thread_ts: str | None = None  # the thread results go to


@dataclass
class ModalFeatures:
    """What this bot's HeyGen API offers, and what to show beside the inputs."""

    script_limit: int
    avatar_styles: bool = False  # v2 only
    test_mode: bool = False  # v2 only
    sandbox: bool = False
    avatar_preview: Avatar | None = None
    voice_preview: Voice | None = None
    preview_images: bool = True  # False once Slack failed to load a preview image
    notes: list[str] = field(default_factory=list)  # the bot's own mrkdwn, shown on top


def create_modal(choices: ModalChoices, features: ModalFeatures) -> dict[str, Any]:
    """The modal; the conversation and thread to post to ride in private_metadata."""
    blocks: list[dict[str, Any]] = [context(note) for note in features.notes]
    avatar = _external("avatar", "Search avatars", choices.avatar)
    blocks.append(_input("avatar", "Avatar", avatar, dispatch=True))
    if features.avatar_preview:
        blocks.append(_avatar_preview(features.avatar_preview, features.preview_images))
    voice = _external("voice", "Search by name, language or gender", choices.voice)
    blocks.append(_input("voice", "Voice", voice, dispatch=True))
    if features.voice_preview:
        blocks.append(_voice_preview(features.voice_preview))
    blocks += _script_inputs(choices.script, features.script_limit)
    blocks += [
        _input("shape", "Shape", _static("shape", SHAPES, choices.shape)),
        _input("resolution", "Resolution", _static("resolution", RESOLUTIONS, choices.resolution)),
        _input(
            "speed",
            "Speed",
            _number("speed", 0.5, 1.5, choices.speed, decimal=True),
            hint="0.5 (slow) to 1.5 (fast).",
        ),
        _input(
            "pitch",
            "Pitch",
            _number("pitch", *PITCH_RANGE, choices.pitch, decimal=False),
            hint="-50 (lower) to 50 (higher); 0 is the voice as recorded.",
        ),
    ]
    if features.avatar_styles:
        style = _static("avatar_style", AVATAR_STYLES, choices.avatar_style)
        blocks.append(_input("avatar_style", "Avatar style", style))
    blocks += [
        _input(
            "background",
            "Background colour",
            _line("background", choices.background, 7, "#FFFFFF"),
            hint="A hex colour like #FFFFFF; leave empty for the avatar's own background.",
            optional=True,
        ),
        _input(
            "title",
            "Video title",
            _line("title", choices.title, TITLE_LIMIT, "Shown in HeyGen and in Slack"),
            optional=True,
        ),
        _input("extras", "Options", _extras(choices, features), optional=True),
        _input("post_to", "Post to", _conversation_select(choices.channel_id)),
    ]
    if features.sandbox:
        blocks.append(context(SANDBOX_NOTE))
    metadata = {"channel_id": choices.channel_id, "thread_ts": choices.thread_ts}
    return {
        "type": "modal",
        "callback_id": MODAL_CALLBACK,
        "title": plain("HeyGen avatar video"),
        "submit": plain("Create video"),
        "close": plain("Cancel"),
        "private_metadata": json.dumps(metadata),
        "blocks": blocks,
    }


def _avatar_preview(avatar: Avatar, show_image: bool) -> dict[str, Any]:
    """The chosen avatar's picture; a link to it where Slack could not load the image."""
    name = escape(avatar.name)
    url = avatar.preview_image_url
    if url and show_image:
        block = {**image(url, f"Preview of {avatar.name}"), "title": plain(clip(avatar.name, 200))}
    elif url:
        block = section(
            f":frame_with_picture: *{name}*", button("See preview", "open_avatar_preview", url=url)
        )
    else:
        block = context(f"No preview image for *{name}*.")
    return {**block, "block_id": "avatar_preview"}


def _voice_preview(voice: Voice) -> dict[str, Any]:
    """A link to the chosen voice's audio sample (Slack plays it in the browser)."""
    name = escape(voice.name)
    url = voice.preview_audio_url
    if url:
        play = button("Play sample", "open_voice_preview", url=url)
        block = section(f":loud_sound: Hear *{name}* before you choose.", play)
    else:
        block = context(f"No audio sample for *{name}*.")
    return {**block, "block_id": "voice_preview"}


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
    element = _line(action_id, initial, max_length, placeholder)
    element["multiline"] = True
    return element


def _line(action_id: str, initial: str, max_length: int, placeholder: str) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": action_id,
        "max_length": max_length,
        "placeholder": plain(placeholder),
    }
    if initial:
        element["initial_value"] = initial[:max_length]
    return element


def _number(action_id: str, low: float, high: float, initial: float, *, decimal: bool) -> dict:
    def shown(value: float) -> str:
        if not decimal:
            return str(int(value))
        text = f"{value:g}"
        return text if "." in text else text + ".0"

    return {
        "type": "number_input",
        "action_id": action_id,
        "is_decimal_allowed": decimal,
        "min_value": shown(low),
        "max_value": shown(high),
        "initial_value": shown(initial),
    }


def _input(
    block_id: str,
    label: str,
    element: dict[str, Any],
    *,
    hint: str | None = None,
    optional: bool = False,
    dispatch: bool = False,
) -> dict[str, Any]:
    block = {
        "type": "input",
        "block_id": block_id,
        "label": plain(label),
        "element": element,
        "optional": optional,
    }
    if dispatch:  # choosing sends an action at once, so the modal can show a preview
        block["dispatch_action"] = True
    if hint:
        block["hint"] = plain(hint)
    return block


def _external(action_id: str, placeholder: str, initial: tuple[str, str] | None) -> dict:
    element: dict[str, Any] = {
        "type": "external_select",
        "action_id": action_id,
        "min_query_length": 0,
        "placeholder": plain(placeholder),
    }
    if initial:
        value, label = initial
        element["initial_option"] = option(clip(label, 75), value)
    return element


def _static(action_id: str, choices: dict[str, str], initial: str) -> dict[str, Any]:
    options = [option(label, value) for value, label in choices.items()]
    chosen = initial if initial in choices else next(iter(choices))
    return {
        "type": "static_select",
        "action_id": action_id,
        "options": options,
        "initial_option": option(choices[chosen], chosen),
    }


def _extras(choices: ModalChoices, features: ModalFeatures) -> dict[str, Any]:
    shown = {k: v for k, v in EXTRAS.items() if k != "test" or features.test_mode}
    element: dict[str, Any] = {
        "type": "checkboxes",
        "action_id": "extras",
        "options": [option(label, value) for value, label in shown.items()],
    }
    ticked = [option(label, v) for v, label in shown.items() if getattr(choices, v)]
    if ticked:
        element["initial_options"] = ticked
    return element


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
    return {"options": [option(clip(label, 75), value) for label, value in choices[:100]]}
