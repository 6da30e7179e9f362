"""What the rest of the bot knows about HeyGen: plain records and typed errors.

Nothing outside `bot.heygen` sees a HeyGen JSON shape; both API dialects are turned
into these records, so the store, poller and Slack code never ask which is in use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Status = Literal["pending", "processing", "completed", "failed"]
FINAL_STATUSES: frozenset[str] = frozenset({"completed", "failed"})


@dataclass(frozen=True)
class Avatar:
    """One choosable avatar (a v3 "look", a v2 avatar)."""

    id: str
    name: str
    gender: str = ""
    preview_image_url: str | None = None
    default_voice_id: str | None = None


@dataclass(frozen=True)
class Voice:
    id: str
    name: str
    language: str = ""
    gender: str = ""
    preview_audio_url: str | None = None


@dataclass(frozen=True)
class VideoSpec:
    """Everything a user chose for one video, independent of the API version."""

    avatar_id: str
    voice_id: str
    script: str
    speed: float = 1.0
    shape: str = "16:9"
    resolution: str = "720p"
    title: str | None = None
    avatar_style: str = "normal"  # v2 only: normal, circle or closeUp
    background: str | None = None  # "#RRGGBB"; None keeps the avatar's own background
    captions: bool = False
    pitch: float = 0.0  # -50..50
    test: bool = False  # v2 only: a watermarked test render
    callback_id: str | None = None
    callback_url: str | None = None


@dataclass(frozen=True)
class VideoState:
    """A video's status as HeyGen reported it; URLs exactly as HeyGen returned them."""

    video_id: str
    status: Status
    video_url: str | None = None
    thumbnail_url: str | None = None
    gif_url: str | None = None
    duration: float | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    captioned_video_url: str | None = None

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def reportable(self) -> bool:
        """Still running, or final with what the reply shows: the link, or why it failed.

        A summary (a list item) that says "completed" without a link is not the end of
        the story: the video's own record is fetched for it.
        """
        if self.status == "completed":
            return bool(self.video_url)
        if self.status == "failed":
            return bool(self.failure_code or self.failure_message)
        return True

    def link(self, *, captions: bool) -> str | None:
        """The video to show: the captioned cut when captions were asked for and exist."""
        return (self.captioned_video_url if captions else None) or self.video_url


@dataclass(frozen=True)
class Credit:
    """What the account has left, in HeyGen credits (None when HeyGen does not say)."""

    remaining: float | None
    unit: str = "credits"


class HeyGenError(Exception):
    """HeyGen refused or could not answer a call; carries HeyGen's own code and message."""

    def __init__(
        self,
        message: str,
        *,
        code: str = "unknown_error",
        status_code: int | None = None,
        param: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status_code = status_code
        self.param = param
        self.retry_after = retry_after

    @property
    def transient(self) -> bool:
        """Worth asking again later: rate limits, HeyGen's own faults, network trouble."""
        if self.code in ("quota_exceeded", "insufficient_credit"):
            return False
        return (
            self.status_code is None
            or self.status_code in (408, 409, 429)
            or (self.status_code >= 500)
        )

    @property
    def rejects_key(self) -> bool:
        """HeyGen refuses the bot's API key itself: no call will work until an admin fixes it."""
        return self.status_code in (401, 403)

    @property
    def concurrency_limited(self) -> bool:
        """HeyGen is rendering as many videos as the plan allows; wait for a slot."""
        return self.status_code == 429 and self.code != "quota_exceeded"

    def __str__(self) -> str:
        return f"{self.message} ({self.code})"


class HeyGenUnavailable(HeyGenError):
    """No usable answer at all: connection refused or reset, timeout, or broken JSON."""


class OutcomeUnknown(HeyGenError):
    """A create call may or may not have reached HeyGen, and it offers no idempotency key.

    Resending could render (and bill) the video twice, so the caller must find out
    another way or tell the user, never blindly retry.
    """
