"""HeyGen's v1/v2 flow, as the original guide describes it.

v2 offers no idempotency key, so a create that may have reached HeyGen is never
resent (see `OutcomeUnknown`); its `callback_id` lets the bot find the video later.
"""

from __future__ import annotations

from typing import Any

from .client import HeyGenClient, dimension
from .types import Avatar, Credit, HeyGenError, VideoSpec, VideoState, Voice
from .v3 import _number, _text, state_from

LIST_PAGE = 100  # videos per page of /v1/video.list
CLOCK_SKEW = 300.0  # HeyGen's clock may differ from ours by this much
MAX_LOOKUP_PAGES = 100  # a lookup gives up (and the create is resent) after this many


class V2Client(HeyGenClient):
    version = "v2"
    script_limit = 1500
    avatar_styles = True
    test_mode = True

    async def list_avatars(self) -> list[Avatar]:
        data = (await self.call("GET", "/v2/avatars"))["data"]
        return [_avatar(a) for a in data.get("avatars") or []]

    async def list_voices(self) -> list[Voice]:
        try:
            data = (await self.call("GET", "/v2/voices"))["data"]
            return [_voice(v, v.get("preview_audio")) for v in data.get("voices") or []]
        except HeyGenError as error:
            if error.status_code != 404:
                raise
        data = (await self.call("GET", "/v1/voice.list"))["data"]
        return [_voice(v, (v.get("preview") or {}).get("movio")) for v in data.get("list") or []]

    async def create_video(self, spec: VideoSpec, *, idempotency_key: str) -> str:
        body = await self.call(
            "POST",
            "/v2/video/generate",
            json=_create_body(spec, idempotency_key),
            resend_safe=False,
            queue_on_429=True,
        )
        return str(body["data"]["video_id"])

    async def find_video(self, callback_id: str, *, since: float) -> str | None:
        """Look for a video created with `callback_id` (after an unconfirmed create).

        The list is newest first; on a busy account the video may be pages down, so it
        is read page by page until the video turns up or the page reaches videos made
        before the job was (`since`, less a margin for clock skew). Stopping at the first
        page would resend the create and render (and bill) the video twice.
        """
        token: str | None = None
        for _ in range(MAX_LOOKUP_PAGES):
            params: dict[str, Any] = {"limit": LIST_PAGE}
            if token:
                params["token"] = token
            data = (await self.call("GET", "/v1/video.list", params=params))["data"] or {}
            videos = data.get("videos") or []
            for video in videos:
                if video.get("callback_id") == callback_id:
                    return str(video.get("video_id") or video.get("id"))
            token = data.get("token")
            oldest = _number(videos[-1].get("created_at")) if videos else None
            if not token or (oldest is not None and oldest < since - CLOCK_SKEW):
                return None
        return None

    async def video_state(self, video_id: str) -> VideoState:
        data = (await self.call("GET", "/v1/video_status.get", params={"video_id": video_id}))[
            "data"
        ]
        error = data.get("error") or {}
        return state_from(
            video_id,
            data,
            failure_code=_text(error.get("code")),
            failure_message=_failure_message(error),
            captioned_video_url=data.get("video_url_caption"),
        )

    async def delete_video(self, video_id: str) -> None:
        await self.call("DELETE", "/v1/video.delete", params={"video_id": video_id})

    async def remaining_credit(self) -> Credit:
        data = (await self.call("GET", "/v2/user/remaining_quota"))["data"]
        seconds = _number(data.get("remaining_quota"))
        return Credit(None if seconds is None else seconds / 60)


def _failure_message(error: dict[str, Any]) -> str | None:
    message, detail = error.get("message"), error.get("detail")
    if message and detail and detail != message:
        return f"{message}: {detail}"
    return _text(message or detail)


def _create_body(spec: VideoSpec, callback_id: str) -> dict[str, Any]:
    width, height = dimension(spec.shape, spec.resolution)
    voice: dict[str, Any] = {
        "type": "text",
        "input_text": spec.script,
        "voice_id": spec.voice_id,
        "speed": spec.speed,
    }
    if spec.pitch:
        voice["pitch"] = spec.pitch
    scene: dict[str, Any] = {
        "character": {
            "type": "avatar",
            "avatar_id": spec.avatar_id,
            "avatar_style": spec.avatar_style,
        },
        "voice": voice,
    }
    if spec.background:
        scene["background"] = {"type": "color", "value": spec.background}
    body: dict[str, Any] = {
        "video_inputs": [scene],
        "dimension": {"width": width, "height": height},
        "callback_id": spec.callback_id or callback_id,
    }
    if spec.title:
        body["title"] = spec.title
    if spec.captions:
        body["caption"] = True
    if spec.test:
        body["test"] = True
    if spec.callback_url:
        body["callback_url"] = spec.callback_url
    return body


def _avatar(avatar: dict[str, Any]) -> Avatar:
    return Avatar(
        id=str(avatar["avatar_id"]),
        name=str(avatar.get("avatar_name") or avatar["avatar_id"]),
        gender=str(avatar.get("gender") or ""),
        preview_image_url=avatar.get("preview_image_url"),
    )


def _voice(voice: dict[str, Any], preview: str | None) -> Voice:
    return Voice(
        id=str(voice["voice_id"]),
        name=str(voice.get("name") or voice.get("display_name") or voice["voice_id"]),
        language=str(voice.get("language") or ""),
        gender=str(voice.get("gender") or "").lower(),
        preview_audio_url=preview,
    )
