"""The submitting lane: sends recorded jobs to HeyGen, in arrival order, a few at a time.

A create can take as long as HEYGEN_TIMEOUT_SECONDS (times the retries), so each runs in
its own task, at most `CREATES_AT_ONCE` together per HeyGen account (`Job.account`), so
creates hanging at one account never hold back another account's videos; the lane itself
never waits on HeyGen, and the checking lane never waits on this one. Jobs waiting for a
render slot keep their order: render slots are a HeyGen account's, so each account has its
own queue; while one of its jobs is queued (HeyGen said every slot is busy), only the head of
that queue is sent, and the jobs behind it are shown as queued. While HeyGen refuses the
bot's own key, only the jobs on the bot's account wait. A job merely backing off after a
HeyGen fault holds back nobody. Each job is created once: `start_submitting` takes the
job's lease (one replica sends it; another takes over only once a dead one's lease has
expired), v3 sends an Idempotency-Key, v2 first looks for the video a lost create may
have made.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter

from ..heygen import HeyGenClient, HeyGenError, OutcomeUnknown, VideoSpec
from ..jobs import NEW, QUEUED, SUBMITTING, Job
from ..store import Store, renewing
from .key import KeyWatch
from .outcomes import JobClients, Outcomes, client_for, own_account

log = logging.getLogger(__name__)
CREATES_AT_ONCE = 4  # creates under way together, per HeyGen account
UNCONFIRMED_WAIT = 5.0  # lets HeyGen's video list catch up before the bot looks
IDLE_WAIT = 5.0  # the longest the lane sleeps without being woken


class Submitter:
    """Moves jobs from `new` (or `queued`) to `pending`; one instance per process."""

    def __init__(
        self,
        store: Store,
        heygen: HeyGenClient,
        outcomes: Outcomes,
        key: KeyWatch,
        clients: JobClients | None = None,
    ) -> None:
        self._store = store
        self._heygen = heygen
        self._clients = clients
        self._outcomes = outcomes
        self._key = key
        self._creating: dict[str, asyncio.Task[None]] = {}  # job id → its create
        self._creates_of: Counter[str | None] = Counter()  # HeyGen account → creates under way
        # Per HeyGen account: a queued job being sent; the rest of its queue waits behind it.
        self._heads: dict[str | None, str] = {}
        self._wake = asyncio.Event()
        self._slot_freed = False
        self.last_pass = time.time()

    def wake(self) -> None:
        self._wake.set()

    def slot_freed(self) -> None:
        """A render finished: the head of the queue may be sent now, not at its retry time."""
        self._slot_freed = True
        self._wake.set()

    async def run(self) -> None:
        try:
            while True:
                self._wake.clear()
                self.last_pass = time.time()
                next_at = None
                try:
                    next_at = await self.submit_due(time.time())
                except Exception:  # one bad pass must never stop the lane
                    log.exception("submit pass failed")
                delay = IDLE_WAIT if next_at is None else next_at - time.time()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), min(IDLE_WAIT, max(delay, 0.01)))
        finally:
            for task in self._creating.values():
                task.cancel()

    async def submit_due(self, now: float) -> float | None:
        """Start the creates that are due, in arrival order within each HeyGen account's
        queue (render slots are an account's); when to look again (None: when woken)."""
        slot_freed, self._slot_freed = self._slot_freed, False
        waiting = await self._store.unsubmitted()
        # Accounts whose jobs wait: behind a queued head, or the bot's key refused.
        held: set[str | None] = {None} if self._key.rejected else set()
        next_at: float | None = None
        for index, job in enumerate(waiting):
            lane = job.account
            if lane in held:
                continue
            if job.leased_elsewhere(self._store.owner, now):
                # Another replica is sending it; a queued head holds its queue back here too.
                if job.status == QUEUED:
                    held.add(lane)
                    next_at = _sooner(next_at, job.lease_until)
                continue
            if job.id in self._creating:
                if job.id == self._heads.get(lane):  # its queue waits for the answer
                    self._slot_freed |= slot_freed
                    held.add(lane)
                continue
            if self._creates_of[lane] >= CREATES_AT_ONCE:
                held.add(lane)  # a finishing create wakes the lane; other accounts go on
                continue
            due = job.next_check_at or 0
            if due > now and not (slot_freed and job.status == QUEUED):
                if job.status == QUEUED:
                    behind = [j for j in waiting[index + 1 :] if j.account == lane]
                    await self._queue_behind(behind, job)
                    held.add(lane)
                next_at = _sooner(next_at, due)
                continue
            self._start(job)
            if job.status == QUEUED:
                held.add(lane)  # waiting for a slot: one at a time, in order
        return next_at

    def _start(self, job: Job) -> None:
        if job.status == QUEUED:
            self._heads[job.account] = job.id
        self._creates_of[job.account] += 1
        self._creating[job.id] = asyncio.create_task(self._submit_then_wake(job))

    async def _submit_then_wake(self, job: Job) -> None:
        try:
            if await self.submit(job) and self._heads.get(job.account) == job.id:
                self._slot_freed = True  # HeyGen took the head: try the next in line now
        except Exception:
            log.exception("job %s: submit failed", job.id)
        finally:
            self._creating.pop(job.id, None)
            self._creates_of[job.account] -= 1
            if not self._creates_of[job.account]:
                del self._creates_of[job.account]
            if self._heads.get(job.account) == job.id:
                del self._heads[job.account]
            self.wake()

    async def _queue_behind(self, jobs: list[Job], head: Job) -> None:
        """No free slot: the jobs after `head` wait too, shown as queued, in order."""
        newly_queued = [job for job in jobs if job.status == NEW and job.id not in self._creating]
        queued = [
            await self._store.record_status(
                job.id, QUEUED, only_from=(NEW,), next_check_at=head.next_check_at
            )
            for job in newly_queued
        ]
        if any(queued):
            self._outcomes.changed()

    async def submit(self, job: Job) -> bool:
        """Create the video for `job`; False when HeyGen has no free slot right now."""
        if self._outcomes.overdue(job, time.time()):
            await self._outcomes.timed_out(job)
            return True
        resumed = job.status == SUBMITTING
        if not await self._store.start_submitting(job.id):
            return True  # cancelled while it waited, or created by a pass that just ended
        try:
            async with renewing(self._store, "jobs", [job.id]):  # a create may take minutes
                video_id = await self._create(job, resumed=resumed)
        except OutcomeUnknown as error:
            # v2 cannot de-duplicate: stay `submitting`; the next try looks the video up by
            # its callback_id first and only resends when HeyGen has no such video.
            log.warning("job %s: create unconfirmed, will look it up: %s", job.id, error)
            await self._store.update_job(job.id, next_check_at=time.time() + UNCONFIRMED_WAIT)
            return True
        except HeyGenError as error:
            return await self._create_refused(job, error)
        if not await self._outcomes.submitted(job, video_id):
            await self._discard(job, video_id)
        return True

    async def _client(self, job: Job) -> HeyGenClient:
        return await client_for(job, self._heygen, self._clients)

    async def _create(self, job: Job, *, resumed: bool) -> str:
        """Create once: a resumed create first asks HeyGen for the video it may have made."""
        heygen = await self._client(job)
        if resumed:
            found = await heygen.find_video(job.id, since=job.created_at)
            if found:
                log.info("job %s: found video %s created before a restart", job.id, found)
                return found
        return await heygen.create_video(_spec(job), idempotency_key=job.id)

    async def _discard(self, job: Job, video_id: str) -> None:
        """Best effort: delete a video whose job was cancelled during its create call."""
        await self._store.update_job(job.id, video_id=video_id)
        try:
            await (await self._client(job)).delete_video(video_id)
        except HeyGenError as error:
            log.warning("job %s: could not delete cancelled video %s: %s", job.id, video_id, error)

    async def _create_refused(self, job: Job, error: HeyGenError) -> bool:
        now = time.time()
        if error.concurrency_limited:
            wait = error.retry_after or self._outcomes.schedule.shortest
            await self._store.record_status(job.id, QUEUED, next_check_at=now + wait)
            self._outcomes.changed()
            return False
        if error.rejects_key and own_account(job):
            # A workspace's own key: its job fails with HeyGen's word; no one else waits.
            await self._outcomes.fail(job, error.code, error.message, tell_user=True)
            return True
        if error.transient or self._key.refused(error):
            if not error.rejects_key:
                log.warning("job %s: HeyGen unavailable, will retry: %s", job.id, error)
            # A job that was mid-submit keeps `submitting`, so v2 looks before resending.
            status = job.status if job.status in (QUEUED, SUBMITTING) else NEW
            await self._store.update_job(
                job.id, status=status, next_check_at=now + self._outcomes.schedule.shortest
            )
            return True
        await self._outcomes.fail(job, error.code, error.message, tell_user=True)
        return True


def _sooner(a: float | None, b: float) -> float:
    return b if a is None else min(a, b)


def _spec(job: Job) -> VideoSpec:
    return VideoSpec(
        avatar_id=job.avatar_id,
        voice_id=job.voice_id,
        script=job.script,
        speed=job.speed,
        shape=job.shape,
        resolution=job.resolution,
        title=job.title,
        avatar_style=job.avatar_style,
        background=job.background,
        captions=job.captions,
        pitch=job.pitch,
        test=job.test,
        callback_id=job.id,
    )
