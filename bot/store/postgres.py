"""PostgreSQL: the same state and the same methods as the SQLite store, natively async.

Chosen with `DATABASE_URL=postgresql://…`; any number of bot processes may share one
database. Every method here answers exactly as `SqliteStore`'s method of the same name
(the store tests run each case on both); the differences are only of dialect: `%s`
placeholders, `ON CONFLICT DO NOTHING`, row locks (`FOR UPDATE`) where SQLite's single
writer serialises by itself, and an advisory lock around migrations.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import socket
import time
import uuid
from collections.abc import Iterable
from functools import partial
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from ..jobs import (
    COMPLETED,
    FINISHED,
    NEW,
    PARENT,
    PARENT_UPDATE,
    PENDING,
    PROCESSING,
    QUEUED,
    RESULT,
    SUBMITTING,
    UNFINISHED,
    Job,
    OutboxItem,
    messages_for,
    moves_queue,
)
from . import migrations
from . import workspace_sql as ws
from .quota import DAY, UserLimits
from .rows import JOB_FIELDS, check_columns, job_from_row, job_row, outbox_from_row
from .sqlite import NO_LEASE, WAITING, StoreEvents

FREE_LEASE = "(lease_owner is null or lease_owner = %s or lease_until < %s)"
MIGRATION_LOCK = 0x6865_7967  # pg_advisory_xact_lock key: one migrator at a time
USER_LOCK = "user-limits"  # hashed with a user id: one add_job per person at a time
Conn = psycopg.AsyncConnection


class PostgresStore:
    """All persistent state of the bot in one PostgreSQL database; a pool of connections."""

    shared = True  # replicas share it: the HeyGen cap takes its slots from the database

    def __init__(self, pool: AsyncConnectionPool, *, lease_seconds: float = 30.0) -> None:
        self._pool = pool
        self.events = StoreEvents()
        self.lease_seconds = lease_seconds
        # This process, as lease owner: a restarted replica is a new owner, and waits for
        # the leases of the one it replaces to expire.
        self.owner = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"

    @classmethod
    async def open(
        cls, url: str, *, lease_seconds: float = 30.0, min_size: int = 1, max_size: int = 10
    ) -> PostgresStore:
        """Connect, and bring the schema to the latest step (replicas may do so together)."""
        pool = AsyncConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            # No server-side prepared statements: a generic plan made while a table was
            # small (a nested loop over the outbox) stayed in use at thousands of rows,
            # a second a query; and PgBouncer in transaction mode cannot keep them.
            kwargs={"row_factory": dict_row, "autocommit": True, "prepare_threshold": None},
            open=False,
        )
        await pool.open(wait=True, timeout=30)
        store = cls(pool, lease_seconds=lease_seconds)
        try:
            await store._migrate()
        except BaseException:
            await pool.close()
            raise
        return store

    async def aclose(self) -> None:
        await self._pool.close()

    async def _migrate(self) -> None:
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute("select pg_advisory_xact_lock(%s)", [MIGRATION_LOCK])
            await conn.execute(migrations.VERSION_TABLE)
            row = await (
                await conn.execute("select max(version) as v from schema_version")
            ).fetchone()
            version = (row or {}).get("v") or 0
            for number, step in migrations.pending(version):
                columns = await self._all_columns(conn)
                for statement in step(migrations.POSTGRES, partial(_known, columns)):
                    await conn.execute(statement)
                await conn.execute("delete from schema_version")
                await conn.execute("insert into schema_version (version) values (%s)", [number])

    @staticmethod
    async def _all_columns(conn: Conn) -> dict[str, set[str]]:
        cursor = await conn.execute(
            "select table_name, column_name from information_schema.columns"
            " where table_schema = current_schema()"
        )
        columns: dict[str, set[str]] = {}
        for row in await cursor.fetchall():
            columns.setdefault(row["table_name"], set()).add(row["column_name"])
        return columns

    # Plumbing.
    async def _all(self, sql: str, params: Iterable[Any] = (), conn: Conn | None = None) -> list:
        if conn is not None:
            return await (await conn.execute(sql, list(params))).fetchall()
        async with self._pool.connection() as c:
            return await (await c.execute(sql, list(params))).fetchall()

    async def _one(self, sql: str, params: Iterable[Any] = (), conn: Conn | None = None) -> Any:
        rows = await self._all(sql, params, conn)
        return rows[0] if rows else None

    async def _run(self, sql: str, params: Iterable[Any] = (), conn: Conn | None = None) -> int:
        """Execute one statement; how many rows it changed."""
        if conn is not None:
            return (await conn.execute(sql, list(params))).rowcount
        async with self._pool.connection() as c:
            return (await c.execute(sql, list(params))).rowcount

    async def _jobs(self, where: str, params: list[Any], conn: Conn | None = None) -> list[Job]:
        return [
            job_from_row(r)
            for r in await self._all(f"select * from jobs where {where}", params, conn)
        ]

    async def _set(self, conn: Conn, table: str, key: Any, changes: dict[str, Any]) -> None:
        check_columns(table, changes)
        assignments = ", ".join(f'"{name}" = %s' for name in changes)
        await conn.execute(
            f"update {table} set {assignments} where id = %s", [*changes.values(), key]
        )

    # Jobs.
    async def add_job(self, job: Job, limits: UserLimits | None = None) -> bool:
        """Record a new job and the parent message announcing it, atomically.

        False when a job with this id exists already (a replayed submission). With
        `limits`, raises OverLimit instead of recording a job its person has no room for;
        a per-person advisory lock makes the count and the insert one step across replicas.
        """
        job.next_check_at = job.next_check_at or job.created_at
        row = job_row(job)
        names = ", ".join(f'"{n}"' for n in row)
        marks = ", ".join(["%s"] * len(row))
        async with self._pool.connection() as conn, conn.transaction():
            if limits:
                await self._check_limits(conn, job, limits)
            added = await self._run(
                f"insert into jobs ({names}) values ({marks}) on conflict (id) do nothing",
                row.values(),
                conn,
            )
            if added:
                await self._enqueue(conn, job.id, PARENT, key=f"{job.id}:{PARENT}")
            return bool(added)

    async def _check_limits(self, conn: Conn, job: Job, limits: UserLimits) -> None:
        """Raise OverLimit if `job` would break its person's limits (a replay never does).

        The lock is held to the end of the caller's transaction: another replica adding
        for the same person waits here until this job is committed, then counts it.
        """
        await conn.execute(
            "select pg_advisory_xact_lock(hashtext(%s))", [f"{USER_LOCK}:{job.user_id}"]
        )
        if await self._one("select 1 from jobs where id = %s", [job.id], conn):
            return  # the insert below does nothing and says so
        asked = await self.requested_since(job.user_id, job.created_at - DAY, conn)
        limits.check(await self.running_count(job.user_id, conn), asked, job.created_at)

    async def unsubmitted(self, limit: int = 200) -> list[Job]:
        return await self._jobs(
            "status in (%s, %s, %s) order by created_at, id limit %s",
            [NEW, QUEUED, SUBMITTING, limit],
        )

    async def count_unfinished(self) -> int:
        row = await self._one(
            "select count(*) as n from jobs where status = any(%s)", [list(UNFINISHED)]
        )
        return int(row["n"])

    async def queue_position(self, job: Job) -> int:
        """1 for the next job to get a render slot of the job's HeyGen account."""
        row = await self._one(
            "select count(*) as n from jobs where status in (%s, %s, %s) and created_at < %s"
            " and coalesce(account, '') = %s",
            [NEW, QUEUED, SUBMITTING, job.created_at, job.account or ""],
        )
        return int(row["n"]) + 1

    async def job(self, job_id: str, conn: Conn | None = None) -> Job | None:
        rows = await self._jobs("id = %s", [job_id], conn)
        return rows[0] if rows else None

    async def job_by_video(self, video_id: str) -> Job | None:
        rows = await self._jobs("video_id = %s limit 1", [video_id])
        return rows[0] if rows else None

    async def due_jobs(self, statuses: Iterable[str], now: float, limit: int = 500) -> list[Job]:
        return await self._jobs(
            "status = any(%s) and next_check_at <= %s order by next_check_at, created_at limit %s",
            [list(statuses), now, limit],
        )

    async def upcoming_jobs(self, statuses: Iterable[str], now: float, limit: int) -> list[Job]:
        return await self._jobs(
            f"status = any(%s) and next_check_at > %s and {FREE_LEASE}"
            " order by next_check_at limit %s",
            [list(statuses), now, self.owner, now, limit],
        )

    async def reschedule(self, plans: Iterable[tuple[str, float, float, int]]) -> None:
        now = time.time()
        rows = [(due, interval, checks, now, job_id) for job_id, due, interval, checks in plans]
        if not rows:
            return
        async with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cursor:
            await cursor.executemany(
                "update jobs set next_check_at = %s, check_interval = %s, checks = %s,"
                " updated_at = %s, lease_owner = null, lease_until = null where id = %s",
                rows,
            )

    async def recent_renders(self, limit: int) -> list[tuple[str, float, float]]:
        rows = await self._all(
            "select script, speed, finished_at - submitted_at as took from jobs where status = %s"
            " and submitted_at is not null order by finished_at desc limit %s",
            [COMPLETED, limit],
        )
        return [(r["script"], r["speed"] or 1.0, r["took"]) for r in rows]

    async def next_check_at(self, statuses: Iterable[str] = UNFINISHED) -> float | None:
        row = await self._one(
            f"select min(case when {FREE_LEASE} then next_check_at"
            " else greatest(next_check_at, lease_until) end) as at"
            " from jobs where status = any(%s)",
            [self.owner, time.time(), list(statuses)],
        )
        return row["at"] if row else None

    async def unfinished_jobs(self, limit: int = 5000) -> list[Job]:
        return await self._jobs(
            "status = any(%s) order by created_at, id limit %s", [list(UNFINISHED), limit]
        )

    async def add_held_time(self, since: float, until: float) -> None:
        await self._run(
            "update jobs set held_seconds ="
            " coalesce(held_seconds, 0) + greatest(0, %s - greatest(created_at, %s))"
            " where status = any(%s) and account is null",
            [until, since, list(UNFINISHED)],
        )

    async def update_job(self, job_id: str, **changes: Any) -> bool:
        """Change fields that need no Slack message; a finished job keeps its status."""
        changes["updated_at"] = time.time()
        if "status" in changes:
            changes.update(NO_LEASE)  # this step of the work is done
        check_columns("jobs", changes)
        assignments = ", ".join(f'"{name}" = %s' for name in changes)
        if "status" not in changes:
            await self._run(
                f"update jobs set {assignments} where id = %s", [*changes.values(), job_id]
            )
            return True
        changed = await self._run(
            f"update jobs set {assignments} where id = %s and not (status = any(%s))",
            [*changes.values(), job_id, list(FINISHED)],
        )
        return changed == 1

    async def start_submitting(self, job_id: str) -> bool:
        """Take the job's lease and mark it `submitting`: True for exactly one replica."""
        now = time.time()
        lease = [self.owner, now + self.lease_seconds]
        changed = await self._run(
            "update jobs set status = %s, updated_at = %s, lease_owner = %s, lease_until = %s"
            f" where id = %s and video_id is null and status = any(%s) and {FREE_LEASE}",
            [SUBMITTING, now, *lease, job_id, list(WAITING), self.owner, now],
        )
        return changed == 1

    async def claim_due(self, statuses: Iterable[str], now: float, limit: int = 500) -> list[Job]:
        """Take the lease of due jobs no other replica works on; rows another replica is
        locking right now are skipped, not waited for."""
        until = now + self.lease_seconds
        rows = await self._all(
            f"""update jobs set lease_owner = %s, lease_until = %s where id in (
                    select id from jobs where status = any(%s) and next_check_at <= %s
                    and {FREE_LEASE} order by next_check_at, created_at limit %s
                    for update skip locked)
                returning *""",
            [self.owner, until, list(statuses), now, self.owner, now, limit],
        )
        jobs = [job_from_row(r) for r in rows]
        return sorted(jobs, key=lambda j: (j.next_check_at or 0, j.created_at))

    async def recent_jobs(self, user_id: str, limit: int = 10) -> list[Job]:
        return await self._jobs("user_id = %s order by created_at desc limit %s", [user_id, limit])

    async def requested_since(
        self, user_id: str, since: float, conn: Conn | None = None
    ) -> list[float]:
        rows = await self._all(
            "select created_at from jobs where user_id = %s and created_at > %s"
            " order by created_at",
            [user_id, since],
            conn,
        )
        return [r["created_at"] for r in rows]

    async def running_count(self, user_id: str, conn: Conn | None = None) -> int:
        row = await self._one(
            "select count(*) as n from jobs where user_id = %s and status = any(%s)",
            [user_id, list(UNFINISHED)],
            conn,
        )
        return int(row["n"])

    async def refresh_rendering_parents(self, older_than: float) -> int:
        async with self._pool.connection() as conn, conn.transaction():
            rows = await self._all(
                """select id from jobs j
                   where status in (%s, %s) and parent_ts is not null
                   and not exists (
                       select 1 from outbox o where o.job_id = j.id
                       and o.kind in (%s, %s) and (o.created_at > %s or o.sent_at is null))""",
                [PENDING, PROCESSING, PARENT, PARENT_UPDATE, older_than],
                conn,
            )
            for row in rows:
                await self._enqueue(conn, row["id"], PARENT_UPDATE, key=None)
        return len(rows)

    # Remembered choices.
    async def remember_choices(
        self, user_id: str, avatar_id: str, voice_id: str, shape: str
    ) -> None:
        await self._run(
            "insert into preferences (user_id, avatar_id, voice_id, shape, updated_at)"
            " values (%s, %s, %s, %s, %s) on conflict (user_id) do update set"
            " avatar_id = excluded.avatar_id, voice_id = excluded.voice_id,"
            " shape = excluded.shape, updated_at = excluded.updated_at",
            [user_id, avatar_id, voice_id, shape, time.time()],
        )

    async def saw_home(self, user_id: str) -> None:
        await self._run(
            "insert into home_viewers (user_id, opened_at) values (%s, %s)"
            " on conflict (user_id) do update set opened_at = excluded.opened_at",
            [user_id, time.time()],
        )

    async def last_choices(self, user_id: str) -> dict[str, str] | None:
        row = await self._one("select * from preferences where user_id = %s", [user_id])
        return dict(row) if row else None

    async def record_status(
        self,
        job_id: str,
        status: str,
        *,
        notify_user: bool = False,
        only_from: tuple[str, ...] | None = None,
        **changes: Any,
    ) -> bool:
        """Move a job to `status` and queue the Slack messages that move calls for.

        The job's row is locked for the transaction, so two replicas recording a change
        of one job at once are serialised and the second sees the first's result.
        """
        async with self._pool.connection() as conn, conn.transaction():
            rows = await self._jobs("id = %s for update", [job_id], conn)
            job = rows[0] if rows else None
            if job is None or job.finished or (only_from and job.status not in only_from):
                return False
            now = time.time()
            changes.update(status=status, updated_at=now, **NO_LEASE)
            if status in FINISHED:
                changes.update(finished_at=now, next_check_at=None)
            await self._set(conn, "jobs", job_id, changes)
            sees_home = status in FINISHED and await self._sees_home(conn, job.user_id)
            for message in messages_for(job, status, notify_user=notify_user, sees_home=sees_home):
                await self._enqueue(conn, job_id, message.kind, key=message.key)
            if moves_queue(job, status):
                await self._requeue_positions(conn, job_id)
        self.events.status_recorded(job, status, now)
        return True

    async def _sees_home(self, conn: Conn, user_id: str) -> bool:
        return (
            await self._one("select 1 from home_viewers where user_id = %s", [user_id], conn)
            is not None
        )

    async def _requeue_positions(self, conn: Conn, leaving: str) -> None:
        rows = await self._all(
            "select id from jobs where status = %s and id != %s", [QUEUED, leaving], conn
        )
        for row in rows:
            await self._enqueue(conn, row["id"], PARENT_UPDATE, key=None)

    # Outbox.
    async def queue_messages(self, messages: Iterable[tuple[str, str, str | None]]) -> None:
        async with self._pool.connection() as conn, conn.transaction():
            for job_id, kind, key in messages:
                await self._enqueue(conn, job_id, kind, key=key)

    async def _enqueue(self, conn: Conn, job_id: str, kind: str, *, key: str | None) -> None:
        """Queue one message; an edit of the announcement joins one already waiting."""
        if kind == PARENT_UPDATE and await self._update_waiting(conn, job_id):
            return
        await conn.execute(
            "insert into outbox (job_id, kind, dedupe_key, body, created_at, attempts,"
            " next_attempt_at) values (%s, %s, %s, %s, %s, 0, 0.0)"
            " on conflict (dedupe_key) do nothing",
            [job_id, kind, key or uuid.uuid4().hex, json.dumps({}), time.time()],
        )

    async def _update_waiting(self, conn: Conn, job_id: str) -> bool:
        row = await self._one(
            "select 1 from outbox where job_id = %s and kind = %s and sent_at is null"
            " and claimed_at is null and lease_owner is null limit 1",
            [job_id, PARENT_UPDATE],
            conn,
        )
        return row is not None

    async def pending_outbox(self, now: float, limit: int = 100) -> list[OutboxItem]:
        rows = await self._all(
            "select * from outbox where sent_at is null and next_attempt_at <= %s"
            " order by id limit %s",
            [now, limit],
        )
        return [outbox_from_row(r) for r in rows]

    async def due_heads(
        self, now: float, busy: Iterable[str] = (), limit: int = 100
    ) -> list[OutboxItem]:
        rows = await self._all(
            f"""select * from outbox o where o.sent_at is null and o.next_attempt_at <= %s
                and not (o.job_id = any(%s)) and {FREE_LEASE.replace("lease", "o.lease")}
                and not exists (
                    select 1 from outbox e where e.job_id = o.job_id and e.id < o.id
                    and e.sent_at is null
                    and (e.kind = %s or (o.kind != %s and e.kind != %s)))
                order by o.id limit %s""",
            [now, list(busy), self.owner, now, PARENT, PARENT_UPDATE, PARENT_UPDATE, limit * 4],
        )
        heads: dict[str, OutboxItem] = {}
        for item in map(outbox_from_row, rows):
            heads.setdefault(item.job_id, item)
        return list(heads.values())[:limit]

    async def next_head_at(self, after: float, busy: Iterable[str] = ()) -> float | None:
        row = await self._one(
            """select min(o.next_attempt_at) as at from outbox o where o.sent_at is null
                and o.next_attempt_at > %s and not (o.job_id = any(%s))
                and not exists (
                    select 1 from outbox e where e.job_id = o.job_id and e.id < o.id
                    and e.sent_at is null
                    and (e.kind = %s or (o.kind != %s and e.kind != %s)))""",
            [after, list(busy), PARENT, PARENT_UPDATE, PARENT_UPDATE],
        )
        return row["at"] if row else None

    async def claim(self, item_id: int) -> None:
        await self._run("update outbox set claimed_at = %s where id = %s", [time.time(), item_id])

    async def take(self, item_id: int) -> bool:
        """Take an unsent message's lease before sending it: True for exactly one replica."""
        now = time.time()
        changed = await self._run(
            "update outbox set lease_owner = %s, lease_until = %s where id = %s"
            f" and sent_at is null and {FREE_LEASE}",
            [self.owner, now + self.lease_seconds, item_id, self.owner, now],
        )
        return changed == 1

    async def renew(self, table: str, ids: list[Any]) -> None:
        """Keep the leases of work still under way (a long upload)."""
        if table not in ("jobs", "outbox") or not ids:
            return
        await self._run(
            f"update {table} set lease_until = %s where lease_owner = %s and id = any(%s)",
            [time.time() + self.lease_seconds, self.owner, list(ids)],
        )

    async def hold_singleton(self, name: str, seconds: float) -> bool:
        """Be (or stay) the one replica doing `name` for `seconds`; False: another is."""
        now = time.time()
        changed = await self._run(
            "insert into singletons (name, owner, until) values (%s, %s, %s)"
            " on conflict (name) do update set owner = excluded.owner, until = excluded.until"
            " where singletons.owner = excluded.owner or singletons.until < %s",
            [name, self.owner, now + seconds, now],
        )
        return changed == 1

    async def heygen_slot(self, account: str, gap: float) -> float:
        """The next free moment for a request under `account`'s cap, taken: one request
        per `gap` seconds across every replica (the row lock orders them)."""
        now = time.time()
        row = await self._one(
            "insert into rate_slots (account, next_at) values (%s, %s)"
            " on conflict (account) do update"
            " set next_at = greatest(rate_slots.next_at, %s) + %s returning next_at",
            [account, now + gap, now, gap],
        )
        return row["next_at"] - gap

    async def mark_sent(
        self,
        item: OutboxItem,
        slack_ts: str | None,
        *,
        outcome: str | None = None,
        **job_changes: Any,
    ) -> None:
        async with self._pool.connection() as conn, conn.transaction():
            sent = {"sent_at": time.time(), "slack_ts": slack_ts, **NO_LEASE}
            await self._set(conn, "outbox", item.id, sent)
            if job_changes:
                await self._set(conn, "jobs", item.job_id, dict(job_changes))
            job = await self.job(item.job_id, conn) if item.kind == RESULT else None
        self.events.message_sent(item, outcome, job_changes, job)

    async def retry_later(
        self, item: OutboxItem, at: float, error: str, *, failed: bool = True
    ) -> None:
        claimed = "claimed_at" if failed else "null"
        await self._run(
            f"update outbox set next_attempt_at = %s, last_error = %s, attempts = attempts + %s,"
            f" claimed_at = {claimed}, lease_owner = null, lease_until = null where id = %s",
            [at, error[:500], int(failed), item.id],
        )

    async def give_up(self, item: OutboxItem, error: str) -> None:
        await self._run(
            "update outbox set sent_at = %s, slack_ts = null, last_error = %s,"
            " lease_owner = null, lease_until = null where id = %s",
            [time.time(), error[:500], item.id],
        )
        self.events.message_dropped(item, error)

    async def count_unsent(self) -> int:
        row = await self._one("select count(*) as n from outbox where sent_at is null")
        return int(row["n"])

    # Distribution mode: installations, HeyGen keys, a workspace leaving.
    async def save_installation(self, row: dict[str, Any]) -> None:
        await self._run(_pg(ws.SAVE_INSTALLATION), ws.installation_row(row))

    async def installation(self, install_key: str) -> dict[str, Any] | None:
        row = await self._one(_pg(ws.INSTALLATION), [install_key])
        return dict(row) if row else None

    async def delete_installation(self, install_key: str) -> None:
        """The installation and its HeyGen key, together."""
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute(_pg(ws.DELETE_INSTALLATION), [install_key])
            await conn.execute(_pg(ws.DELETE_KEY), [install_key])

    async def save_heygen_key(self, row: dict[str, Any]) -> None:
        await self._run(_pg(ws.SAVE_KEY), ws.key_row(row))

    async def heygen_key(self, install_key: str) -> dict[str, Any] | None:
        row = await self._one(_pg(ws.KEY), [install_key])
        return dict(row) if row else None

    async def heygen_keys_of_account(self, account: str) -> list[dict[str, Any]]:
        return [dict(r) for r in await self._all(_pg(ws.KEYS_OF_ACCOUNT), [account])]

    async def delete_heygen_key(self, install_key: str) -> None:
        await self._run(_pg(ws.DELETE_KEY), [install_key])

    async def end_workspace(self, install_key: str) -> list[Job]:
        """The app left a workspace (or org): its unfinished jobs end as cancelled without a
        word, its unsent messages are dropped. Returns the jobs ended (to stop at HeyGen)."""
        now, both = time.time(), [install_key, install_key]
        async with self._pool.connection() as conn, conn.transaction():
            rows = await self._all(_pg(ws.LEAVING_JOBS), both, conn)
            await conn.execute(_pg(ws.END_JOBS), [now, now, *both])
            await conn.execute(_pg(ws.DROP_MESSAGES), [now, *both])
        return [job_from_row(r) for r in rows]

    # Catalog cache.
    async def save_catalog(
        self, kind: str, api_version: str, records: list[dict[str, Any]]
    ) -> None:
        if kind not in ("avatars", "voices"):
            raise ValueError(f"no such catalog: {kind}")
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute(f"delete from {kind} where api_version = %s", [api_version])
            async with conn.cursor() as cursor:
                await cursor.executemany(
                    f"insert into {kind} (id, api_version, position, record)"
                    " values (%s, %s, %s, %s)"
                    " on conflict do nothing",
                    [(r["id"], api_version, i, json.dumps(r)) for i, r in enumerate(records)],
                )
            await conn.execute(
                "insert into catalog_meta (name, refreshed_at) values (%s, %s)"
                " on conflict (name) do update set refreshed_at = excluded.refreshed_at",
                [f"{kind}:{api_version}", time.time()],
            )

    async def load_catalog(self, kind: str, api_version: str) -> tuple[list[dict[str, Any]], float]:
        if kind not in ("avatars", "voices"):
            raise ValueError(f"no such catalog: {kind}")
        rows = await self._all(
            f"select record from {kind} where api_version = %s order by position", [api_version]
        )
        meta = await self._one(
            "select refreshed_at from catalog_meta where name = %s", [f"{kind}:{api_version}"]
        )
        return [json.loads(r["record"]) for r in rows], (meta["refreshed_at"] if meta else 0.0)

    async def first_delivery(self, event_id: str) -> bool:
        now = time.time()
        added = await self._run(
            "insert into webhook_events (event_id, received_at) values (%s, %s)"
            " on conflict (event_id) do nothing",
            [event_id, now],
        )
        if added == 1 and random.random() < 0.01:  # keep the table small
            await self._run("delete from webhook_events where received_at < %s", [now - 172800])
        return added == 1

    async def ping(self) -> bool:
        row = await self._one("select 1 as one")
        return row == {"one": 1}

    # Metrics.
    async def jobs_by_status(self) -> dict[str, int]:
        rows = await self._all("select status, count(*) as n from jobs group by status")
        return {str(r["status"]): int(r["n"]) for r in rows}

    async def outbox_backlog(self) -> tuple[int, float | None]:
        row = await self._one(
            "select count(*) as n, min(created_at) as oldest from outbox where sent_at is null"
        )
        return int(row["n"]), row["oldest"]


def _pg(statement: str) -> str:
    """A shared statement with PostgreSQL's parameter marks."""
    return statement.replace("?", "%s")


def _known(columns: dict[str, set[str]], table: str) -> set[str]:
    return columns.get(table, set())


__all__ = ["JOB_FIELDS", "PostgresStore"]
