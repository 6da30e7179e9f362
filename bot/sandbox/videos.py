"""A created video and how it moves through its statuses.

Status is computed from the creation time and `finish_at`, never stored, so a sandbox that
restarts from its state file picks up every video exactly where wall time says it is.
A really rendered video (`renderer == "real"`) has no `finish_at` until its files exist;
until then it shows where its render is (`stage`), or, when a minimum render time is set,
the same scripted timeline as a static one, held at `processing` until the files are there.

Script markers let a test choose the outcome (they are documented in the package docstring):
`[sandbox:fail]` / `[sandbox:fail:CODE]` end the render `failed`; `[sandbox:stall]` never
finishes; `[sandbox:render:SECONDS]` overrides the render time of that one video. Markers for
the video's files (download tests): `[sandbox:size:MB]` pads its mp4 to MB megabytes,
`[sandbox:throttle:BYTES]` serves its files at BYTES per second, `[sandbox:chunked]` serves
them without a Content-Length.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

MARKER = re.compile(r"\[sandbox:(fail|stall|render|size|throttle|chunked)(?::([^\]\s]+))?\]")

# Fractions of the render time at which a video leaves each early status.
WAITING_UNTIL = 0.1
PENDING_UNTIL = 0.3
WORDS_PER_SECOND = 2.5
# Where a real render is -> the status HeyGen would show.
DEFAULT_ACCOUNT = "default"  # the account of SANDBOX_API_KEY (or of any key, when none is set)
STAGE_STATUS = {"queued": "waiting", "speech": "pending", "picture": "processing"}


@dataclass(frozen=True)
class Failure:
    """How a render failed, in both dialects (v3 failure_code; v2 error{code, message, detail})."""

    code: str
    v2_code: int
    message: str
    detail: str


FAILURES: dict[str, Failure] = {
    f.code: f
    for f in (
        Failure(
            "RENDER_FAILED",
            40001,
            "Video rendering failed",
            "The renderer stopped unexpectedly. Please try again.",
        ),
        Failure(
            "VIDEO_TOO_LONG",
            40119,
            "Video is too long",
            "Video is too long (> 3600.0s). Please upgrade your plan to generate longer videos",
        ),
        Failure(
            "AVATAR_NOT_AVAILABLE",
            40039,
            "Avatar is not available",
            "The selected avatar can no longer be used to render videos.",
        ),
        Failure(
            "CONTENT_MODERATION",
            40045,
            "Content moderation failed",
            "The script was flagged by content moderation.",
        ),
        Failure(
            "INSUFFICIENT_CREDIT",
            40113,
            "Insufficient credit",
            "Your account does not have enough credit to render this video.",
        ),
    )
}
DEFAULT_FAILURE = FAILURES["RENDER_FAILED"]


def failure_for(code: str | None, message: str | None = None) -> Failure:
    """A known failure by code, or a made-up one that still looks like HeyGen's."""
    if not code:
        base = DEFAULT_FAILURE
    elif code.upper() in FAILURES:
        base = FAILURES[code.upper()]
    else:
        v2_code = int(code) if code.isdigit() else DEFAULT_FAILURE.v2_code
        base = Failure(code, v2_code, f"Video rendering failed ({code})", DEFAULT_FAILURE.detail)
    return replace(base, message=message, detail=message) if message else base


@dataclass(frozen=True)
class ScriptPlan:
    """What the markers in a script ask for."""

    failure: Failure | None = None
    stall: bool = False
    render_seconds: float | None = None
    file_bytes: int | None = None  # the mp4 padded to this size
    bytes_per_second: float | None = None  # files served no faster than this
    chunked: bool = False  # files served without a Content-Length

    @property
    def shapes_files(self) -> bool:
        return bool(self.file_bytes or self.bytes_per_second or self.chunked)


def plan_from_script(script: str) -> ScriptPlan:
    failure, stall, seconds, size, rate, chunked = None, False, None, None, None, False
    for kind, arg in MARKER.findall(script):
        if kind == "fail":
            failure = failure_for(arg or None)
        elif kind == "stall":
            stall = True
        elif kind == "render":
            seconds = _positive(arg)
        elif kind == "size":
            megabytes = _positive(arg)
            size = int(megabytes * 1024 * 1024) if megabytes else None
        elif kind == "throttle":
            rate = _positive(arg) or None
        elif kind == "chunked":
            chunked = True
    return ScriptPlan(failure, stall, seconds, size, rate, chunked)


def _positive(arg: str) -> float | None:
    try:
        return max(0.0, float(arg))
    except ValueError:
        return None


def spoken_text(script: str) -> str:
    """The script without sandbox markers: what the avatar "says" and the captions show."""
    return " ".join(MARKER.sub(" ", script).split())


def estimate_duration(script: str, speed: float = 1.0) -> float:
    words = len(spoken_text(script).split())
    return round(max(1.0, words / (WORDS_PER_SECOND * max(speed, 0.1))), 3)


@dataclass(frozen=True)
class Video:
    """One render job as the sandbox remembers it."""

    id: str
    api: str  # "v2" | "v3": which endpoint created it
    created_at: float
    render_seconds: float
    finish_at: float | None  # None: stalled, never finishes on its own
    script: str
    avatar_id: str
    voice_id: str
    title: str | None = None
    callback_id: str | None = None
    callback_url: str | None = None
    caption: bool = False
    speed: float = 1.0
    base_url: str = ""
    failure: Failure | None = None
    deleted_at: float | None = None
    notified: bool = False
    request: dict[str, Any] = field(default_factory=dict)
    renderer: str = "static"  # "static": the shared asset files; "real": rendered for it
    stage: str | None = None  # a real render's progress: queued, speech, picture, encoding
    media_duration: float | None = None  # the real length, once rendered
    account: str = DEFAULT_ACCOUNT  # the account whose key created it; others never see it

    @property
    def duration(self) -> float:
        if self.media_duration is not None:
            return self.media_duration
        return estimate_duration(self.script, self.speed)

    def is_final(self, now: float) -> bool:
        return self.finish_at is not None and now >= self.finish_at

    def status_at(self, now: float) -> str:
        """waiting → pending → processing → completed | failed, by elapsed render time (or,
        for a real render without a minimum time, by how far the render has got)."""
        if self.is_final(now):
            return "failed" if self.failure else "completed"
        if self.renderer == "real" and self.render_seconds <= 0:
            return STAGE_STATUS.get(self.stage or "queued", "processing")
        if self.render_seconds <= 0:
            return "processing"
        elapsed = (now - self.created_at) / self.render_seconds
        if elapsed < WAITING_UNTIL:
            return "waiting"
        if elapsed < PENDING_UNTIL:
            return "pending"
        return "processing"

    def seconds_left(self, now: float) -> float | None:
        return None if self.finish_at is None else max(0.0, self.finish_at - now)
