"""What the poller's lanes write: each thing HeyGen said of a job, and its next check.

Both lanes (submitting and checking) record through one `Outcomes`, so the rules for a
job's schedule and its endings live in one place: the store queues the Slack messages
each change calls for in the same transaction.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace

from ..heygen import HeyGenClient, HeyGenError, VideoState
from ..jobs import COMPLETED, FAILED, PENDING, TIMED_OUT, Job
from ..schedule import RenderHistory, Schedule
from ..store import Store

# Distribution mode: the HeyGen client of the account a job runs on (None: its key is gone).
JobClients = Callable[[Job], Awaitable[HeyGenClient | None]]
KEY_GONE = (
    "key_removed",
    "This workspace's HeyGen API key was removed or replaced, so the bot cannot follow this "
    "video any more.",
)


def own_account(job: Job) -> bool:
    """The job runs on a workspace's own HeyGen key (distribution mode), not the bot's."""
    return job.account is not None


async def client_for(job: Job, bots: HeyGenClient, clients: JobClients | None) -> HeyGenClient:
    """The job's account's client (distribution mode), else the bot's; its key gone: refused."""
    if clients is None or not own_account(job):
        return bots
    client = await clients(job)
    if client is None:
        raise HeyGenError(KEY_GONE[1], code=KEY_GONE[0], status_code=401)
    return client


class Outcomes:
    """Records transitions and plans checks; learns render times as videos finish."""

    def __init__(
        self,
        store: Store,
        schedule: Schedule,
        changed: asyncio.Event,
        on_slot_freed: Callable[[], None],
        on_submitted: Callable[[], None],
    ) -> None:
        self._store = store
        self.schedule = schedule
        self._history = RenderHistory()
        self._changed = changed
        self._slot_freed = on_slot_freed
        self._submitted = on_submitted

    def changed(self) -> None:
        """Something Slack shows changed: wake the notifier."""
        self._changed.set()

    # The schedule.
    def overdue(self, job: Job, now: float) -> bool:
        """Past JOB_TIMEOUT_SECONDS, not counting time held while HeyGen refused the key."""
        return job.waited(now) > self.schedule.timeout

    def expected(self, job: Job) -> float:
        return self.schedule.expected_render(job.script, job.speed)

    def next_check_at(self, job: Job, now: float) -> float:
        submitted = job.submitted_at or job.created_at
        return self.schedule.next_check_at(submitted, now, self.expected(job))

    def learn(self, script: str, speed: float, took: float) -> None:
        """Fold one finished render into the estimate used for videos submitted from now on."""
        base = self.schedule.expected_render(script, speed) / self.schedule.correction
        self._history.add(took, base)
        self.schedule = replace(self.schedule, correction=self._history.correction())

    # Transitions.
    async def submitted(self, job: Job, video_id: str) -> bool:
        """HeyGen accepted the create; False when the job was cancelled meanwhile."""
        now = time.time()
        first = self.schedule.first_wait(self.expected(job))
        recorded = await self._store.record_status(
            job.id,
            PENDING,
            video_id=video_id,
            submitted_at=now,
            next_check_at=now + first,
            check_interval=first,
        )
        self._changed.set()
        self._submitted()  # the checking lane plans its next look with this video in
        return recorded

    async def apply(self, job: Job, state: VideoState) -> None:
        """Record what HeyGen says of the video: final, moved along, or still the same."""
        now = time.time()
        if state.final:
            await self._finish(job, state, now)
        elif self.overdue(job, now):
            await self.timed_out(job, last_status=state.status)
        elif state.status != job.status:
            await self.moved(job, state.status, now)
        else:
            await self.reschedule([job], now)

    async def _finish(self, job: Job, state: VideoState, now: float) -> None:
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
        self._slot_freed()  # a render slot at HeyGen is free: the local queue may move
        if recorded and state.status == COMPLETED and job.submitted_at:
            self.learn(job.script, job.speed, now - job.submitted_at)

    async def moved(self, job: Job, status: str, now: float) -> None:
        """HeyGen moved the video along (e.g. pending → processing): record it, check later."""
        if self.overdue(job, now):
            await self.timed_out(job, last_status=status)
            return
        due = self.next_check_at(job, now)
        await self._store.record_status(
            job.id, status, next_check_at=due, check_interval=due - now, checks=job.checks + 1
        )
        self._changed.set()

    async def reschedule(self, jobs: list[Job], now: float) -> None:
        """Plan the next check of videos still rendering, in one write."""
        plans = []
        for job in jobs:
            if self.overdue(job, now):
                await self.timed_out(job)
                continue
            due = self.next_check_at(job, now)
            plans.append((job.id, due, due - now, job.checks + 1))
        await self._store.reschedule(plans)

    async def hold(self, jobs: list[Job], seconds: float) -> None:
        """Look at these jobs again in `seconds`, counting no check (a fetch under way)."""
        until = time.time() + seconds
        await self._store.reschedule((job.id, until, seconds, job.checks) for job in jobs)

    # Endings.
    async def timed_out(self, job: Job, last_status: str | None = None) -> None:
        await self._store.record_status(
            job.id, TIMED_OUT, failure_message=last_status or job.status
        )
        self._changed.set()

    async def fail(self, job: Job, code: str, message: str, *, tell_user: bool) -> None:
        await self._store.record_status(
            job.id, FAILED, failure_code=code, failure_message=message, notify_user=tell_user
        )
        self._changed.set()
