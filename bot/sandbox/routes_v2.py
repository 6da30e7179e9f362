"""The v1/v2 endpoints, in the shapes of the guide (reference/heygen-create-avatar-videos.txt).

Every route answers for the account of the request's key (see routes_v3).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from . import validate
from .accounts import Account
from .catalog import Voice
from .context import Sandbox, account_of, sandbox_of
from .errors import ApiError, invalid
from .links import static_url, video_links
from .pagination import page_request
from .videos import Video

SCRIPT_LIMIT = 1500
MAX_INPUTS = 50
AVATAR_STYLES = ("normal", "circle", "closeUp")


def _ok(data: Any) -> JSONResponse:
    return JSONResponse({"error": None, "data": data})


def _v1_ok(data: Any) -> JSONResponse:
    return JSONResponse({"code": 100, "data": data, "message": "Success"})


# --- catalog ---------------------------------------------------------------------------


async def list_avatars(request: Request) -> JSONResponse:
    sandbox = sandbox_of(request)
    base = sandbox.base_url(request)
    avatars = [
        {
            "avatar_id": a.avatar_id,
            "avatar_name": a.name,
            "gender": a.gender,
            "preview_image_url": static_url(base, "avatars", a.avatar_id, "preview.jpg"),
            "preview_video_url": static_url(base, "avatars", a.avatar_id, "preview.mp4"),
        }
        for a in account_of(request).catalog.avatars
    ]
    return _ok({"avatars": avatars, "talking_photos": []})


async def list_voices(request: Request) -> JSONResponse:
    sandbox = sandbox_of(request)
    base = sandbox.base_url(request)
    voices = [
        {
            "voice_id": v.voice_id,
            "language": v.language,
            "gender": v.gender,
            "name": v.name,
            "preview_audio": static_url(base, "voices", v.voice_id, "preview.wav"),
            "support_pause": v.support_pause,
            "emotion_support": v.emotion_support,
        }
        for v in account_of(request).catalog.voices
    ]
    return _ok({"voices": voices})


def _voice_list_item(voice: Voice, base: str) -> dict[str, Any]:
    """One `/v1/voice.list` entry, field for field as in the guide."""
    age = ("Young Adult", "Middle Aged", "Old")[voice.sort % 3]
    return {
        "voice_id": voice.voice_id,
        "labels": list(voice.labels),
        "language": voice.language,
        "flag": f"https://static.movio.la/region_flags/{voice.flag}.png",
        "locale": voice.locale,
        "sort": voice.sort,
        "gender": voice.gender.capitalize(),
        "tags": f"{age}, {voice.style.capitalize()}",
        "display_name": voice.name,
        "preview": {"movio": static_url(base, "voices", voice.voice_id, "preview.wav")},
        "settings": {"style": voice.style, "elevenlabs_settings": None},
        "ssml": {
            "style": [],
            "lang": [],
            "break": voice.support_pause,
            "prosody": ["rate", "pitch"],
            "emphasis": "none",
            "say_as": [],
        },
        "is_customer": voice.private,
        "is_favorite": False,
        "is_paid": False,
        "support_realtime": True,
    }


async def voice_list(request: Request) -> JSONResponse:
    sandbox = sandbox_of(request)
    base = sandbox.base_url(request)
    items = [_voice_list_item(v, base) for v in account_of(request).catalog.voices]
    return JSONResponse({"code": 100, "data": {"list": items}, "msg": None, "message": None})


# --- create ----------------------------------------------------------------------------


def _scene(account: Account, raw: Any, n: int) -> dict[str, Any]:
    """Check one `video_inputs[n]`; return what the render needs from it."""
    where = f"video_inputs[{n}]"
    scene = validate.mapping(raw, where, required=True)
    character = validate.mapping(scene.get("character"), f"{where}.character", required=True)
    kinds = ("avatar", "talking_photo")
    kind = validate.choice(character.get("type"), f"{where}.character.type", kinds)
    if kind == "talking_photo":
        photo = character.get("talking_photo_id")
        raise ApiError(404, "talking_photo_not_found", f"Talking photo {photo} not found")
    avatar_id = validate.text(character.get("avatar_id"), f"{where}.character.avatar_id", True)
    if avatar_id not in account.catalog.avatar_by_id:
        raise ApiError(
            404, "avatar_not_found", f"Avatar {avatar_id} not found or no longer available"
        )
    validate.choice(character.get("avatar_style"), f"{where}.character.avatar_style", AVATAR_STYLES)
    voice = validate.mapping(scene.get("voice"), f"{where}.voice", required=True)
    validate.choice(voice.get("type"), f"{where}.voice.type", ("text",))
    text = validate.text(voice.get("input_text"), f"{where}.voice.input_text", True, SCRIPT_LIMIT)
    voice_id = validate.text(voice.get("voice_id"), f"{where}.voice.voice_id", required=True)
    if voice_id not in account.catalog.voice_by_id:
        raise ApiError(404, "voice_not_found", f"Voice {voice_id} not found")
    speed = validate.number(voice.get("speed"), f"{where}.voice.speed", 0.5, 1.5)
    validate.number(voice.get("pitch"), f"{where}.voice.pitch", -50, 50)
    validate.background(scene.get("background"), f"{where}.background")
    return {"avatar_id": avatar_id, "voice_id": voice_id, "text": text, "speed": speed or 1.0}


def _dimension(raw: Any) -> None:
    dimension = validate.mapping(raw, "dimension")
    for side in ("width", "height"):
        value = dimension.get(side)
        if value is not None and (not isinstance(value, int) or not 64 <= value <= 4096):
            raise invalid(f"dimension.{side}", f"dimension.{side} must be an integer 64-4096")


async def generate(request: Request) -> JSONResponse:
    sandbox, account = sandbox_of(request), account_of(request)
    body = await validate.json_object(request)
    inputs = body.get("video_inputs")
    if not isinstance(inputs, list) or not inputs:
        raise invalid("video_inputs", "video_inputs must be a non-empty list")
    if len(inputs) > MAX_INPUTS:
        raise invalid("video_inputs", f"video_inputs can have at most {MAX_INPUTS} scenes")
    scenes = [_scene(account, raw, n) for n, raw in enumerate(inputs)]
    _dimension(body.get("dimension"))
    validate.boolean(body.get("test"), "test")
    video = sandbox.start_video(
        request,
        account,
        body,
        api="v2",
        script=" ".join(s["text"] for s in scenes),
        avatar_id=scenes[0]["avatar_id"],
        voice_id=scenes[0]["voice_id"],
        speed=scenes[0]["speed"],
        title=validate.text(body.get("title"), "title"),
        caption=validate.boolean(body.get("caption"), "caption"),
        callback_id=validate.text(body.get("callback_id"), "callback_id"),
        callback_url=validate.url(body.get("callback_url"), "callback_url"),
    )
    return _ok({"video_id": video.id})


# --- status and housekeeping -----------------------------------------------------------


def _video_or_404(sandbox: Sandbox, request: Request) -> Video:
    video_id = request.query_params.get("video_id")
    if not video_id:
        raise invalid("video_id", "video_id is required")
    video = sandbox.video(account_of(request), video_id)
    if video is None or video.deleted_at is not None:
        raise ApiError(404, "video_not_found", f"Video {video_id} not found")
    return video


def status_data(sandbox: Sandbox, request: Request, video: Video) -> dict[str, Any]:
    """`/v1/video_status.get` data: links and duration only once completed."""
    now = sandbox.clock.now()
    status = video.status_at(now)
    links = {}
    if status == "completed":
        links = video_links(sandbox.signer, sandbox.base_url(request), video, now)
    error = None
    if status == "failed" and video.failure:
        f = video.failure
        error = {"code": f.v2_code, "detail": f.detail, "message": f.message}
    return {
        "callback_id": video.callback_id,
        "caption_url": links.get("caption.ass"),
        "created_at": int(video.created_at),
        "duration": video.duration if links else None,
        "error": error,
        "gif_url": links.get("preview.gif"),
        "id": video.id,
        "status": status,
        "thumbnail_url": links.get("thumbnail.jpg"),
        "video_url": links.get("video.mp4"),
        "video_url_caption": links.get("captioned.mp4"),
    }


async def video_status(request: Request) -> JSONResponse:
    sandbox = sandbox_of(request)
    video = _video_or_404(sandbox, request)
    return _v1_ok(status_data(sandbox, request, video))


async def delete_video(request: Request) -> JSONResponse:
    sandbox = sandbox_of(request)
    video = _video_or_404(sandbox, request)
    sandbox.delete_video(video)
    return _v1_ok(None)


async def list_videos(request: Request) -> JSONResponse:
    sandbox = sandbox_of(request)
    page = page_request(request.query_params, max_limit=100, default=100)
    mine = sandbox.store.videos(account_of(request).name, page.limit + 1, page.offset)
    videos, token = page.split(mine)
    now = sandbox.clock.now()
    rows = []
    for video in videos:
        row = {
            "video_id": video.id,
            "video_title": video.title,
            "type": "GENERATED",
            "status": video.status_at(now),
            "created_at": int(video.created_at),
        }
        if video.callback_id:
            row["callback_id"] = video.callback_id
        rows.append(row)
    return _v1_ok({"videos": rows, "token": token})


async def remaining_quota(request: Request) -> JSONResponse:
    seconds = int(sandbox_of(request).remaining_seconds(account_of(request)))
    return _ok({"remaining_quota": seconds, "details": {"api": seconds}})


routes = [
    Route("/v2/avatars", list_avatars, methods=["GET"]),
    Route("/v2/voices", list_voices, methods=["GET"]),
    Route("/v1/voice.list", voice_list, methods=["GET"]),
    Route("/v2/video/generate", generate, methods=["POST"]),
    Route("/v1/video_status.get", video_status, methods=["GET"]),
    Route("/v1/video.delete", delete_video, methods=["DELETE", "POST"]),
    Route("/v1/video.list", list_videos, methods=["GET"]),
    Route("/v2/user/remaining_quota", remaining_quota, methods=["GET"]),
]
