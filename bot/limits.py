"""Cost control: how many videos one person may request, checked before any HeyGen call."""

from __future__ import annotations

import time

from .blocks import elapsed
from .config import Settings
from .store import Store

DAY = 24 * 3600


async def over_limit(
    store: Store, settings: Settings, user_id: str, now: float | None = None
) -> str:
    """Why `user_id` may not start another video now, with when to try again; "" if allowed.

    Plain text, so it fits an inline modal error as well as an ephemeral message.
    """
    now = time.time() if now is None else now
    running = settings.max_running_per_user
    if running and await store.running_count(user_id) >= running:
        return (
            f"You already have {running} video{'s' if running != 1 else ''} in progress, "
            "the most one person may have at once. Try again when one of them finishes."
        )
    per_day = settings.max_videos_per_user_per_day
    if per_day:
        asked = await store.requested_since(user_id, now - DAY)
        if len(asked) >= per_day:
            free_at = asked[len(asked) - per_day] + DAY
            return (
                f"You have asked for {per_day} video{'s' if per_day != 1 else ''} in the "
                f"last 24 hours, this workspace's daily limit. Try again in "
                f"{elapsed(free_at - now)}."
            )
    return ""
