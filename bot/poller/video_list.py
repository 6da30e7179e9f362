"""When one read of HeyGen's video list can check every video in flight (v3).

The list (newest first) carries each video's status and, once done, its links: with few
videos in flight it replaces a bulk status call plus a fetch per finished video. It is
used only while every video in flight fits on one page. A video the page lacks (the
account made many videos since) makes the list rest until every video in flight is newer
than that miss (it would be missing again); a failed read rests it for
POLL_MAX_INTERVAL_SECONDS. This module keeps only that bookkeeping; the checking lane
decides what to do with the answer.
"""

from __future__ import annotations

import logging

from ..heygen import HeyGenClient, HeyGenError, VideoState
from ..jobs import Job

log = logging.getLogger(__name__)
LIST_SIZE = 100  # newest videos on one page of HeyGen's video list


class RecentList:
    """Reads the account's newest videos, and knows when that is not worth a call."""

    def __init__(self, heygen: HeyGenClient, pause: float) -> None:
        self._heygen = heygen
        self._pause = pause
        self._missed_at: float | None = None  # when the list last lacked a video in flight
        self._paused_until = 0.0  # after a failed read

    def resting(self, in_flight: list[Job], now: float) -> bool:
        """True for a while after a failed read, and while a video in flight is as old as
        the list's last miss."""
        if now < self._paused_until:
            return True
        if self._missed_at is None or not in_flight:
            return False
        oldest = min(job.submitted_at or job.created_at for job in in_flight)
        return oldest <= self._missed_at

    async def read(self, now: float) -> dict[str, VideoState] | None:
        """Video id → state of the newest videos; None when there is no list or it failed.

        A rejected key is not the list's fault: that error goes to the caller.
        """
        try:
            states = await self._heygen.recent_videos(LIST_SIZE)
        except HeyGenError as error:
            if error.rejects_key:
                raise
            log.warning("listing recent videos failed, checking in bulk for now: %s", error)
            self._paused_until = now + self._pause
            return None
        return None if states is None else {state.video_id: state for state in states}

    def missed(self, now: float) -> None:
        """A video in flight was not on the page."""
        self._missed_at = now
