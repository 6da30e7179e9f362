"""`/_sandbox/...`: what tests use to look inside the sandbox and steer it.

Plain JSON (not HeyGen's shapes), no API key, never logged in the request log.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .context import sandbox_of
from .faults import FaultPlan
from .videos import Video, failure_for


def _problem(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _optional_json(request: Request) -> dict[str, Any] | None:
    raw = await request.body()
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except json.JSONDecodeError:
        return None
    return body if isinstance(body, dict) else None


def video_summary(video: Video, now: float) -> dict[str, Any]:
    return {
        "id": video.id,
        "api": video.api,
        "status": video.status_at(now),
        "created_at": video.created_at,
        "finish_at": video.finish_at,
        "deleted": video.deleted_at is not None,
        "notified": video.notified,
        "avatar_id": video.avatar_id,
        "voice_id": video.voice_id,
        "script": video.script,
        "title": video.title,
        "callback_id": video.callback_id,
        "callback_url": video.callback_url,
        "failure_code": video.failure.code if video.failure else None,
        "renderer": video.renderer,
        "stage": video.stage,
        "media_duration": video.media_duration,
        "request": video.request,
    }


async def info(request: Request) -> JSONResponse:
    sandbox = sandbox_of(request)
    s = sandbox.settings
    return JSONResponse(
        {
            "api_key_required": bool(sandbox.api_key),
            "render": s.render,
            "render_seconds": s.render_seconds,
            "render_workers": sandbox.studio.workers if sandbox.studio else None,
            "speech_engine": sandbox.studio.speech_engine if sandbox.studio else None,
            "files_path": str(sandbox.studio.root) if sandbox.studio else None,
            "concurrency": s.concurrency,
            "avatars": len(sandbox.catalog.avatars),
            "voices": len(sandbox.catalog.voices),
            "state_path": s.state_path,
            "public_url": s.public_url,
            "callback_secret": sandbox.webhooks.callback_secret,
            "now": sandbox.clock.now(),
        }
    )


async def list_requests(request: Request) -> JSONResponse:
    """Every logged request, or with `?after=SEQ` only the newer ones (for incremental reads)."""
    entries = sandbox_of(request).requests.entries
    after = request.query_params.get("after", "")
    if after.isdigit():
        return JSONResponse({"requests": [e for e in entries if e["seq"] > int(after)]})
    return JSONResponse({"requests": list(entries)})


async def clear_requests(request: Request) -> JSONResponse:
    return JSONResponse({"cleared": sandbox_of(request).requests.clear()})


async def list_videos(request: Request) -> JSONResponse:
    sandbox = sandbox_of(request)
    now = sandbox.clock.now()
    return JSONResponse({"videos": [video_summary(v, now) for v in sandbox.store.all_videos()]})


async def force_video(request: Request) -> JSONResponse:
    """Finish a video now: `complete`, or `fail` with an optional {"code", "message"}."""
    sandbox = sandbox_of(request)
    video = sandbox.store.video(request.path_params["video_id"])
    now = sandbox.clock.now()
    if video is None or request.path_params["outcome"] not in ("complete", "fail"):
        return _problem(404, "no such video")
    if video.is_final(now):
        return _problem(409, f"video is already {video.status_at(now)}")
    body = await _optional_json(request)
    if body is None:
        return _problem(400, "body must be a JSON object")
    failure = None
    if request.path_params["outcome"] == "fail":
        failure = failure_for(body.get("code"), body.get("message"))
    sandbox.store.finish(video.id, now, failure)
    sandbox.webhooks.wake()
    return JSONResponse(video_summary(sandbox.store.video(video.id) or video, now))


async def get_faults(request: Request) -> JSONResponse:
    plan = sandbox_of(request).faults
    held = sandbox_of(request).held.count
    return JSONResponse({"faults": plan.describe() if plan else None, "held": held})


async def set_faults(request: Request) -> JSONResponse:
    sandbox = sandbox_of(request)
    body = await _optional_json(request)
    if body is None:
        return _problem(400, "a fault plan must be a JSON object")
    try:
        sandbox.faults = FaultPlan(body)
    except (ValueError, TypeError) as exc:
        return _problem(400, str(exc))
    return JSONResponse({"faults": sandbox.faults.describe()})


async def clear_faults(request: Request) -> JSONResponse:
    """No more faults; requests held by a `hang` go on."""
    sandbox_of(request).faults = None
    sandbox_of(request).held.release()
    return JSONResponse({"faults": None})


async def release_held(request: Request) -> JSONResponse:
    """Let every request stopped by a `hang` fault go on (it is handled now)."""
    return JSONResponse({"released": sandbox_of(request).held.release()})


async def set_api_key(request: Request) -> JSONResponse:
    """{"api_key": "..."} becomes the only key API calls are accepted with (null: any key).

    Revoking the bot's key at HeyGen looks like this; the key itself is never echoed.
    """
    body = await _optional_json(request)
    key = (body or {}).get("api_key")
    if body is None or not (key is None or (isinstance(key, str) and key)):
        return _problem(400, "api_key must be a non-empty string or null")
    sandbox = sandbox_of(request)
    sandbox.api_key = key
    return JSONResponse({"api_key_required": bool(key)})


async def get_clock(request: Request) -> JSONResponse:
    clock = sandbox_of(request).clock
    return JSONResponse({"now": clock.now(), "offset": clock.offset})


async def advance_clock(request: Request) -> JSONResponse:
    """Jump forward, e.g. {"advance_seconds": 8} to finish renders or expire links."""
    sandbox = sandbox_of(request)
    body = await _optional_json(request)
    seconds = (body or {}).get("advance_seconds")
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
        return _problem(400, "advance_seconds must be a number >= 0")
    sandbox.clock.advance(float(seconds))
    sandbox.webhooks.wake()
    return JSONResponse({"now": sandbox.clock.now(), "offset": sandbox.clock.offset})


async def webhook_deliveries(request: Request) -> JSONResponse:
    return JSONResponse({"deliveries": sandbox_of(request).webhooks.report()})


routes = [
    Route("/_sandbox/info", info, methods=["GET"]),
    Route("/_sandbox/requests", list_requests, methods=["GET"]),
    Route("/_sandbox/requests", clear_requests, methods=["DELETE"]),
    Route("/_sandbox/videos", list_videos, methods=["GET"]),
    Route("/_sandbox/videos/{video_id}/{outcome}", force_video, methods=["POST"]),
    Route("/_sandbox/faults", get_faults, methods=["GET"]),
    Route("/_sandbox/faults", set_faults, methods=["POST"]),
    Route("/_sandbox/faults", clear_faults, methods=["DELETE"]),
    Route("/_sandbox/faults/release", release_held, methods=["POST"]),
    Route("/_sandbox/api_key", set_api_key, methods=["POST"]),
    Route("/_sandbox/clock", get_clock, methods=["GET"]),
    Route("/_sandbox/clock", advance_clock, methods=["POST"]),
    Route("/_sandbox/webhooks", webhook_deliveries, methods=["GET"]),
]
