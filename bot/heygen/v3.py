"""HeyGen's current API (v3): paginated lists, flat create body, idempotent POST."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .client import HeyGenClient
from .types import Avatar, Credit, VideoSpec, VideoState, Voice

RUNNING = {"pending", "processing"}
LISTED = {"waiting", "queued", "pending", "processing", "completed", "failed"}  # known words


class V3Client(HeyGenClient):
    version = "v3"
    script_limit = 5000
    bulk_status = True

    async def list_avatars(self) -> list[Avatar]:
        looks = await self._all_pages("/v3/avatars/looks", limit=50)
        return [_avatar(look) for look in looks if look.get("supported_api_engines") != []]

    async def list_voices(self) -> list[Voice]:
        return [_voice(v) for v in await self._all_pages("/v3/voices", limit=100)]

    async def create_video(self, spec: VideoSpec, *, idempotency_key: str) -> str:
        body = await self.call(
            "POST",
            "/v3/videos",
            json=_create_body(spec),
            headers={"Idempotency-Key": idempotency_key},
            queue_on_429=True,
        )
        return str(body["data"]["video_id"])

    async def video_state(self, video_id: str) -> VideoState:
        data = (await self.call("GET", "/v3/videos/{id}", path_params={"id": video_id}))["data"]
        return _state(video_id, data)

    async def video_statuses(self, video_ids: Iterable[str]) -> dict[str, str]:
        ids = ",".join(video_ids)
        params = {"video_ids": ids}
        data = (await self.call("GET", "/v3/videos/statuses", params=params, urgent=True))["data"]
        rows = data if isinstance(data, list) else data.get("videos", data.get("items", []))
        return {str(r.get("video_id") or r.get("id")): str(r.get("status")) for r in rows}

    async def recent_videos(self, limit: int) -> list[VideoState] | None:
        """`GET /v3/videos`: newest first, each item the record `GET /v3/videos/{id}` gives.

        An item without an id or with a status word this client does not know is left
        out, so the poller checks that video by id instead of guessing.
        """
        body = await self.call("GET", "/v3/videos", params={"limit": limit}, urgent=True)
        rows = body.get("data")
        return [
            _state(str(row["id"]), row)
            for row in (rows if isinstance(rows, list) else [])
            if isinstance(row, dict) and row.get("id") and row.get("status") in LISTED
        ]

    async def delete_video(self, video_id: str) -> None:
        await self.call("DELETE", "/v3/videos/{id}", path_params={"id": video_id})

    async def remaining_credit(self) -> Credit:
        data = (await self.call("GET", "/v3/users/me"))["data"]
        billing = data.get("billing_type")
        if billing == "wallet":
            return Credit(_number(data.get("wallet", {}).get("remaining_balance")), "USD")
        if billing == "subscription":
            credits = data.get("subscription", {}).get("credits", {})
            return Credit(_number(credits.get("premium_credits", {}).get("remaining")))
        return Credit(_number(data.get("usage_based", {}).get("remaining_credits")))

    async def _all_pages(self, path: str, *, limit: int) -> list[dict[str, Any]]:
        """Follow `next_token` until `has_more` is false; v3 catalogs run to thousands."""
        items: list[dict[str, Any]] = []
        token: str | None = None
        for _ in range(1000):
            params: dict[str, Any] = {"limit": limit}
            if token:
                params["token"] = token
            body = await self.call("GET", path, params=params)
            items.extend(body.get("data") or [])
            token = body.get("next_token")
            if not body.get("has_more") or not token:
                break
        return items


def _create_body(spec: VideoSpec) -> dict[str, Any]:
    voice_settings: dict[str, Any] = {"speed": spec.speed}
    if spec.pitch:
        voice_settings["pitch"] = spec.pitch
    body: dict[str, Any] = {
        "type": "avatar",
        "avatar_id": spec.avatar_id,
        "script": spec.script,
        "voice_id": spec.voice_id,
        "voice_settings": voice_settings,
        "aspect_ratio": spec.shape,
        "resolution": spec.resolution,
    }
    optional = {
        "title": spec.title,
        "background": {"type": "color", "value": spec.background} if spec.background else None,
        "caption": {"file_format": "srt"} if spec.captions else None,
        "callback_id": spec.callback_id,
        "callback_url": spec.callback_url,
    }
    body.update({k: v for k, v in optional.items() if v})
    return body


def _state(video_id: str, data: dict[str, Any]) -> VideoState:
    return state_from(
        video_id,
        data,
        failure_code=_text(data.get("failure_code")),
        failure_message=_text(data.get("failure_message")),
        captioned_video_url=data.get("captioned_video_url"),
    )


def state_from(
    video_id: str,
    data: dict[str, Any],
    *,
    failure_code: str | None,
    failure_message: str | None,
    captioned_video_url: str | None,
) -> VideoState:
    """The fields both dialects name alike; every status but the final ones is "running"."""
    status = data.get("status")
    return VideoState(
        video_id=str(data.get("id") or video_id),
        status=status if status in ("completed", "failed", "processing") else "pending",
        video_url=data.get("video_url"),
        thumbnail_url=data.get("thumbnail_url"),
        gif_url=data.get("gif_url"),
        duration=_number(data.get("duration")),
        failure_code=failure_code,
        failure_message=failure_message,
        captioned_video_url=captioned_video_url,
    )


def _avatar(look: dict[str, Any]) -> Avatar:
    return Avatar(
        id=str(look["id"]),
        name=str(look.get("name") or look["id"]),
        gender=str(look.get("gender") or ""),
        preview_image_url=look.get("preview_image_url"),
        default_voice_id=look.get("default_voice_id"),
    )


def _voice(voice: dict[str, Any]) -> Voice:
    return Voice(
        id=str(voice["voice_id"]),
        name=str(voice.get("name") or voice["voice_id"]),
        language=str(voice.get("language") or ""),
        gender=str(voice.get("gender") or ""),
        preview_audio_url=voice.get("preview_audio_url"),
    )


def _number(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
