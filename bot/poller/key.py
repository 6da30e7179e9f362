"""While HeyGen rejects the bot's API key (401/403), hold its jobs instead of failing them.

A rejected key is not one video's problem: every call on the bot's account would fail the
same way until an admin fixes the key. So the first refusal, on any lane, marks the
`Credential` rejected (`/healthz` and the log say so, once); both lanes hold the jobs on the
bot's account (jobs on a workspace's own key, `Job.account` set, go on); each such
requester with an unfinished video is told once, in the thread; and the key is tried
again, with backoff, on a cheap call (the account's remaining credit). When it works,
the time held is added to each waiting job's `held_seconds`, so it does not count
toward JOB_TIMEOUT_SECONDS, and the lanes resume.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from ..health import Credential
from ..heygen import HeyGenClient, HeyGenError
from ..jobs import key_rejected_message
from ..store import Store

log = logging.getLogger(__name__)
WATCH_EVERY = 5.0  # how often to notice a rejection recorded elsewhere


class KeyWatch:
    """Holds HeyGen work while the key is rejected; one instance per process."""

    def __init__(
        self,
        store: Store,
        heygen: HeyGenClient,
        credential: Credential,
        *,
        first_wait: float,
        longest_wait: float,
        changed: asyncio.Event,
        resume: Callable[[], None],
    ) -> None:
        self._store = store
        self._heygen = heygen
        self._credential = credential
        self._first_wait = first_wait
        self._longest_wait = max(first_wait, longest_wait)
        self._changed = changed
        self._resume = resume
        self._alarm = asyncio.Event()
        self._since: float | None = None

    @property
    def rejected(self) -> bool:
        return self._credential.rejected

    def refused(self, error: HeyGenError) -> bool:
        """Note a call's failure; True when it was HeyGen rejecting the key (work is held)."""
        if not error.rejects_key:
            return False
        self._credential.reject(f"HTTP {error.status_code} {error.code}: {error.message}")
        self._alarm.set()
        return True

    async def run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._alarm.wait(), timeout=WATCH_EVERY)
            self._alarm.clear()
            if self.rejected:
                try:
                    await self._hold()
                except Exception:  # the watch must outlive one bad round
                    log.exception("checking the HeyGen key failed")

    async def _hold(self) -> None:
        """Tell the requesters, try the key with backoff until it works, then resume."""
        self._since = self._since or self._credential.since or time.time()
        wait = self._first_wait
        while not await self._key_works():
            await self._tell_requesters()
            await asyncio.sleep(wait)
            wait = min(2 * wait, self._longest_wait)
        await self._store.add_held_time(self._since, time.time())
        self._since = None
        self._credential.accept()
        self._resume()

    async def _key_works(self) -> bool:
        try:
            await self._heygen.remaining_credit()
        except HeyGenError as error:
            if not error.rejects_key:
                log.warning("checking the HeyGen key: HeyGen did not answer: %s", error)
            return False
        return True

    async def _tell_requesters(self) -> None:
        """Queue the one note of each unfinished job on the bot's account (jobs added during
        the hold included); a workspace's own key is not the one refused."""
        planned = []
        for job in await self._store.unfinished_jobs():
            if job.account is not None:
                continue
            message = key_rejected_message(job)
            planned.append((job.id, message.kind, message.key))
        await self._store.queue_messages(planned)
        self._changed.set()
