"""The sandbox's idea of "now": wall time plus an offset tests can move forward.

Every time-dependent answer (render progress, URL expiry, idempotency windows) reads this
clock, so a test can jump a video to `completed` or a link past its expiry without sleeping.
"""

from __future__ import annotations

import time


class Clock:
    """Unix time in seconds, shifted by `offset`."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> float:
        """Move time forward (never back, so nothing already final can un-finish)."""
        self.offset += max(0.0, seconds)
        return self.now()
