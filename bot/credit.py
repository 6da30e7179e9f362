"""HeyGen credit left, asked at most every few minutes.

App Home shows it each time someone opens the tab; HeyGen need not hear about every open.
"""

from __future__ import annotations

import asyncio
import logging
import time

from .heygen import Credit, HeyGenClient, HeyGenError

log = logging.getLogger(__name__)


class CreditCache:
    """The last answer of `remaining_credit()`, kept for `max_age` seconds."""

    def __init__(self, heygen: HeyGenClient, *, max_age: float = 300.0) -> None:
        self._heygen = heygen
        self._max_age = max_age
        self._value: Credit | None = None
        self._at = float("-inf")
        self._lock = asyncio.Lock()

    async def remaining(self) -> Credit | None:
        """Fresh enough credit, or the last known (None when HeyGen never answered)."""
        async with self._lock:
            if time.monotonic() - self._at < self._max_age:
                return self._value
            try:
                self._value = await self._heygen.remaining_credit()
            except HeyGenError as error:
                log.warning("could not read HeyGen credit: %s", error)
                return self._value
            self._at = time.monotonic()
            return self._value
