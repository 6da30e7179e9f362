"""The life of a job: its record, its statuses, and what each change tells Slack.

The store keeps jobs and the outbox; the rules for which Slack messages a status change
calls for live here, so a reader can follow one video from submission to reply without
reading SQL, and every store backend applies the same rules.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

# Job statuses, in the order a job moves through them.
NEW = "new"  # recorded; not yet sent to HeyGen
QUEUED = "queued"  # HeyGen's concurrency limit is full; waits for a slot
SUBMITTING = "submitting"  # create call under way; its answer is not recorded yet
PENDING = "pending"
PROCESSING = "processing"
COMPLETED = "completed"
FAILED = "failed"
TIMED_OUT = "timed_out"
CANCELLED = "cancelled"
UNFINISHED = (NEW, QUEUED, SUBMITTING, PENDING, PROCESSING)
FINISHED = (COMPLETED, FAILED, TIMED_OUT, CANCELLED)

# Outbox kinds: what notify must tell Slack.
PARENT = "parent"  # post the parent message
PARENT_UPDATE = "parent_update"  # edit the parent message to the job's current state
RESULT = "result"  # the one final reply in the thread
EPHEMERAL = "ephemeral"  # a private note to the requester (e.g. HeyGen refused the job)
UPLOAD = "upload"  # the finished mp4 uploaded into the thread (or a note saying why not)
DM = "dm"  # the requester asked for a direct message when the video is finished
HOME = "home"  # republish the requester's App Home (only people who have opened it)
KEY_REJECTED = "key_rejected"  # in the thread: HeyGen rejects the bot's key; the video waits


@dataclass
class Job:
    """One requested video, as stored; crosses from store to poller and notify."""

    id: str
    team_id: str
    channel_id: str
    user_id: str
    api_version: str
    avatar_id: str
    avatar_name: str
    voice_id: str
    voice_name: str
    script: str
    shape: str = "16:9"
    resolution: str = "720p"
    speed: float = 1.0
    title: str | None = None
    avatar_style: str = "normal"
    background: str | None = None  # "#RRGGBB"; None keeps the avatar's own background
    captions: bool = False
    pitch: float = 0.0
    test: bool = False  # v2 only: a watermarked test render that costs no credit
    notify_dm: bool = False
    sandbox: bool = False
    status: str = NEW
    thread_ts: str | None = None
    redirected_from: str | None = None  # the conversation the bot could not post in
    parent_ts: str | None = None
    video_id: str | None = None
    video_url: str | None = None
    thumbnail_url: str | None = None
    gif_url: str | None = None
    duration: float | None = None
    video_file_id: str | None = None  # the Slack file the mp4 was uploaded as
    failure_code: str | None = None
    failure_message: str | None = None
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    submitted_at: float | None = None
    finished_at: float | None = None
    next_check_at: float | None = None
    check_interval: float | None = None
    checks: int = 0
    held_seconds: float = 0.0  # time spent waiting for HeyGen to accept the bot's key again
    # Which bot process is working on the job (a submit, a status check), and until when.
    lease_owner: str | None = None
    lease_until: float | None = None
    # Distribution mode: the Grid org of the workspace (its installation may be org-wide),
    # and the HeyGen account the job runs on (`heygen.client.account_key`; None: the bot's).
    enterprise_id: str | None = None
    account: str | None = None

    def waited(self, now: float) -> float:
        """How long the job has waited for HeyGen, not counting time HeyGen refused the key.

        JOB_TIMEOUT_SECONDS is measured with this: a video held for an admin to fix the
        key is not HeyGen failing to finish it.
        """
        return now - self.created_at - self.held_seconds

    def leased_elsewhere(self, owner: str, now: float) -> bool:
        """Another bot process holds the job's lease: its work on the job is under way."""
        held = bool(self.lease_owner) and (self.lease_until or 0) > now
        return held and self.lease_owner != owner

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def reply_thread(self) -> str | None:
        """Where results go: the thread the job was asked from, else under the parent."""
        return self.thread_ts or self.parent_ts

    def choices(self) -> dict[str, Any]:
        """What the requester chose (not what happened): enough to ask for it again."""
        return {name: getattr(self, name) for name in CHOICE_FIELDS}


@dataclass
class OutboxItem:
    id: int
    job_id: str
    kind: str
    body: dict[str, Any]
    attempts: int
    claimed_at: float | None


CHOICE_FIELDS = (
    "team_id",
    "channel_id",
    "user_id",
    "avatar_id",
    "avatar_name",
    "voice_id",
    "voice_name",
    "script",
    "shape",
    "resolution",
    "speed",
    "title",
    "avatar_style",
    "background",
    "captions",
    "pitch",
    "test",
    "notify_dm",
    "sandbox",
)


def new_job_id(*parts: str) -> str:
    """A random id, or one derived from `parts` (e.g. a modal's view id).

    Deriving it from the Slack view makes a replayed or double-delivered submission map to
    the same job, which `add_job` then ignores.
    """
    if not parts:
        return uuid.uuid4().hex
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Message:
    """One outbox row a change calls for; `key` de-duplicates it (None: always new)."""

    kind: str
    key: str | None


def messages_for(job: Job, status: str, *, notify_user: bool, sees_home: bool) -> list[Message]:
    """What Slack must be told when `job` (as it was) moves to `status`, in sending order.

    The announcement follows every change; a final status adds the one result (and, for a
    finished video, the upload), the opt-in DM unless the job was redirected to a DM
    already, and a fresh App Home for a requester who has opened it (last: a courtesy).
    """
    planned: list[Message] = []
    if status != job.status:
        planned.append(Message(PARENT_UPDATE, None))
    if status in FINISHED:
        planned.append(Message(RESULT, f"{job.id}:{RESULT}"))
        if status == COMPLETED:
            planned.append(Message(UPLOAD, f"{job.id}:{UPLOAD}"))
        if job.notify_dm and status != CANCELLED and not job.redirected_from:
            planned.append(Message(DM, f"{job.id}:{DM}"))
    if notify_user:
        planned.append(Message(EPHEMERAL, f"{job.id}:{EPHEMERAL}:{status}"))
    if status in FINISHED and sees_home:
        planned.append(Message(HOME, f"{job.id}:{HOME}"))
    return planned


def key_rejected_message(job: Job) -> Message:
    """The requester's one note that the video waits for an admin to fix the HeyGen key.

    Keyed per job, so however often (or for however long) HeyGen refuses the key, each
    requester is told once.
    """
    return Message(KEY_REJECTED, f"{job.id}:{KEY_REJECTED}")


def moves_queue(job: Job, status: str) -> bool:
    """A job leaving the local queue moves every queued job up a place (their parents say so)."""
    return job.status == QUEUED and status != QUEUED
