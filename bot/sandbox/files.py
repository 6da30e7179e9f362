"""The files behind the links, as HeyGen's CDN serves them.

An expired or tampered link gets CloudFront's 403 XML. A really rendered video serves its
own files; a static one (or one an admin call completed before it was rendered) shares the
tiny mp4/gif/jpeg in `assets/`, with captions generated from the script.
"""

from __future__ import annotations

import html
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Route

from . import captions
from .context import Sandbox, sandbox_of
from .links import video_path
from .videos import Video, estimate_duration, spoken_text

ASSETS = Path(__file__).with_name("assets")

# name in the link -> (asset file or None when generated, media type)
VIDEO_FILES: dict[str, tuple[str | None, str]] = {
    "video.mp4": ("video.mp4", "video/mp4"),
    "captioned.mp4": ("video.mp4", "video/mp4"),
    "thumbnail.jpg": ("thumbnail.jpg", "image/jpeg"),
    "preview.gif": ("preview.gif", "image/gif"),
    "caption.srt": (None, "application/x-subrip"),
    "caption.ass": (None, "text/x-ssa"),
}
STATIC_FILES: dict[str, tuple[str, str]] = {
    "preview.jpg": ("thumbnail.jpg", "image/jpeg"),
    "preview.mp4": ("video.mp4", "video/mp4"),
    "preview.wav": ("voice_preview.wav", "audio/wav"),
}


def _cues(video: Video) -> list[captions.Cue]:
    text = spoken_text(video.script)
    return captions.cues(text, estimate_duration(video.script, video.speed))


def _rendered(sandbox: Sandbox, video: Video, name: str) -> Path | None:
    if sandbox.studio is None or video.renderer != "real":
        return None
    return sandbox.studio.file(video.id, name)


def cdn_error(status: int, code: str, message: str) -> Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<Error><Code>{code}</Code><Message>{html.escape(message)}</Message></Error>"
    )
    return Response(body, status_code=status, media_type="application/xml")


async def video_file(request: Request) -> Response:
    sandbox = sandbox_of(request)
    video_id, name = request.path_params["video_id"], request.path_params["name"]
    q = request.query_params
    problem = sandbox.signer.problem(
        video_path(video_id, name), q.get("Expires"), q.get("Signature"), sandbox.clock.now()
    )
    if problem:
        return cdn_error(403, "AccessDenied", problem)
    video = sandbox.store.video(video_id)
    entry = VIDEO_FILES.get(name)
    now = sandbox.clock.now()
    if not entry or not video or video.deleted_at or video.status_at(now) != "completed":
        return cdn_error(404, "NoSuchKey", "The specified key does not exist.")
    asset, media_type = entry
    path = _rendered(sandbox, video, name) or (ASSETS / asset if asset else None)
    if path:
        return FileResponse(path, media_type=media_type, content_disposition_type="inline")
    cues = _cues(video)
    text = captions.srt(cues) if name.endswith(".srt") else captions.ass(cues)
    return Response(text, media_type=media_type)


async def static_file(request: Request) -> Response:
    sandbox = sandbox_of(request)
    kind, item_id, name = (request.path_params[k] for k in ("kind", "item_id", "name"))
    known = sandbox.catalog.avatar_by_id if kind == "avatars" else sandbox.catalog.voice_by_id
    entry = STATIC_FILES.get(name)
    if kind not in ("avatars", "voices") or item_id not in known or not entry:
        return cdn_error(404, "NoSuchKey", "The specified key does not exist.")
    return FileResponse(ASSETS / entry[0], media_type=entry[1], content_disposition_type="inline")


async def share_page(request: Request) -> Response:
    """The `video_page_url`: a tiny page that plays the video, like HeyGen's share page."""
    sandbox = sandbox_of(request)
    video = sandbox.store.video(request.path_params["video_id"])
    now = sandbox.clock.now()
    if not video or video.deleted_at:
        return HTMLResponse("<h1>Video not found</h1>", status_code=404)
    title = html.escape(video.title or "Untitled Video")
    if video.status_at(now) != "completed":
        return HTMLResponse(f"<h1>{title}</h1><p>{video.status_at(now)}</p>")
    src = sandbox.signer.url(sandbox.base_url(request), video_path(video.id, "video.mp4"), now)
    return HTMLResponse(f'<h1>{title}</h1><video controls src="{html.escape(src)}"></video>')


routes = [
    Route("/files/videos/{video_id}/{name}", video_file, methods=["GET"]),
    Route("/files/static/{kind}/{item_id}/{name}", static_file, methods=["GET"]),
    Route("/share/{video_id}", share_page, methods=["GET"]),
]
