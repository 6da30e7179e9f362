"""Keeps the elapsed time on rendering videos' announcements moving.

Status changes already update the announcement; between them, HeyGen can render for
minutes. This loop asks the store to queue a refresh for every rendering job whose
announcement is older than `every` seconds; the notifier sends it like any other update.
With several replicas, one of them does it at a time (a singleton lease in the database).
"""

from __future__ import annotations

import asyncio
import logging
import time

from .notify import Notifier
from .store import Store

log = logging.getLogger(__name__)


async def keep_elapsed_fresh(store: Store, notifier: Notifier, every: float) -> None:
    while True:
        await asyncio.sleep(max(0.05, every / 2))
        try:
            # One replica at a time refreshes (the others would only queue the same edits).
            if not await store.hold_singleton("heartbeat", every):
                continue
            if await store.refresh_rendering_parents(older_than=time.time() - every):
                notifier.wake()
        except Exception:  # a locked database must not end the loop
            log.exception("status refresh failed")
