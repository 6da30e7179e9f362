"""When the bot may next call a Slack method in a conversation: Slack's limits, kept ahead.

Two rules, both in memory (a restarted bot starts with full allowances and learns Slack's
Retry-After again from its first 429):

- Pacing. `chat.postMessage` allows about one message a second per conversation, short
  bursts allowed; `chat.update` is a Tier 3 method (about 50 a minute per workspace). Each
  call reserves the next free slot, so a hundred results for one channel are spread a
  second apart instead of hammering into 429s.
- Retry-After. After a 429 nothing more goes to that method in that conversation until
  Slack's Retry-After has passed.

Both answer "not before T" rather than sleeping: the notifier reschedules the message and
its lane moves on, so a wait burns no CPU and holds no other job's messages.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

WORKSPACE = "*"  # the key for limits Slack counts per workspace, not per conversation


@dataclass(frozen=True)
class Pace:
    """At most `burst` calls at once, then one every `interval` seconds."""

    interval: float
    burst: int
    per_conversation: bool = True


PACES = {
    "chat.postMessage": Pace(interval=1.0, burst=10),
    "chat.update": Pace(interval=60 / 50, burst=20, per_conversation=False),
}


class Pacer:
    """Slots per (method, conversation): GCRA, i.e. a token bucket kept as one time."""

    def __init__(self, paces: dict[str, Pace] | None = None) -> None:
        self._paces = PACES if paces is None else paces
        self._next_free: dict[tuple[str, str], float] = {}  # theoretical arrival time
        self._blocked: dict[tuple[str, str], float] = {}  # Retry-After, until
        self._reserved: dict[int, float] = {}  # outbox id -> the slot it holds

    def admit(self, method: str, conversation: str, ticket: int) -> float | None:
        """None if the call may go now; else the time it may go (its slot is kept)."""
        now = time.time()
        blocked = self._blocked.get((method, conversation), 0.0)
        if blocked > now:
            return blocked
        reserved = self._reserved.pop(ticket, None)
        if reserved is not None:
            if reserved <= now + 0.01:
                return None
            self._reserved[ticket] = reserved  # back early: keep the same slot
            return reserved
        pace = self._paces.get(method)
        if pace is None:
            return None
        key = (method, conversation if pace.per_conversation else WORKSPACE)
        next_free = max(self._next_free.get(key, now), now)
        at = max(now, next_free - pace.burst * pace.interval)
        self._next_free[key] = next_free + pace.interval
        if at <= now:
            return None
        self._reserved[ticket] = at
        return at

    def limited(self, method: str, conversation: str, retry_after: float) -> float:
        """Slack answered 429: hold `method` in `conversation` for Retry-After; returns until."""
        until = time.time() + max(retry_after, 0.0)
        key = (method, conversation)
        self._blocked[key] = max(self._blocked.get(key, 0.0), until)
        return until
