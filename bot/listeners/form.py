"""Reading the create modal: its answers, their validation, and the job they describe.

Used by the submission (to record a job) and by the preview refresh (to rebuild the
modal from what is filled in so far), so both read the form the same way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from ..accounts import ACCOUNT
from ..blocks import AVATAR_STYLES, SHAPES
from ..jobs import Job
from ..modal import PITCH_RANGE, RESOLUTIONS, TITLE_LIMIT, ModalChoices
from ..workspaces import CURRENT

HEX_COLOUR = re.compile(r"^#?([0-9A-Fa-f]{6}|[0-9A-Fa-f]{3})$")
CHECKBOXES = "extras"


def read_form(view: dict) -> dict[str, Any]:
    """The modal's answers by block id: selected values, typed text, ticked boxes."""
    values = view.get("state", {}).get("values", {})
    form: dict[str, Any] = {}
    for block_id, answers in values.items():
        for answer in answers.values():
            if block_id == CHECKBOXES:
                form[block_id] = [o.get("value") for o in answer.get("selected_options") or []]
                continue
            selected = answer.get("selected_option") or {}
            form[block_id] = (
                selected.get("value") or answer.get("selected_conversation") or answer.get("value")
            )
    return form


def metadata(view: dict) -> dict[str, Any]:
    """Where the modal was opened from: `channel_id` and `thread_ts`."""
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}
    return meta if isinstance(meta, dict) else {}


def script(form: dict[str, Any]) -> str:
    """The script, joined from its one or two boxes."""
    return ((form.get("script") or "") + (form.get("script_more") or "")).strip()


def speed(raw: Any) -> float | None:
    try:
        value = float(raw if raw not in (None, "") else 1.0)
    except (TypeError, ValueError):
        return None
    return value if 0.5 <= value <= 1.5 else None


def pitch(raw: Any) -> int | None:
    try:
        value = float(raw if raw not in (None, "") else 0)
    except (TypeError, ValueError):
        return None
    low, high = PITCH_RANGE
    return int(value) if value == int(value) and low <= value <= high else None


def background(raw: Any) -> str | None:
    """`#RRGGBB` (upper case), None when empty; ValueError when it is not a hex colour."""
    text = (raw or "").strip()
    if not text:
        return None
    match = HEX_COLOUR.match(text)
    if not match:
        raise ValueError(text)
    digits = match.group(1)
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    return "#" + digits.upper()


def title(form: dict[str, Any]) -> str | None:
    return (form.get("title") or "").strip() or None


def extras(form: dict[str, Any]) -> set[str]:
    return set(form.get(CHECKBOXES) or [])


def errors(form: dict[str, Any], services: Any) -> dict[str, str]:
    """Inline errors keyed by block id; empty when the form can be submitted."""
    found: dict[str, str] = {}
    catalog, limit = services.catalog, services.heygen.script_limit
    text = script(form)
    if not text:
        found["script"] = "Write what the avatar should say."
    elif len(text) > limit:
        found["script"] = (
            f"The script is {len(text):,} characters; HeyGen takes at most "
            f"{limit:,}. Shorten it by {len(text) - limit:,}."
        )
    if not form.get("avatar"):
        found["avatar"] = "Choose an avatar."
    elif catalog.avatars.items and form["avatar"] not in catalog.avatars.by_id:
        found["avatar"] = "This avatar is no longer available; choose another."
    if not form.get("voice"):
        found["voice"] = "Choose a voice."
    elif catalog.voices.items and form["voice"] not in catalog.voices.by_id:
        found["voice"] = "This voice is no longer available; choose another."
    if form.get("shape") not in SHAPES:
        found["shape"] = "Choose landscape, portrait or square."
    if form.get("resolution") not in RESOLUTIONS:
        found["resolution"] = "Choose 720p or 1080p."
    if speed(form.get("speed")) is None:
        found["speed"] = "Speed is a number from 0.5 to 1.5."
    if pitch(form.get("pitch")) is None:
        found["pitch"] = "Pitch is a whole number from -50 to 50."
    if form.get("avatar_style", "normal") not in AVATAR_STYLES:
        found["avatar_style"] = "Choose normal, circle or close-up."
    try:
        background(form.get("background"))
    except ValueError:
        found["background"] = "Use a hex colour like #FFFFFF (or leave it empty)."
    if len(title(form) or "") > TITLE_LIMIT:
        found["title"] = f"Keep the title under {TITLE_LIMIT} characters."
    if not form.get("post_to"):
        found["post_to"] = "Choose where to post the video."
    return found


def choices(
    form: dict[str, Any], meta: dict[str, Any], labels: Callable[[str, str], str]
) -> ModalChoices:
    """What is filled in so far, as the modal's starting point (for an in-place refresh).

    `labels(kind, id)` names a chosen avatar or voice, as the picker showed it.
    """
    ticked = extras(form)
    try:
        colour = background(form.get("background")) or ""
    except ValueError:
        colour = form.get("background") or ""
    picked = {
        kind: (form[kind], labels(kind, form[kind])) if form.get(kind) else None
        for kind in ("avatar", "voice")
    }
    return ModalChoices(
        script=script(form),
        avatar=picked["avatar"],
        voice=picked["voice"],
        shape=form.get("shape") or "16:9",
        resolution=form.get("resolution") or "720p",
        speed=speed(form.get("speed")) or 1.0,
        pitch=pitch(form.get("pitch")) or 0,
        avatar_style=form.get("avatar_style") or "normal",
        background=colour,
        title=title(form) or "",
        captions="captions" in ticked,
        notify_dm="notify_dm" in ticked,
        test="test" in ticked,
        channel_id=meta.get("channel_id"),  # where it was opened: decides the thread
        thread_ts=meta.get("thread_ts"),
    )


def job(
    form: dict[str, Any],
    job_id: str,
    user_id: str,
    team_id: str,
    meta: dict[str, Any],
    services: Any,
) -> Job:
    """The job a valid form asks for; names come from the catalog when it knows them."""
    channel = form["post_to"]
    catalog = services.catalog
    avatar = catalog.avatars.by_id.get(form["avatar"])
    voice = catalog.voices.by_id.get(form["voice"])
    ticked = extras(form)
    workspace, account = CURRENT.get(), ACCOUNT.get()
    return Job(
        id=job_id,
        team_id=team_id,
        channel_id=channel,
        user_id=user_id,
        api_version=services.heygen.version,
        avatar_id=form["avatar"],
        avatar_name=avatar.name if avatar else form["avatar"],
        voice_id=form["voice"],
        voice_name=voice.name if voice else form["voice"],
        script=script(form),
        shape=form["shape"],
        resolution=form["resolution"],
        speed=speed(form.get("speed")) or 1.0,
        pitch=pitch(form.get("pitch")) or 0,
        avatar_style=form.get("avatar_style") or "normal",
        background=background(form.get("background")),
        title=title(form),
        captions="captions" in ticked,
        notify_dm="notify_dm" in ticked,
        test="test" in ticked and services.heygen.test_mode,
        thread_ts=meta.get("thread_ts") if channel == meta.get("channel_id") else None,
        sandbox=services.uses_sandbox,
        enterprise_id=workspace.enterprise_id if workspace else None,
        account=account.id if account else None,
    )
