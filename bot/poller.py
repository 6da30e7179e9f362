"""The background loop: submits new jobs to HeyGen and follows them to a final status.

It only records transitions in the store (which queues the Slack messages in the same
transaction); it never talks to Slack and never builds blocks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import replace

from .heygen import HeyGenClient, HeyGenError, OutcomeUnknown, VideoSpec, VideoState
from .jobs import COMPLETED, FAILED, NEW, PENDING, PROCESSING, QUEUED, SUBMITTING, TIMED_OUT, Job
from .schedule import RenderHistory, Schedule
from .store import Store

log = logging.getLogger(__name__)
BULK_SIZE = 100  # HeyGen's limit of ids per bulk status call
LIST_SIZE = 100  # newest videos on one page of HeyGen's video list
DUE_BATCH = 500  # jobs handled per pass, so one pass never holds the event loop for long
UNCONFIRMED_WAIT = 5.0  # lets HeyGen's video list catch up before the bot looks


class Poller:
    """Moves jobs from `new` to a final status; one instance per process."""

    def __init__(
        self,
        store: Store,
        heygen: HeyGenClient,
        schedule: Schedule,
        *,
        concurrency: int = 16,
        on_change: asyncio.Event | None = None,
    ) -> None:
        self._store = store
        self._heygen = heygen
        self._schedule = schedule
        self._history = RenderHistory()
        self._limit = asyncio.Semaphore(concurrency)
        self._fetching: dict[str, asyncio.Task[None]] = {}  # job id → full fetch under way
        self._wake = asyncio.Event()
        self._changed = on_change or asyncio.Event()
        self._slot_freed = False
        self._list_missed_at: float | None = None  # when the video list last fell short
        self._list_paused_until = 0.0  # after a failed read, bulk checks for a while
        self.last_tick = time.time()

    def wake(self) -> None:
        """Look again now (a job was added, a webhook arrived)."""
        self._wake.set()

    async def run(self) -> None:
        for script, speed, took in await self._store.recent_renders(50):
            self._learn(script, speed, took)
        while True:
            self._wake.clear()
            self.last_tick = time.time()
            try:
                await self.tick()
            except Exception:  # one bad tick must never stop the loop
                log.exception("poller tick failed")
            await self._sleep_until_due()

    async def _sleep_until_due(self) -> None:
        due = await self._store.next_check_at()
        delay = 5.0 if due is None else min(5.0, max(0.0, due - time.time()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=max(delay, 0.01))

    async def tick(self) -> None:
        now = time.time()
        await self._submit_due(now)
        due = await self._store.due_jobs((PENDING, PROCESSING), now, limit=DUE_BATCH)
        if due:
            await self._check(due, now)
        if self._slot_freed:  # a render finished (here or by webhook): the queue may move
            self._slot_freed = False
            await self._submit_due(time.time(), slot_freed=True)
        if len(due) == DUE_BATCH:
            self.wake()  # more are due: go on at once, after letting others run

    # Submitting.
    async def _submit_due(self, now: float, *, slot_freed: bool = False) -> None:
        """Send waiting jobs to HeyGen in arrival order.

        Jobs waiting for a render slot keep their order: the first one still waiting (or
        told "all slots busy") holds back every newer job. A job merely backing off after
        a HeyGen fault holds back nobody.
        """
        waiting = await self._store.unsubmitted()
        for index, job in enumerate(waiting):
            queued_for_slot = slot_freed and job.status == QUEUED
            if (job.next_check_at or 0) > now and not queued_for_slot:
                if job.status == QUEUED:
                    await self._queue_behind(waiting[index + 1 :], job)
                    return
                continue
            if not await self.submit(job):
                await self._queue_behind(waiting[index + 1 :], job)
                return

    async def _queue_behind(self, jobs: list[Job], head: Job) -> None:
        """No free slot: the jobs after `head` wait too, shown as queued, in order."""
        refreshed = await self._store.job(head.id)
        retry_at = refreshed.next_check_at if refreshed else None
        newly_queued = [job for job in jobs if job.status == NEW]
        for job in newly_queued:
            await self._store.record_status(job.id, QUEUED, next_check_at=retry_at)
        if newly_queued:
            self._changed.set()

    async def submit(self, job: Job) -> bool:
        """Create the video for `job`; False when HeyGen has no free slot right now."""
        now = time.time()
        if now - job.created_at > self._schedule.timeout:
            await self._finish_timed_out(job)
            return True
        resumed = job.status == SUBMITTING
        if not await self._store.update_job(job.id, status=SUBMITTING):
            return True  # cancelled while it waited its turn
        try:
            video_id = await self._create(job, resumed=resumed)
        except OutcomeUnknown as error:
            # v2 cannot de-duplicate: stay `submitting`; the next try looks the video up by
            # its callback_id first and only resends when HeyGen has no such video.
            log.warning("job %s: create unconfirmed, will look it up: %s", job.id, error)
            await self._store.update_job(job.id, next_check_at=time.time() + UNCONFIRMED_WAIT)
            return True
        except HeyGenError as error:
            return await self._create_refused(job, error)
        if not await self._record_submitted(job, video_id):
            await self._discard(job, video_id)
        return True

    async def _create(self, job: Job, *, resumed: bool) -> str:
        """Create once: a resumed create first asks HeyGen for the video it may have made."""
        if resumed:
            found = await self._heygen.find_video(job.id)
            if found:
                log.info("job %s: found video %s created before a restart", job.id, found)
                return found
        spec = VideoSpec(
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
        return await self._heygen.create_video(spec, idempotency_key=job.id)

    async def _record_submitted(self, job: Job, video_id: str) -> bool:
        """False when the job was cancelled while HeyGen was creating its video."""
        now = time.time()
        first = self._schedule.first_wait(self._expected(job))
        recorded = await self._store.record_status(
            job.id,
            PENDING,
            video_id=video_id,
            submitted_at=now,
            next_check_at=now + first,
            check_interval=first,
        )
        self._changed.set()
        return recorded

    async def _discard(self, job: Job, video_id: str) -> None:
        """Best effort: delete a video whose job was cancelled during its create call."""
        await self._store.update_job(job.id, video_id=video_id)
        try:
            await self._heygen.delete_video(video_id)
        except HeyGenError as error:
            log.warning("job %s: could not delete cancelled video %s: %s", job.id, video_id, error)

    async def _create_refused(self, job: Job, error: HeyGenError) -> bool:
        now = time.time()
        if error.concurrency_limited:
            wait = error.retry_after or self._schedule.shortest
            await self._store.record_status(job.id, QUEUED, next_check_at=now + wait)
            self._changed.set()
            return False
        if error.transient:
            log.warning("job %s: HeyGen unavailable, will retry: %s", job.id, error)
            # A job that was mid-submit keeps `submitting`, so v2 looks before resending.
            status = job.status if job.status in (QUEUED, SUBMITTING) else NEW
            await self._store.update_job(
                job.id, status=status, next_check_at=now + self._schedule.shortest
            )
            return True
        await self._fail(job, error.code, error.message, tell_user=True)
        return True

    # Checking.
    async def _check(self, jobs: list[Job], now: float) -> None:
        if not self._heygen.bulk_status:
            await asyncio.gather(*(self._check_one(job) for job in jobs))
            return
        fetching = [job for job in jobs if job.id in self._fetching]
        await self._fetch_all(fetching)  # still being fetched: hold them back again
        due = [job for job in jobs if job.id not in self._fetching]
        left = await self._from_recent_list(due, now) if due else []
        if left:
            await self._fetch_all(await self._only_finished(left, now))

    async def _from_recent_list(self, due: list[Job], now: float) -> list[Job]:
        """Settle every video in flight from one page of the account's newest videos.

        With few videos in flight this is the cheapest check there is: one call carries
        each status and, for a finished video, its links, so no fetch follows. It is used
        only while all of them fit on the page; the due videos the page lacks (the account
        made many videos since) are returned for the bulk check, and the list then rests
        until every video in flight is newer than that miss. A failed read rests it for
        POLL_MAX_INTERVAL_SECONDS.
        """
        room = LIST_SIZE - len(due)
        if room < 0:
            return due
        upcoming = await self._store.upcoming_jobs((PENDING, PROCESSING), now, limit=room + 1)
        in_flight = [job for job in due + upcoming if job.id not in self._fetching]
        if len(upcoming) > room or self._list_resting(in_flight, now):
            return due
        try:
            states = await self._heygen.recent_videos(LIST_SIZE)
        except HeyGenError as error:
            log.warning("listing recent videos failed, checking in bulk for now: %s", error)
            self._list_paused_until = time.time() + self._schedule.longest
            return due
        found = {state.video_id: state for state in states or []}
        missed = [job for job in due if job.video_id not in found]
        if missed:
            self._list_missed_at = now
        await self._settle(
            [(job, found[job.video_id]) for job in in_flight if job.video_id in found]
        )
        return missed

    def _list_resting(self, in_flight: list[Job], now: float) -> bool:
        """True for a while after a failed read, and while a video in flight is as old as
        the list's last miss (it would be missing again)."""
        if now < self._list_paused_until:
            return True
        if self._list_missed_at is None or not in_flight:
            return False
        oldest = min(job.submitted_at or job.created_at for job in in_flight)
        return oldest <= self._list_missed_at

    async def _settle(self, seen: list[tuple[Job, VideoState]]) -> None:
        """Record what a listing said of each video: final, moved along, or unchanged.

        A final status without the link (or the reason) the reply needs is fetched by id;
        a listing that lags behind never moves a video back from processing to pending.
        """
        unchanged, incomplete = [], []
        for job, state in seen:
            if not state.reportable:
                incomplete.append(job)
            elif state.final or (state.status, job.status) == (PROCESSING, PENDING):
                await self._apply(job, state)
            else:
                unchanged.append(job)
        await self._reschedule_many(unchanged, time.time())
        await self._fetch_all(incomplete)

    async def _fetch_all(self, finished: list[Job]) -> None:
        """Fetch finished videos' records; until they are in, the jobs leave the due list."""
        hold, until = self._schedule.shortest, time.time() + self._schedule.shortest
        await self._store.reschedule((job.id, until, hold, job.checks) for job in finished)
        for job in finished:
            self._fetch_later(job)

    def _fetch_later(self, job: Job) -> None:
        """Fetch a finished video's full record beside the loop, not in it.

        Under a tight rate cap these fetches queue; the bulk checks of everything else
        must not queue behind them.
        """
        if job.id in self._fetching:
            return
        task = asyncio.create_task(self._check_one(job))
        self._fetching[job.id] = task
        task.add_done_callback(lambda _: self._fetching.pop(job.id, None))

    async def _only_finished(self, due: list[Job], now: float) -> list[Job]:
        """Ask for up to 100 statuses per call; return the jobs whose video is done.

        The last call is topped up with the videos due soonest: the call is paid for
        anyway, and looking early never makes a video's later checks denser.
        """
        room = -len(due) % BULK_SIZE
        extra = (
            await self._store.upcoming_jobs((PENDING, PROCESSING), now, limit=room) if room else []
        )
        jobs = due + extra
        early = {job.id for job in extra}
        batches = [jobs[i : i + BULK_SIZE] for i in range(0, len(jobs), BULK_SIZE)]
        answers = await asyncio.gather(*(self._bulk(batch) for batch in batches))
        finished: list[Job] = []
        moves: list[tuple[Job, str]] = []
        unchanged: list[Job] = []
        for batch, statuses in zip(batches, answers, strict=True):
            for job in batch:
                status = statuses.get(job.video_id or "") if statuses is not None else None
                if status is None and statuses is not None and job.id in early:
                    continue  # an early look that HeyGen skipped costs nothing
                if status in (None, "not_found", COMPLETED, FAILED):
                    finished.append(job)
                elif _moved(job, status):
                    moves.append((job, PROCESSING if status == PROCESSING else PENDING))
                else:
                    unchanged.append(job)
        for job, status in moves:
            await self._record_move(job, status, time.time())
        await self._reschedule_many(unchanged, time.time())
        return finished

    async def _bulk(self, batch: list[Job]) -> dict[str, str] | None:
        """Statuses by video id; None when the call failed (the caller asks one by one)."""
        try:
            return await self._heygen.video_statuses(j.video_id or "" for j in batch)
        except HeyGenError as error:
            log.warning("bulk status check failed, asking one by one: %s", error)
            return None

    async def _check_one(self, job: Job) -> None:
        async with self._limit:
            try:
                state = await self._heygen.video_state(job.video_id or "")
            except HeyGenError as error:
                await self._check_failed(job, error)
                return
        await self._apply(job, state)

    async def _apply(self, job: Job, state: VideoState) -> None:
        now = time.time()
        if state.final:
            self._slot_freed = True
            recorded = await self._store.record_status(
                job.id,
                state.status,
                video_url=state.link(captions=job.captions),
                thumbnail_url=state.thumbnail_url,
                gif_url=state.gif_url,
                duration=state.duration,
                failure_code=state.failure_code,
                failure_message=state.failure_message,
                checks=job.checks + 1,
            )
            self._changed.set()
            if recorded and state.status == COMPLETED and job.submitted_at:
                self._learn(job.script, job.speed, now - job.submitted_at)
        elif now - job.created_at > self._schedule.timeout:
            await self._finish_timed_out(job, last_status=state.status)
        elif state.status != job.status:
            await self._record_move(job, state.status, now)
        else:
            await self._reschedule_many([job], now)

    async def _record_move(self, job: Job, status: str, now: float) -> None:
        """HeyGen moved the video along (e.g. pending → processing): record it, check later."""
        if now - job.created_at > self._schedule.timeout:
            await self._finish_timed_out(job, last_status=status)
            return
        due = self._next_check_at(job, now)
        await self._store.record_status(
            job.id, status, next_check_at=due, check_interval=due - now, checks=job.checks + 1
        )
        self._changed.set()

    async def _reschedule_many(self, jobs: list[Job], now: float) -> None:
        """Plan the next check of videos still rendering, in one write."""
        plans = []
        for job in jobs:
            if now - job.created_at > self._schedule.timeout:
                await self._finish_timed_out(job)
                continue
            due = self._next_check_at(job, now)
            plans.append((job.id, due, due - now, job.checks + 1))
        await self._store.reschedule(plans)

    def _next_check_at(self, job: Job, now: float) -> float:
        submitted = job.submitted_at or job.created_at
        return self._schedule.next_check_at(submitted, now, self._expected(job))

    def _learn(self, script: str, speed: float, took: float) -> None:
        """Fold one finished render into the estimate used for videos submitted from now on."""
        base = self._schedule.expected_render(script, speed) / self._schedule.correction
        self._history.add(took, base)
        self._schedule = replace(self._schedule, correction=self._history.correction())

    def _expected(self, job: Job) -> float:
        return self._schedule.expected_render(job.script, job.speed)

    async def _check_failed(self, job: Job, error: HeyGenError) -> None:
        """Only HeyGen saying the video does not exist ends a job; the rest waits."""
        if error.status_code == 404:
            await self._fail(job, error.code, error.message, tell_user=False)
            return
        log.warning("job %s: status check failed, will retry: %s", job.id, error)
        await self._reschedule_many([job], time.time())

    async def apply_state(self, state: VideoState) -> bool:
        """Record a state learnt elsewhere (a webhook); False when no job has the video."""
        job = await self._store.job_by_video(state.video_id)
        if job is None or job.finished:
            return job is not None
        await self._apply(job, state)
        if self._slot_freed:
            self.wake()  # let queued jobs take the freed render slot now
        return True

    # Endings.
    async def _finish_timed_out(self, job: Job, last_status: str | None = None) -> None:
        await self._store.record_status(
            job.id, TIMED_OUT, failure_message=last_status or job.status
        )
        self._changed.set()

    async def _fail(self, job: Job, code: str, message: str, *, tell_user: bool) -> None:
        await self._store.record_status(
            job.id, FAILED, failure_code=code, failure_message=message, notify_user=tell_user
        )
        self._changed.set()


def _moved(job: Job, bulk_status: str) -> bool:
    """True when the cheap status differs from what we last recorded."""
    seen = PROCESSING if bulk_status == PROCESSING else PENDING
    return seen != job.status
