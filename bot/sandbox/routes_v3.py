"""The v3 endpoints, in the shapes of reference/heygen-v3.md: catalog, videos, account.

Every route answers for the account of the request's key: its catalog (the public library
plus its private avatars and voice clones), its videos, its credit.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from . import validate
from .accounts import Account
from .catalog import Avatar, Group, Voice
from .context import Sandbox, account_of, sandbox_of
from .errors import ApiError, invalid
from .links import static_url, video_links
from .pagination import page_request, v3_list
from .videos import DEFAULT_ACCOUNT, Video

SCRIPT_LIMIT = 5000
MAX_STATUS_IDS = 100
RESOLUTIONS = ("720p", "1080p", "4k")
ASPECT_RATIOS = ("16:9", "9:16", "1:1", "4:5", "5:4", "auto")
CREATE_FIELDS = frozenset(
    {
        "type", "avatar_id", "script", "voice_id", "voice_settings", "title", "resolution",
        "aspect_ratio", "background", "caption", "callback_url", "callback_id", "engine", "fit",
        "motion_prompt", "expressiveness", "output_format", "remove_background",
        "brand_glossary_id", "folder_id", "audio_url", "audio_asset_id",
    }
)  # fmt: skip
QUEUED = {"waiting": "queued", "pending": "queued"}


def _ok(data: Any) -> JSONResponse:
    return JSONResponse({"data": data})


# --- catalog ---------------------------------------------------------------------------


def look_data(look: Avatar, base: str) -> dict[str, Any]:
    return {
        "id": look.avatar_id,
        "name": look.name,
        "gender": look.gender,
        "avatar_type": look.avatar_type,
        "group_id": look.group_id,
        "preview_image_url": static_url(base, "avatars", look.avatar_id, "preview.jpg"),
        "preview_video_url": static_url(base, "avatars", look.avatar_id, "preview.mp4"),
        "default_voice_id": look.default_voice_id,
        "preferred_orientation": look.orientation,
        "supported_api_engines": list(look.engines),
        "tags": list(look.tags),
    }


def group_data(group: Group, base: str) -> dict[str, Any]:
    return {
        "id": group.group_id,
        "name": group.name,
        "gender": group.gender,
        "looks_count": group.looks_count,
        "default_voice_id": group.default_voice_id,
        "preview_image_url": static_url(base, "avatars", group.first_look_id, "preview.jpg"),
        "preview_video_url": static_url(base, "avatars", group.first_look_id, "preview.mp4"),
        "created_at": group.created_at,
        "consent_status": None,
    }


def voice_data(voice: Voice, base: str) -> dict[str, Any]:
    return {
        "voice_id": voice.voice_id,
        "name": voice.name,
        "language": voice.language,
        "gender": voice.gender,
        "type": "private" if voice.private else "public",
        "preview_audio_url": static_url(base, "voices", voice.voice_id, "preview.wav"),
        "support_pause": voice.support_pause,
        "support_locale": voice.language == "English",
    }


async def list_looks(request: Request) -> JSONResponse:
    sandbox, query = sandbox_of(request), request.query_params
    page = page_request(query, max_limit=50)
    ownership = validate.choice(query.get("ownership"), "ownership", ("public", "private"))
    kinds = ("studio_avatar", "digital_twin", "photo_avatar")
    kind = validate.choice(query.get("avatar_type"), "avatar_type", kinds)
    group = query.get("group_id")
    looks = [
        look
        for look in account_of(request).catalog.avatars
        if (kind is None or look.avatar_type == kind)
        and (group is None or look.group_id == group)
        and (ownership is None or look.private == (ownership == "private"))
    ]
    rows, token = page.split(page.rows_from(looks))
    base = sandbox.base_url(request)
    return JSONResponse(v3_list([look_data(look, base) for look in rows], token))


async def get_look(request: Request) -> JSONResponse:
    sandbox = sandbox_of(request)
    look = _look_or_404(account_of(request), request.path_params["look_id"], "look_id")
    return _ok(look_data(look, sandbox.base_url(request)))


async def list_groups(request: Request) -> JSONResponse:
    sandbox = sandbox_of(request)
    page = page_request(request.query_params, max_limit=50)
    rows, token = page.split(page.rows_from(account_of(request).catalog.groups))
    base = sandbox.base_url(request)
    return JSONResponse(v3_list([group_data(g, base) for g in rows], token))


async def get_group(request: Request) -> JSONResponse:
    sandbox = sandbox_of(request)
    group_id = request.path_params["group_id"]
    groups = account_of(request).catalog.groups
    group = next((g for g in groups if g.group_id == group_id), None)
    if group is None:
        raise ApiError(404, "avatar_not_found", f"Avatar group {group_id} not found")
    return _ok(group_data(group, sandbox.base_url(request)))


def _language_matches(voice: Voice, wanted: str) -> bool:
    wanted = wanted.lower()
    return wanted in (voice.language.lower(), voice.locale.lower(), voice.locale[:2].lower())


async def list_voices(request: Request) -> JSONResponse:
    sandbox, query = sandbox_of(request), request.query_params
    page = page_request(query, max_limit=100)
    gender = validate.choice(query.get("gender"), "gender", ("male", "female"))
    kind = validate.choice(query.get("type"), "type", ("public", "private"))
    language = query.get("language")
    voices = [
        v
        for v in account_of(request).catalog.voices
        if (gender is None or v.gender == gender)
        and (not language or _language_matches(v, language))
        and (kind is None or v.private == (kind == "private"))
    ]
    rows, token = page.split(page.rows_from(voices))
    base = sandbox.base_url(request)
    return JSONResponse(v3_list([voice_data(v, base) for v in rows], token))


# --- create ----------------------------------------------------------------------------


def _look_or_404(account: Account, avatar_id: str, param: str) -> Avatar:
    look = account.catalog.avatar_by_id.get(avatar_id)
    if look is None:
        raise ApiError(404, "avatar_not_found", f"Avatar {avatar_id} not found", param=param)
    return look


def _check_fields(body: dict[str, Any]) -> None:
    for name in body:
        if name not in CREATE_FIELDS:
            raise invalid(name, f"Unknown field {name!r} for type avatar")
    for name in ("audio_url", "audio_asset_id"):
        if body.get(name):
            raise invalid(name, "The sandbox renders scripts only; send script and voice_id")


def _voice_settings(raw: Any) -> float:
    """Check `voice_settings`; return the speed the render uses."""
    settings = validate.mapping(raw, "voice_settings")
    speed = validate.number(settings.get("speed"), "voice_settings.speed", 0.5, 1.5)
    validate.number(settings.get("pitch"), "voice_settings.pitch", -50, 50)
    validate.number(settings.get("volume"), "voice_settings.volume", 0, 1)
    validate.locale(settings.get("locale"), "voice_settings.locale")
    return speed or 1.0


def _engine(raw: Any, look: Avatar) -> None:
    if not look.engines:
        message = f"Avatar {look.avatar_id} has no supported_api_engines; pick another look"
        raise invalid("avatar_id", message)
    engine = validate.mapping(raw, "engine")
    kind = engine.get("type")
    if engine and kind not in look.engines:
        supported = ", ".join(look.engines)
        raise invalid("engine.type", f"Avatar {look.avatar_id} supports engines: {supported}")


async def create_video(request: Request) -> JSONResponse:
    sandbox, account = sandbox_of(request), account_of(request)
    body = await validate.json_object(request)
    _check_fields(body)
    if body.get("type") != "avatar":
        raise invalid("type", "type must be 'avatar'")
    avatar_id = validate.text(body.get("avatar_id"), "avatar_id", required=True) or ""
    look = _look_or_404(account, avatar_id, "avatar_id")
    _engine(body.get("engine"), look)
    script = validate.text(body.get("script"), "script", required=True, max_len=SCRIPT_LIMIT)
    voice_id = validate.text(body.get("voice_id"), "voice_id") or look.default_voice_id
    if voice_id not in account.catalog.voice_by_id:
        raise ApiError(404, "voice_not_found", f"Voice {voice_id} not found", param="voice_id")
    speed = _voice_settings(body.get("voice_settings"))
    validate.choice(body.get("resolution"), "resolution", RESOLUTIONS)
    validate.choice(body.get("aspect_ratio"), "aspect_ratio", ASPECT_RATIOS)
    validate.background(body.get("background"), "background")
    caption = validate.mapping(body.get("caption"), "caption")
    validate.choice(caption.get("file_format"), "caption.file_format", ("srt",))
    video = sandbox.start_video(
        request,
        account,
        body,
        api="v3",
        script=script,
        avatar_id=avatar_id,
        voice_id=voice_id,
        speed=speed,
        title=validate.text(body.get("title"), "title"),
        caption="caption" in body and body["caption"] is not None,
        callback_id=validate.text(body.get("callback_id"), "callback_id"),
        callback_url=validate.url(body.get("callback_url"), "callback_url"),
    )
    return _ok({"video_id": video.id, "status": "waiting"})


# --- status ----------------------------------------------------------------------------


def video_data(sandbox: Sandbox, request: Request, video: Video) -> dict[str, Any]:
    """`GET /v3/videos/{id}` data; links are signed afresh on every call."""
    now = sandbox.clock.now()
    status = video.status_at(now)
    base = sandbox.base_url(request)
    links = video_links(sandbox.signer, base, video, now) if status == "completed" else {}
    failure = video.failure if status == "failed" else None
    return {
        "id": video.id,
        "title": video.title,
        "status": status,
        "created_at": int(video.created_at),
        "completed_at": int(video.finish_at) if links and video.finish_at else None,
        "duration": video.duration if links else None,
        "video_url": links.get("video.mp4"),
        "captioned_video_url": links.get("captioned.mp4"),
        "subtitle_url": links.get("caption.srt"),
        "thumbnail_url": links.get("thumbnail.jpg"),
        "gif_url": links.get("preview.gif"),
        "video_page_url": f"{base}/share/{video.id}" if links else None,
        "failure_code": failure.code if failure else None,
        "failure_message": failure.message if failure else None,
    }


def _live_video(sandbox: Sandbox, request: Request, video_id: str) -> Video:
    video = sandbox.video(account_of(request), video_id)
    if video is None or video.deleted_at is not None:
        raise ApiError(404, "video_not_found", f"Video {video_id} not found")
    return video


async def get_video(request: Request) -> JSONResponse:
    sandbox = sandbox_of(request)
    video = _live_video(sandbox, request, request.path_params["video_id"])
    return _ok(video_data(sandbox, request, video))


async def list_videos(request: Request) -> JSONResponse:
    sandbox = sandbox_of(request)
    page = page_request(request.query_params, max_limit=100)
    mine = sandbox.store.videos(account_of(request).name, page.limit + 1, page.offset)
    videos, token = page.split(mine)
    return JSONResponse(v3_list([video_data(sandbox, request, v) for v in videos], token))


async def video_statuses(request: Request) -> JSONResponse:
    sandbox = sandbox_of(request)
    ids = [i for i in (request.query_params.get("video_ids") or "").split(",") if i]
    if not ids:
        raise invalid("video_ids", "video_ids is required (comma-separated)")
    if len(ids) > MAX_STATUS_IDS:
        raise invalid("video_ids", f"video_ids can list at most {MAX_STATUS_IDS} videos")
    now, account = sandbox.clock.now(), account_of(request)
    rows = []
    for video_id in ids:
        video = sandbox.video(account, video_id)
        if video is None or video.deleted_at is not None:
            status = "not_found"
        else:
            status = video.status_at(now)
            status = QUEUED.get(status, status)
        rows.append({"video_id": video_id, "status": status})
    return _ok(rows)


async def delete_video(request: Request) -> JSONResponse:
    sandbox = sandbox_of(request)
    video = _live_video(sandbox, request, request.path_params["video_id"])
    sandbox.delete_video(video)
    return _ok({"id": video.id, "deleted": True})


# --- account ---------------------------------------------------------------------------


def _person(account: Account) -> dict[str, str]:
    """Who the key belongs to: the default account keeps the names it always had."""
    if account.name == DEFAULT_ACCOUNT:
        return {"username": "sandbox", "first_name": "Sandbox", "last_name": "User"}
    username = re.sub(r"[^a-z0-9]+", "-", account.name.lower()).strip("-") or "account"
    return {"username": username, "first_name": account.name, "last_name": "Sandbox"}


async def me(request: Request) -> JSONResponse:
    sandbox, account = sandbox_of(request), account_of(request)
    credits = round(sandbox.remaining_seconds(account) / 60, 2)
    person = _person(account)
    return _ok(
        {
            "username": person["username"],
            "email": f"{person['username']}@example.com",
            "first_name": person["first_name"],
            "last_name": person["last_name"],
            "billing_type": "wallet",
            "wallet": {"currency": "usd", "remaining_balance": credits},
            "subscription": None,
            "usage_based": None,
        }
    )


routes = [
    Route("/v3/avatars/looks", list_looks, methods=["GET"]),
    Route("/v3/avatars/looks/{look_id}", get_look, methods=["GET"]),
    Route("/v3/avatars", list_groups, methods=["GET"]),
    Route("/v3/avatars/{group_id}", get_group, methods=["GET"]),
    Route("/v3/voices", list_voices, methods=["GET"]),
    Route("/v3/videos", create_video, methods=["POST"]),
    Route("/v3/videos", list_videos, methods=["GET"]),
    Route("/v3/videos/statuses", video_statuses, methods=["GET"]),
    Route("/v3/videos/{video_id}", get_video, methods=["GET"]),
    Route("/v3/videos/{video_id}", delete_video, methods=["DELETE"]),
    Route("/v3/users/me", me, methods=["GET"]),
    Route("/v3/user/me", me, methods=["GET"]),  # the path HeyGen's own CLI uses
]
