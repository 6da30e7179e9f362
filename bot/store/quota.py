"""Per-person limits, checked by the store in the same transaction that records the job.

Counted apart from the insert, two replicas (or two requests) acking one person's
submissions at once could both see room for one more video; inside `add_job` the count
and the insert are one step (SQLite: the single writer; PostgreSQL: a per-person
advisory lock), so a limit holds across every replica.
"""

from __future__ import annotations

from dataclasses import dataclass

DAY = 24 * 3600


@dataclass(frozen=True)
class UserLimits:
    """How many videos one person may have: `running` at once, `per_day` in 24 hours.

    0 means no limit.
    """

    running: int = 0
    per_day: int = 0

    def check(self, running: int, asked: list[float], now: float) -> None:
        """Raise OverLimit when one more video would break a limit.

        `running`: the person's unfinished videos; `asked`: when they requested each video
        in the last DAY, oldest first.
        """
        if self.running and running >= self.running:
            raise OverLimit(running=self.running)
        if self.per_day and len(asked) >= self.per_day:
            free_at = asked[len(asked) - self.per_day] + DAY
            raise OverLimit(per_day=self.per_day, retry_in=free_at - now)


class OverLimit(Exception):
    """The job was not recorded: its person is at a limit (`running` or `per_day` is set)."""

    def __init__(self, *, running: int = 0, per_day: int = 0, retry_in: float = 0.0) -> None:
        super().__init__(f"over limit: running={running} per_day={per_day}")
        self.running, self.per_day, self.retry_in = running, per_day, retry_in
