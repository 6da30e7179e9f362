"""The bot's persistent state, behind one async interface that never blocks the event loop.

A SQLite call can wait: a write waits up to `BUSY_TIMEOUT_MS` for another process's lock,
and a slow disk stalls any of them. Run on the event loop, that wait would hold every
Slack ack and every delivery. So each call runs in a thread: writes in one thread with one
connection (the bot's own writers then never contend for SQLite's lock, and a write
waiting for another process queues only other writes), reads in a small pool, each
thread with its own connection, which WAL lets run beside a write.

`await store.job(id)` is `SqliteStore.job(id)` run off the loop; the sets below say which
methods read and which write. With `DATABASE_URL` set, `open_store` returns a
`PostgresStore` instead: natively async, the same methods, the same answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TYPE_CHECKING, Any

import psycopg
import psycopg_pool

from .sqlite import BUSY_TIMEOUT_MS, SqliteStore, StoreEvents

if TYPE_CHECKING:
    from .postgres import PostgresStore

__all__ = [
    "BUSY_TIMEOUT_MS",
    "READS",
    "STORE_ERRORS",
    "WRITES",
    "SqliteStore",
    "Store",
    "StoreBusy",
    "StoreEvents",
    "open_store",
    "renewing",
]

log = logging.getLogger(__name__)
READS = frozenset(
    {
        "count_unfinished",
        "count_unsent",
        "due_heads",
        "due_jobs",
        "heygen_key",
        "heygen_keys_of_account",
        "installation",
        "job",
        "job_by_video",
        "jobs_by_status",
        "last_choices",
        "load_catalog",
        "next_check_at",
        "outbox_backlog",
        "next_head_at",
        "pending_outbox",
        "ping",
        "queue_position",
        "recent_jobs",
        "recent_renders",
        "requested_since",
        "running_count",
        "unfinished_jobs",
        "unsubmitted",
        "upcoming_jobs",
    }
)
WRITES = frozenset(
    {
        "add_held_time",
        "add_job",
        "claim",
        "claim_due",
        "delete_heygen_key",
        "delete_installation",
        "end_workspace",
        "save_heygen_key",
        "save_installation",
        "heygen_slot",
        "hold_singleton",
        "renew",
        "take",
        "first_delivery",
        "give_up",
        "mark_sent",
        "queue_messages",
        "record_status",
        "refresh_rendering_parents",
        "remember_choices",
        "reschedule",
        "retry_later",
        "save_catalog",
        "saw_home",
        "start_submitting",
        "update_job",
    }
)


class StoreBusy(Exception):
    """The database stayed locked by another process past the busy timeout; nothing changed."""


class Store:
    """Async access to one SQLite database; every `SqliteStore` method, awaited."""

    shared = False  # one process per file: the HeyGen cap needs no slots from the database

    def __init__(self, path: str, *, readers: int = 4, lease_seconds: float = 30.0) -> None:
        self._path = path
        self._writer_store = SqliteStore(path, lease_seconds=lease_seconds)  # upgrades the schema
        self.owner = self._writer_store.owner
        self.lease_seconds = lease_seconds
        self._opened = [self._writer_store]
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="store-write")
        in_memory = path == ":memory:"  # one connection is the whole database
        self._readers = self._writer if in_memory else ThreadPoolExecutor(readers, "store-read")
        self._local = threading.local()
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        if name in WRITES:
            executor, pick = self._writer, self._writing
        elif name in READS:
            executor, pick = self._readers, self._reading
        else:
            raise AttributeError(name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(executor, partial(_run, pick, name, args, kwargs))

        call.__name__ = name
        return call

    @property
    def events(self) -> StoreEvents:
        """Who hears of committed changes (the metrics); writes all happen in one thread."""
        return self._writer_store.events

    @events.setter
    def events(self, observer: StoreEvents) -> None:
        self._writer_store.events = observer

    def _writing(self) -> SqliteStore:
        return self._writer_store

    def _reading(self) -> SqliteStore:
        """This reader thread's own connection, opened on its first read."""
        if self._readers is self._writer:
            return self._writer_store
        store = getattr(self._local, "store", None)
        if store is None:
            store = self._local.store = SqliteStore(self._path, create=False)
            with self._lock:
                self._opened.append(store)
        return store

    async def aclose(self) -> None:
        """`close`, off the event loop (the calls under way may take a moment)."""
        await asyncio.to_thread(self.close)

    def close(self) -> None:
        """Let the calls under way finish, then close every connection."""
        self._writer.shutdown(wait=True)
        self._readers.shutdown(wait=True)
        for store in self._opened:
            store.close()


@contextlib.asynccontextmanager
async def renewing(store: Any, table: str, ids: list[Any]) -> AsyncIterator[None]:
    """Keep this process's leases on `ids` alive while the block runs (a create call or an
    upload can outlast LEASE_SECONDS); a renewal that fails is tried again next time."""

    async def renew() -> None:
        while True:
            await asyncio.sleep(store.lease_seconds / 3)
            try:
                await store.renew(table, ids)
            except Exception as error:
                log.warning("could not renew the lease of %s %s: %s", table, ids, error)

    task = asyncio.create_task(renew())
    try:
        yield
    finally:
        task.cancel()


# What a store raises when the database does not answer (stopping, locked, gone).
STORE_ERRORS: tuple[type[Exception], ...] = (
    sqlite3.Error,
    psycopg.Error,
    psycopg_pool.PoolTimeout,
    StoreBusy,
    RuntimeError,
)


async def open_store(
    database_path: str, database_url: str | None = None, *, lease_seconds: float = 30.0
) -> Store | PostgresStore:
    """PostgreSQL when `database_url` is set, else the SQLite file at `database_path`;
    either way created or upgraded to the latest schema before this returns.
    `lease_seconds`: how long claimed work stays this process's (see LEASE_SECONDS)."""
    if database_url:
        from .postgres import PostgresStore

        return await PostgresStore.open(database_url, lease_seconds=lease_seconds)
    # An upgrade takes a while: off the event loop.
    return await asyncio.to_thread(Store, database_path, lease_seconds=lease_seconds)


def _run(pick: Callable[[], SqliteStore], name: str, args: tuple, kwargs: dict) -> Any:
    try:
        return getattr(pick(), name)(*args, **kwargs)
    except sqlite3.OperationalError as error:
        if "locked" in str(error) or "busy" in str(error):
            raise StoreBusy(f"{name}: {error}") from None
        raise
