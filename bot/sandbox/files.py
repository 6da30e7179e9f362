"""The files behind the links, as HeyGen's CDN serves them.

An expired or tampered link gets CloudFront's 403 XML. A really rendered video serves its
own files; a static one (or one an admin call completed before it was rendered) shares the
tiny mp4/gif/jpeg in `assets/`, with captions generated from the script. Script markers
shape a video's files for download tests (`[sandbox:size:MB]`, `[sandbox:throttle:BYTES]`,
`[sandbox:chunked]`): served in chunks from disk, never whole in memory.
"""

from __future__ import annotations

import asyncio
import html
import struct
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response, StreamingResponse
from starlette.routing import Route

from . import captions
from .context import Sandbox, sandbox_of
from .links import video_path
from .videos import ScriptPlan, Video, estimate_duration, plan_from_script, spoken_text

CHUNK = 64 * 1024

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
    plan = plan_from_script(video.script)
    if path and plan.shapes_files:
        return _shaped(path, media_type, plan if name.endswith(".mp4") else None, plan)
    if path:
        return FileResponse(path, media_type=media_type, content_disposition_type="inline")
    cues = _cues(video)
    text = captions.srt(cues) if name.endswith(".srt") else captions.ass(cues)
    return Response(text, media_type=media_type)


def _shaped(path: Path, media_type: str, padding: ScriptPlan | None, plan: ScriptPlan) -> Response:
    """`path` as the markers ask: padded (mp4 only), throttled, or without a length."""
    size = path.stat().st_size
    pad = max(0, (padding.file_bytes or 0) - size) if padding else 0
    pad = pad if pad >= 8 else 0  # an mp4 `free` box needs its 8-byte header
    headers = {} if plan.chunked else {"Content-Length": str(size + pad)}
    body = _throttled(_file_chunks(path, pad), plan.bytes_per_second)
    return StreamingResponse(body, media_type=media_type, headers=headers)


async def _file_chunks(path: Path, pad: int) -> AsyncIterator[bytes]:
    """The file, then a `free` box of `pad` bytes (players skip it, so the mp4 still plays)."""
    with path.open("rb") as file:
        while chunk := file.read(CHUNK):
            yield chunk
    if pad:
        yield struct.pack(">I", pad) + b"free"
        left = pad - 8
        zeros = bytes(CHUNK)
        while left > 0:
            yield zeros[: min(left, CHUNK)]
            left -= CHUNK


async def _throttled(chunks: AsyncIterator[bytes], rate: float | None) -> AsyncIterator[bytes]:
    """At most `rate` bytes a second, in pieces of a tenth of a second each."""
    piece = max(1, int(rate / 10)) if rate else 0
    async for chunk in chunks:
        if not piece:
            yield chunk
            continue
        for start in range(0, len(chunk), piece):
            yield chunk[start : start + piece]
            await asyncio.sleep(min(piece, len(chunk) - start) / rate)  # type: ignore[operator]


async def static_file(request: Request) -> Response:
    sandbox = sandbox_of(request)
    kind, item_id, name = (request.path_params[k] for k in ("kind", "item_id", "name"))
    entry = STATIC_FILES.get(name)
    if kind not in ("avatars", "voices") or not sandbox.accounts.knows(kind, item_id) or not entry:
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
