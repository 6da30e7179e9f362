"""The background work that follows each video at HeyGen, in independent lanes.

One video's way from submission to reply:

1. A listener records the job (`new`) and its announcement; `Poller.wake` is called.
2. `submit.Submitter` sends it to HeyGen in arrival order, a few creates at a time, each
   in its own task (a create that hangs delays no other lane); the job becomes
   `pending` with the video id, or `queued` while HeyGen has no free render slot.
3. `check.Checker` asks HeyGen about it when the schedule says (`schedule.py`), by the
   cheapest call that covers every due video (`video_list.py` for v3's video list).
4. `outcomes.Outcomes` records each change; the store queues the Slack messages it calls
   for in the same transaction, and the notifier sends them. A webhook delivery takes
   the same path through `apply_state`.

Throughout, `key.KeyWatch` holds both lanes while HeyGen rejects the API key.
Nothing here talks to Slack or builds blocks.
"""

from __future__ import annotations

import asyncio

from ..health import Credential
from ..heygen import HeyGenClient, HeyGenError, VideoState
from ..schedule import Schedule
from ..store import Store
from .check import Checker
from .key import KeyWatch
from .outcomes import JobClients, Outcomes
from .submit import Submitter

__all__ = ["Poller"]


class Poller:
    """Runs the submitting and checking lanes and the key watch; one per process."""

    def __init__(
        self,
        store: Store,
        heygen: HeyGenClient,
        schedule: Schedule,
        *,
        auth: Credential | None = None,
        concurrency: int = 16,
        on_change: asyncio.Event | None = None,
        clients: JobClients | None = None,
    ) -> None:
        self._store = store
        changed = on_change or asyncio.Event()
        self.outcomes = Outcomes(
            store,
            schedule,
            changed,
            on_slot_freed=self._slot_freed,
            on_submitted=self._submitted,
        )
        self.key = KeyWatch(
            store,
            heygen,
            auth or Credential("HeyGen"),
            first_wait=schedule.shortest,
            longest_wait=schedule.longest,
            changed=changed,
            resume=self.wake,
        )
        self.submitter = Submitter(store, heygen, self.outcomes, self.key, clients)
        self.checker = Checker(
            store, heygen, self.outcomes, self.key, concurrency=concurrency, clients=clients
        )

    @property
    def last_tick(self) -> float:
        """When the slower lane last began a pass (for /healthz)."""
        return min(self.submitter.last_pass, self.checker.last_pass)

    def wake(self) -> None:
        """Look again now (a job was added, a webhook arrived, the key works again)."""
        self.submitter.wake()
        self.checker.wake()

    def _slot_freed(self) -> None:
        self.submitter.slot_freed()

    def _submitted(self) -> None:
        self.checker.wake()

    async def run(self) -> None:
        for script, speed, took in await self._store.recent_renders(50):
            self.outcomes.learn(script, speed, took)
        await asyncio.gather(self.submitter.run(), self.checker.run(), self.key.run())

    async def apply_state(self, state: VideoState) -> bool:
        """Record a state learnt elsewhere (a webhook); False when no job has the video."""
        job = await self._store.job_by_video(state.video_id)
        if job is None or job.finished:
            return job is not None
        await self.outcomes.apply(job, state)
        return True

    def call_failed(self, error: HeyGenError) -> None:
        """A call made elsewhere (a webhook's fetch) failed: hold work if the key is
        rejected, else look again soon."""
        if not self.key.refused(error):
            self.wake()
