"""The checking lane: asks HeyGen how the videos in flight are doing, and records it.

Independent of the submitting lane, so a create that hangs never delays a finished
video's reply. Per pass, the cheapest question that covers every due video is asked:
one read of the video list (`video_list.py`) while all fit on it, else bulk status calls
(100 ids each, topped up with the videos due soonest), then a fetch of each finished
video's full record, beside the loop. v2 has neither: each video is fetched by id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from ..heygen import HeyGenClient, HeyGenError, VideoState
from ..jobs import COMPLETED, FAILED, PENDING, PROCESSING, Job
from ..store import Store
from .key import KeyWatch
from .outcomes import JobClients, Outcomes, client_for, own_account
from .video_list import LIST_SIZE, RecentList

log = logging.getLogger(__name__)
BULK_SIZE = 100  # HeyGen's limit of ids per bulk status call
DUE_BATCH = 500  # jobs handled per pass, so one pass never holds the event loop for long
IN_FLIGHT = (PENDING, PROCESSING)
IDLE_WAIT = 5.0


class Checker:
    """Follows submitted videos to a final status; one instance per process."""

    def __init__(
        self,
        store: Store,
        heygen: HeyGenClient,
        outcomes: Outcomes,
        key: KeyWatch,
        *,
        concurrency: int = 16,
        clients: JobClients | None = None,
    ) -> None:
        self._store = store
        self._heygen = heygen
        self._clients = clients
        self._outcomes = outcomes
        self._key = key
        self._list = RecentList(heygen, pause=outcomes.schedule.longest)
        self._limit = asyncio.Semaphore(concurrency)
        self._fetching: dict[str, asyncio.Task[None]] = {}  # job id → full fetch under way
        self._wake = asyncio.Event()
        self.last_pass = time.time()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            self._wake.clear()
            self.last_pass = time.time()
            try:
                await self.check_due(time.time())
            except HeyGenError as error:
                if not self._key.refused(error):
                    log.exception("check pass failed")
            except Exception:  # one bad pass must never stop the lane
                log.exception("check pass failed")
            due = await self._store.next_check_at(IN_FLIGHT)
            delay = IDLE_WAIT if due is None else min(IDLE_WAIT, due - time.time())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=max(delay, 0.01))

    async def check_due(self, now: float) -> None:
        # Leased to this process until rescheduled or recorded: no other replica checks them.
        due = await self._store.claim_due(IN_FLIGHT, now, limit=DUE_BATCH)
        if not due:
            return
        own = [job for job in due if own_account(job)]  # workspaces' keys: one by one
        due = [job for job in due if not own_account(job)]
        if own:
            await asyncio.gather(*(self._check_one(job) for job in own))
        if due and self._key.rejected:  # the bot's key is refused: only its jobs wait
            await self._outcomes.hold(due, self._outcomes.schedule.shortest)
            return
        if not due:
            return
        if not self._heygen.bulk_status:
            await asyncio.gather(*(self._check_one(job) for job in due))
        else:
            await self._check_in_bulk(due, now)
        if len(due) == DUE_BATCH:
            self.wake()  # more are due: go on at once, after letting others run

    async def _check_in_bulk(self, jobs: list[Job], now: float) -> None:
        fetching = [job for job in jobs if job.id in self._fetching]
        await self._fetch_all(fetching)  # still being fetched: hold them back again
        due = [job for job in jobs if job.id not in self._fetching]
        left = await self._from_recent_list(due, now) if due else []
        if left:
            await self._fetch_all(await self._only_finished(left, now))

    async def _from_recent_list(self, due: list[Job], now: float) -> list[Job]:
        """Settle every video in flight from the list; return the due ones it lacks."""
        room = LIST_SIZE - len(due)
        if room < 0:
            return due
        upcoming = await self._store.upcoming_jobs(IN_FLIGHT, now, limit=room + 1)
        in_flight = [job for job in due + upcoming if job.id not in self._fetching]
        if len(upcoming) > room or self._list.resting(in_flight, now):
            return due
        found = await self._list.read(time.time())
        if found is None:
            return due
        missed = [job for job in due if job.video_id not in found]
        if missed:
            self._list.missed(now)
        await self._settle(
            [(job, found[job.video_id]) for job in in_flight if job.video_id in found]
        )
        return missed

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
                await self._outcomes.apply(job, state)
            else:
                unchanged.append(job)
        await self._outcomes.reschedule(unchanged, time.time())
        await self._fetch_all(incomplete)

    async def _only_finished(self, due: list[Job], now: float) -> list[Job]:
        """Ask for up to 100 statuses per call; return the jobs whose video is done.

        The last call is topped up with the videos due soonest: the call is paid for
        anyway, and looking early never makes a video's later checks denser.
        """
        room = -len(due) % BULK_SIZE
        extra = await self._store.upcoming_jobs(IN_FLIGHT, now, limit=room) if room else []
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
            await self._outcomes.moved(job, status, time.time())
        await self._outcomes.reschedule(unchanged, time.time())
        return finished

    async def _bulk(self, batch: list[Job]) -> dict[str, str] | None:
        """Statuses by video id; None when the call failed (the caller asks one by one)."""
        try:
            return await self._heygen.video_statuses(j.video_id or "" for j in batch)
        except HeyGenError as error:
            if error.rejects_key:
                raise
            log.warning("bulk status check failed, asking one by one: %s", error)
            return None

    async def _fetch_all(self, finished: list[Job]) -> None:
        """Fetch finished videos' records; until they are in, the jobs leave the due list."""
        await self._outcomes.hold(finished, self._outcomes.schedule.shortest)
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

    async def _check_one(self, job: Job) -> None:
        if self._key.rejected and not own_account(job):
            return  # held: looked at again once HeyGen accepts the bot's key
        async with self._limit:
            try:
                heygen = await self._client(job)
                state = await heygen.video_state(job.video_id or "")
            except HeyGenError as error:
                await self._check_failed(job, error)
                return
        await self._outcomes.apply(job, state)

    async def _client(self, job: Job) -> HeyGenClient:
        return await client_for(job, self._heygen, self._clients)

    async def _check_failed(self, job: Job, error: HeyGenError) -> None:
        """Only HeyGen saying the video does not exist ends a job; the rest waits.

        A rejected key holds the job as it is: no check counts, no timeout runs. A
        workspace's own key that HeyGen refuses (or that is gone) ends that job alone.
        """
        if error.rejects_key and own_account(job):
            await self._outcomes.fail(job, error.code, error.message, tell_user=False)
            return
        if self._key.refused(error):
            return
        if error.status_code == 404:
            await self._outcomes.fail(job, error.code, error.message, tell_user=False)
            return
        log.warning("job %s: status check failed, will retry: %s", job.id, error)
        await self._outcomes.reschedule([job], time.time())


def _moved(job: Job, bulk_status: str) -> bool:
    """True when the cheap status differs from what we last recorded."""
    seen = PROCESSING if bulk_status == PROCESSING else PENDING
    return seen != job.status
