"""Cost control: how many videos one person may request, checked before any HeyGen call.

The store counts and records in one step (`add_job(job, limits=...)`), so the limits hold
across replicas; this module says which limits apply and words a refusal.
"""

from __future__ import annotations

from .blocks import elapsed
from .config import Settings
from .store.quota import OverLimit, UserLimits

__all__ = ["OverLimit", "UserLimits", "explain", "user_limits"]


def user_limits(settings: Settings) -> UserLimits:
    """The per-person limits this deployment sets (MAX_RUNNING_PER_USER and the daily one)."""
    return UserLimits(
        running=settings.max_running_per_user,
        per_day=settings.max_videos_per_user_per_day,
    )


def explain(refused: OverLimit) -> str:
    """Why the person may not start another video now, with when to try again.

    Plain text, so it fits an inline modal error as well as an ephemeral message.
    """
    if refused.running:
        running = refused.running
        return (
            f"You already have {running} video{'s' if running != 1 else ''} in progress, "
            "the most one person may have at once. Try again when one of them finishes."
        )
    per_day = refused.per_day
    return (
        f"You have asked for {per_day} video{'s' if per_day != 1 else ''} in the "
        f"last 24 hours, this workspace's daily limit. Try again in "
        f"{elapsed(refused.retry_in)}."
    )
