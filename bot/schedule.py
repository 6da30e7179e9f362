"""When to ask HeyGen about a video: rarely while it cannot be done, then tighter.

HeyGen renders take minutes and grow with the script, and every status call is billed
against a rate limit. So the first check waits for most of the expected render time, and
after that each wait is a fixed share (`step`) of the time already spent: a video that
finishes between two checks is noticed within `step` of its render time, however long it
took, while a long render costs only a logarithmic number of calls. With webhooks on,
polling is only the safety net: it starts well after the expected finish.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

SPOKEN_WORDS_PER_SECOND = 2.5  # a typical avatar's pace
REFERENCE_SPOKEN_SECONDS = 30.0  # the render estimate setting is for a video this long
FIRST_CHECK_SHARE = 0.8  # first look at 80 % of the expected render time
WEBHOOK_SAFETY_SHARE = 3.0  # with webhooks, first look at 3× the expected render time


def spoken_seconds(script: str, speed: float = 1.0) -> float:
    """Roughly how long the avatar speaks: what HeyGen's render time grows with."""
    return len(script.split()) / (SPOKEN_WORDS_PER_SECOND * max(speed, 0.1))


@dataclass(frozen=True)
class Schedule:
    """How often to ask HeyGen about one video (all times in seconds)."""

    shortest: float  # POLL_INTERVAL_SECONDS
    longest: float  # POLL_MAX_INTERVAL_SECONDS
    timeout: float  # JOB_TIMEOUT_SECONDS
    estimate: float = 0.0  # HEYGEN_RENDER_ESTIMATE_SECONDS: render time of a 30 s video
    by_length: bool = True  # False when renders take the same time whatever the script
    webhooks: bool = False  # HeyGen tells us when a video is done; polling is the safety net
    step: float = 0.15  # each wait is this share of the time spent so far
    correction: float = 1.0  # learnt: how actual render times compare with the estimate

    def expected_render(self, script: str, speed: float = 1.0) -> float:
        """Expected seconds from create to `completed`: half fixed, half by spoken length."""
        if not self.by_length:
            return self.estimate * self.correction
        share = 0.5 + 0.5 * spoken_seconds(script, speed) / REFERENCE_SPOKEN_SECONDS
        return self.estimate * share * self.correction

    def first_wait(self, expected: float) -> float:
        """From create to the first status check."""
        share = WEBHOOK_SAFETY_SHARE if self.webhooks else FIRST_CHECK_SHARE
        return max(self.shortest, share * expected)

    def wait_after(self, elapsed: float) -> float:
        """The wait after a check that found the video unfinished `elapsed` s after create."""
        if self.webhooks:
            return self.longest
        return min(self.longest, max(self.shortest, self.step * elapsed))

    def next_check_at(self, submitted_at: float, now: float, expected: float) -> float:
        """After a check at `now`: never before the first check is due, then by `wait_after`.

        Looking early (a bulk call with room to spare) therefore never makes later checks
        denser; it only moves the next one back when that is later than already planned.
        """
        first = submitted_at + self.first_wait(expected)
        return max(first, now + self.wait_after(now - submitted_at))


class RenderHistory:
    """Learns how this account's renders compare with the estimate.

    Render times differ by plan, resolution and HeyGen's load, so a fixed estimate is only
    a starting point. The correction is a low quantile of actual ÷ estimated over recent
    videos: low, so the first check still comes a little before most finishes.
    """

    def __init__(self, size: int = 50, minimum: int = 5, quantile: float = 0.25) -> None:
        self._ratios: deque[float] = deque(maxlen=size)
        self._minimum = minimum
        self._quantile = quantile

    def add(self, actual: float, estimated: float) -> None:
        if actual > 0 and estimated > 0:
            self._ratios.append(actual / estimated)

    def correction(self) -> float:
        """The factor to apply to the estimate (1.0 until enough videos finished)."""
        if len(self._ratios) < self._minimum:
            return 1.0
        ordered = sorted(self._ratios)
        value = ordered[int(self._quantile * (len(ordered) - 1))]
        return min(10.0, max(0.1, value))
