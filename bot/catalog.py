"""The avatar and voice catalog, served from memory and cached in SQLite.

Typeahead answers must come back well inside Slack's 3 seconds, so the request path
only ever reads the in-memory copy; HeyGen is asked in the background.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Generic, TypeVar

from .heygen import Avatar, HeyGenClient, HeyGenError, Voice
from .store import Store

log = logging.getLogger(__name__)
FIRST_LOAD_WAIT = 2.0  # seconds, within Slack's 3: only before the first fetch ever
T = TypeVar("T", Avatar, Voice)
GENDERS = {"male", "female"}


class Index(Generic[T]):
    """Items with a lower-cased haystack each, searched by every word of a query."""

    def __init__(self, items: list[T]) -> None:
        self.items = items
        self.by_id = {item.id: item for item in items}
        self._hay = [_haystack(item) for item in items]

    def search(self, query: str, limit: int = 100) -> list[T]:
        words = query.lower().split()
        genders = [w for w in words if w in GENDERS]
        words = [w for w in words if w not in GENDERS]
        found: list[T] = []
        for item, hay in zip(self.items, self._hay, strict=True):
            if genders and item.gender.lower() not in genders:
                continue
            if all(word in hay for word in words):
                found.append(item)
                if len(found) == limit:
                    break
        return found


def _haystack(item: Avatar | Voice) -> str:
    parts = [item.name, item.id, item.gender, getattr(item, "language", "")]
    return " ".join(parts).lower()


def avatar_label(avatar: Avatar) -> str:
    return " · ".join(p for p in (avatar.name, avatar.gender.lower()) if p)


def voice_label(voice: Voice) -> str:
    return " · ".join(p for p in (voice.name, voice.language, voice.gender.lower()) if p)


FOLLOW_WAIT = 5.0  # a replica that does not refresh reloads the shared copy this often
REFRESH_LEASE = 120.0  # the longest one refresh may take before another replica tries


class Catalog:
    """Avatars and voices of the configured HeyGen account, refreshed in the background.

    With several replicas on one database, one at a time fetches from HeyGen (a singleton
    lease) and the others load what it saved: HeyGen sees one refresh, not one per replica.
    """

    def __init__(
        self,
        store: Store,
        heygen: HeyGenClient,
        *,
        max_age: float = 3600,
        on_error: Callable[[HeyGenError], object] | None = None,
        scope: str | None = None,
    ) -> None:
        self._store = store
        self._heygen = heygen
        # A workspace's own HeyGen account (distribution mode) keeps its catalog apart.
        self._scope = scope
        self._on_error = on_error  # e.g. a rejected key, which holds the poller's work too
        self._max_age = max_age
        self.avatars: Index[Avatar] = Index([])
        self.voices: Index[Voice] = Index([])
        self._loaded = asyncio.Event()
        self._refreshed_at = 0.0

    @property
    def _name(self) -> str:
        """The catalog's name in the store: the API version, and the account if not ours."""
        version = self._heygen.version
        return version if self._scope is None else f"{version}@{self._scope}"

    async def load_cached(self) -> bool:
        """Fill memory from SQLite; True when a cached copy existed."""
        version = self._name
        avatars, at_a = await self._store.load_catalog("avatars", version)
        voices, at_v = await self._store.load_catalog("voices", version)
        if not avatars or not voices:
            return False
        self.avatars = Index([Avatar(**a) for a in avatars])
        self.voices = Index([Voice(**v) for v in voices])
        self._refreshed_at = min(at_a, at_v)
        self._loaded.set()
        return True

    async def refresh(self) -> None:
        """Fetch every page from HeyGen, then swap it in and cache it."""
        avatars, voices = await asyncio.gather(
            self._heygen.list_avatars(), self._heygen.list_voices()
        )
        version = self._name
        await self._store.save_catalog("avatars", version, [asdict(a) for a in avatars])
        await self._store.save_catalog("voices", version, [asdict(v) for v in voices])
        self.avatars, self.voices = Index(avatars), Index(voices)
        self._refreshed_at = time.time()
        self._loaded.set()
        log.info("catalog refreshed: %d avatars, %d voices", len(avatars), len(voices))

    async def _refresh_here(self) -> bool:
        """True when this process is the one replica refreshing the catalog now."""
        name = f"catalog:{self._name}"
        return await self._store.hold_singleton(name, REFRESH_LEASE)

    async def ready(self, timeout: float = FIRST_LOAD_WAIT) -> bool:
        """Wait (briefly) for a first copy; only matters on the very first start."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._loaded.wait(), timeout)
        return self._loaded.is_set()

    async def run(self) -> None:
        """Keep the copy fresh forever; HeyGen outages only delay the next refresh."""
        await self.load_cached()
        while True:
            age = time.time() - self._refreshed_at
            if age >= self._max_age or not self._loaded.is_set():
                if not await self._refresh_here():
                    # Another replica refreshes: take its copy from the database soon.
                    await asyncio.sleep(FOLLOW_WAIT)
                    await self.load_cached()
                    continue
                try:
                    await self.refresh()
                except HeyGenError as error:
                    log.warning("catalog refresh failed: %s", error)
                    if self._on_error:
                        self._on_error(error)
                    await asyncio.sleep(30 if self._loaded.is_set() else 5)
                    continue
            await asyncio.sleep(max(1.0, self._max_age - (time.time() - self._refreshed_at)))
