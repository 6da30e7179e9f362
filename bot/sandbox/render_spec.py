"""From a created video to what the renderer makes: size, background, voice, card words.

The routes have already validated the request, so this only reads it: v2 sizes come from
`dimension`, v3 sizes from `resolution` and `aspect_ratio` (`auto` follows the look's
preferred orientation); the background is honoured when it is a colour (image backgrounds
would need the network, so they fall back to the default colour).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .card import DEFAULT_BACKGROUND, CardSpec
from .catalog import Catalog
from .media import even
from .render import RenderJob
from .tts import SpeechVoice
from .validate import HEX_COLOR
from .videos import Video, spoken_text

V2_DEFAULT_SIZE = (1280, 720)  # the guide's example, and the free plan's limit
V3_DEFAULT_RESOLUTION = "720p"
V3_DEFAULT_ASPECT = "16:9"
SHORT_SIDES = {"720p": 720, "1080p": 1080, "4k": 2160}


def job_for(video: Video, catalog: Catalog, folder: Path) -> RenderJob:
    request = video.request
    scene = _first_scene(request) if video.api == "v2" else request
    width, height = _v2_size(request) if video.api == "v2" else _v3_size(request, catalog, video)
    avatar = catalog.avatar_by_id.get(video.avatar_id)
    voice = catalog.voice_by_id.get(video.voice_id)
    settings = _voice_settings(video, scene)
    card = CardSpec(
        width=width,
        height=height,
        background=_background(scene.get("background")),
        avatar_id=video.avatar_id,
        name=avatar.name if avatar else video.avatar_id,
        gender=avatar.gender if avatar else "female",
        caption=f"{voice.name} · {voice.language} ({voice.locale})" if voice else "",
    )
    speech = SpeechVoice(
        voice_id=video.voice_id,
        locale=settings.get("locale") or (voice.locale if voice else "en-US"),
        gender=voice.gender if voice else card.gender,
        speed=video.speed,
        pitch=float(settings.get("pitch") or 0),
        volume=float(1 if settings.get("volume") is None else settings["volume"]),
    )
    return RenderJob(
        video_id=video.id,
        text=spoken_text(video.script),
        card=card,
        voice=speech,
        caption=video.caption,
        folder=folder,
    )


def _first_scene(request: dict[str, Any]) -> dict[str, Any]:
    inputs = request.get("video_inputs") or [{}]
    return inputs[0] if isinstance(inputs[0], dict) else {}


def _voice_settings(video: Video, scene: dict[str, Any]) -> dict[str, Any]:
    """v2 keeps pitch in `voice`, v3 keeps pitch, volume and locale in `voice_settings`."""
    raw = scene.get("voice") if video.api == "v2" else scene.get("voice_settings")
    return raw if isinstance(raw, dict) else {}


def _v2_size(request: dict[str, Any]) -> tuple[int, int]:
    dimension = request.get("dimension") or {}
    width = dimension.get("width") or V2_DEFAULT_SIZE[0]
    height = dimension.get("height") or V2_DEFAULT_SIZE[1]
    return even(width), even(height)


def _v3_size(request: dict[str, Any], catalog: Catalog, video: Video) -> tuple[int, int]:
    short = SHORT_SIDES[request.get("resolution") or V3_DEFAULT_RESOLUTION]
    aspect = request.get("aspect_ratio") or V3_DEFAULT_ASPECT
    if aspect == "auto":
        look = catalog.avatar_by_id.get(video.avatar_id)
        aspect = "9:16" if look and look.orientation == "portrait" else "16:9"
    a, b = (int(n) for n in aspect.split(":"))
    if a >= b:
        return even(short * a / b), short
    return short, even(short * b / a)


def _background(raw: Any) -> str:
    if isinstance(raw, dict) and raw.get("type") == "color":
        value = raw.get("value")
        if isinstance(value, str) and HEX_COLOR.match(value):
            return value.upper()
    return DEFAULT_BACKGROUND
