"""The submitted modal: validate, then record the job; the poller does the rest."""

from __future__ import annotations

import json
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncBoltContext

from ..blocks import RESOLUTIONS, SHAPES
from ..store import Job, new_job_id


async def create_video_submission(
    ack: AsyncAck, body: dict, view: dict, context: AsyncBoltContext
) -> None:
    services = context["services"]
    form = _form(view)
    errors = _errors(form, services)
    if errors:
        await ack(response_action="errors", errors=errors)
        return
    await ack()
    if services.store.add_job(_job(form, body, view, services)):
        services.job_added()


def _form(view: dict) -> dict[str, Any]:
    """The modal's answers by block id: selected values, typed text, chosen channel."""
    values = view.get("state", {}).get("values", {})
    form: dict[str, Any] = {}
    for block_id, actions in values.items():
        for action in actions.values():
            selected = action.get("selected_option") or {}
            form[block_id] = (
                selected.get("value") or action.get("selected_conversation") or action.get("value")
            )
    return form


def _errors(form: dict[str, Any], services: Any) -> dict[str, str]:
    """Inline errors keyed by block id; empty when the form can be submitted."""
    errors: dict[str, str] = {}
    catalog, limit = services.catalog, services.heygen.script_limit
    script = _script(form)
    if not script:
        errors["script"] = "Write what the avatar should say."
    elif len(script) > limit:
        errors["script"] = (
            f"The script is {len(script):,} characters; HeyGen takes at most "
            f"{limit:,}. Shorten it by {len(script) - limit:,}."
        )
    if not form.get("avatar"):
        errors["avatar"] = "Choose an avatar."
    elif catalog.avatars.items and form["avatar"] not in catalog.avatars.by_id:
        errors["avatar"] = "This avatar is no longer available; choose another."
    if not form.get("voice"):
        errors["voice"] = "Choose a voice."
    elif catalog.voices.items and form["voice"] not in catalog.voices.by_id:
        errors["voice"] = "This voice is no longer available; choose another."
    if form.get("shape") not in SHAPES:
        errors["shape"] = "Choose landscape, portrait or square."
    if form.get("resolution") not in RESOLUTIONS:
        errors["resolution"] = "Choose 720p or 1080p."
    if _speed(form.get("speed")) is None:
        errors["speed"] = "Speed is a number from 0.5 to 1.5."
    if not form.get("post_to"):
        errors["post_to"] = "Choose where to post the video."
    return errors


def _script(form: dict[str, Any]) -> str:
    """The script, joined from its one or two boxes."""
    return ((form.get("script") or "") + (form.get("script_more") or "")).strip()


def _speed(raw: Any) -> float | None:
    try:
        speed = float(raw if raw not in (None, "") else 1.0)
    except (TypeError, ValueError):
        return None
    return speed if 0.5 <= speed <= 1.5 else None


def _job(form: dict[str, Any], body: dict, view: dict, services: Any) -> Job:
    meta = _metadata(view)
    channel = form["post_to"]
    catalog = services.catalog
    avatar = catalog.avatars.by_id.get(form["avatar"])
    team_id = (body.get("team") or {}).get("id") or view.get("team_id") or ""
    voice = catalog.voices.by_id.get(form["voice"])
    return Job(
        id=new_job_id(team_id, view["id"]) if view.get("id") else new_job_id(),
        team_id=team_id,
        channel_id=channel,
        user_id=body["user"]["id"],
        api_version=services.heygen.version,
        avatar_id=form["avatar"],
        avatar_name=avatar.name if avatar else form["avatar"],
        voice_id=form["voice"],
        voice_name=voice.name if voice else form["voice"],
        script=_script(form),
        shape=form["shape"],
        resolution=form["resolution"],
        speed=_speed(form.get("speed")) or 1.0,
        thread_ts=meta.get("thread_ts") if channel == meta.get("channel_id") else None,
        sandbox=services.uses_sandbox,
    )


def _metadata(view: dict) -> dict[str, Any]:
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}
    return meta if isinstance(meta, dict) else {}
