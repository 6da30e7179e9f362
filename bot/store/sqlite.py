"""SQLite: jobs, the Slack outbox, and the cached HeyGen catalog.

The only module that knows the schema. Every status change and the Slack messages it
calls for (`jobs.messages_for`) are written in one transaction, so a crash can never
record one without the other; `notify` then sends each outbox row once and records
Slack's `ts`. One `SqliteStore` is one connection: `bot.store.Store` gives each of its
threads its own, so the event loop never waits on SQLite.
"""

from __future__ import annotations

import json
import random
import sqlite3
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlite_utils

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
from .rows import check_columns, job_from_row, job_row, outbox_from_row

LOCAL_OWNER = "local"  # the lease owner of the one process a SQLite file serves
BUSY_TIMEOUT_MS = 20000  # another process's write lock: wait this long, then raise


# The row's lease is free, expired, or ours (parameters: owner, now).
FREE_LEASE = "(lease_owner is null or lease_owner = ? or lease_until < ?)"
WAITING = (NEW, QUEUED, SUBMITTING)  # not yet accepted by HeyGen
NO_LEASE = {"lease_owner": None, "lease_until": None}


class StoreEvents:
    """What a store tells an observer (the metrics) after a change has been committed.

    The default observes nothing; `metrics.Metrics` overrides these. Called outside the
    transaction (in the store's writer thread), so an observer's mistake can never undo
    a recorded change.
    """

    def status_recorded(self, before: Job, status: str, at: float) -> None:
        """`before` (the job as it was) moved to `status` at `at`."""

    def message_sent(
        self,
        item: OutboxItem,
        outcome: str | None,
        changes: dict[str, Any],
        job: Job | None,
    ) -> None:
        """An outbox row was delivered (or found delivered) with these job `changes`;
        `job` is the job as it was then, read in the same transaction for a result."""

    def message_dropped(self, item: OutboxItem, error: str) -> None:
        """An outbox row was given up on: Slack will never take it."""


class SqliteStore:
    """All persistent state of the bot, in one SQLite file in WAL mode; one connection."""

    # One process per file: a restarted bot is the same owner and takes its leases back.
    owner = LOCAL_OWNER

    def __init__(self, path: str, *, create: bool = True, lease_seconds: float = 30.0) -> None:
        self.lease_seconds = lease_seconds
        conn = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False, isolation_level=None
        )
        self.db = sqlite_utils.Database(conn)
        self.db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if path != ":memory:":
            self.db.enable_wal()
        self.db.execute("PRAGMA synchronous = NORMAL")
        self.events = StoreEvents()
        if create:
            self._migrate()

    def close(self) -> None:
        self.db.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic unit; BEGIN IMMEDIATE so two writers never interleave."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def _migrate(self) -> None:
        """Bring the file to the latest schema step (see `migrations`); other processes
        opening it meanwhile wait for the write lock and then find nothing left to do."""
        with self.transaction():
            self.db.execute(migrations.VERSION_TABLE)
            row = self.db.execute("select max(version) from schema_version").fetchone()
            version = row[0] or 0
            for number, step in migrations.pending(version):
                for statement in step(migrations.SQLITE, self._columns):
                    self.db.execute(statement)
                self.db.execute("delete from schema_version")
                self.db.execute("insert into schema_version (version) values (?)", [number])

    def _columns(self, table: str) -> set[str]:
        return {row[1] for row in self.db.execute(f"pragma table_info({table})").fetchall()}

    # Hot paths: plain SQL. sqlite-utils' table helpers look the schema up on every call
    # (three to five extra queries), which on the notifier's and poller's paths cost more
    # than the statements themselves, all of it on the event loop.
    def _jobs(self, where: str, params: list[Any]) -> list[Job]:
        return [
            job_from_row(r)
            for r in _dicts(self.db.execute(f"select * from jobs where {where}", params))
        ]

    def _set(self, table: str, key: Any, changes: dict[str, Any]) -> None:
        """UPDATE one row by id; column names come from code, never from input."""
        check_columns(table, changes)
        assignments = ", ".join(f"{name} = ?" for name in changes)
        self.db.execute(f"update {table} set {assignments} where id = ?", [*changes.values(), key])

    # Jobs.
    def add_job(self, job: Job, limits: UserLimits | None = None) -> bool:
        """Record a new job and the parent message announcing it, atomically.

        False when a job with this id exists already (a replayed submission). With
        `limits`, raises OverLimit instead of recording a job its person has no room for;
        counted in the same transaction, so concurrent adds cannot both pass.
        """
        job.next_check_at = job.next_check_at or job.created_at
        with self.transaction():
            if self.job(job.id) is not None:
                return False
            if limits:
                asked = self.requested_since(job.user_id, job.created_at - DAY)
                limits.check(self.running_count(job.user_id), asked, job.created_at)
            self.db["jobs"].insert(job_row(job))
            self._enqueue(job.id, PARENT, {}, key=f"{job.id}:{PARENT}")
            return True

    def unsubmitted(self, limit: int = 200) -> list[Job]:
        """Jobs not yet accepted by HeyGen, oldest first: the local queue, in order."""
        rows = self.db["jobs"].rows_where(
            "status in (?, ?, ?)",
            [NEW, QUEUED, SUBMITTING],
            order_by="created_at, id",
            limit=limit,
        )
        return [job_from_row(r) for r in rows]

    def count_unfinished(self) -> int:
        marks = ",".join("?" * len(UNFINISHED))
        row = self.db.execute(f"select count(*) from jobs where status in ({marks})", UNFINISHED)
        return int(row.fetchone()[0])

    def queue_position(self, job: Job) -> int:
        """1 for the next job to get a render slot of the job's HeyGen account."""
        row = self.db.execute(
            "select count(*) from jobs where status in (?, ?, ?) and created_at < ?"
            " and coalesce(account, '') = ?",
            [NEW, QUEUED, SUBMITTING, job.created_at, job.account or ""],
        ).fetchone()
        return int(row[0]) + 1

    def job(self, job_id: str) -> Job | None:
        rows = self._jobs("id = ?", [job_id])
        return rows[0] if rows else None

    def job_by_video(self, video_id: str) -> Job | None:
        rows = self._jobs("video_id = ? limit 1", [video_id])
        return rows[0] if rows else None

    def due_jobs(self, statuses: Iterable[str], now: float, limit: int = 500) -> list[Job]:
        """Unfinished jobs in `statuses` whose next step is due, oldest due first."""
        statuses = list(statuses)
        marks = ",".join("?" * len(statuses))
        return self._jobs(
            f"status in ({marks}) and next_check_at <= ? order by next_check_at, created_at"
            " limit ?",
            [*statuses, now, limit],
        )

    def upcoming_jobs(self, statuses: Iterable[str], now: float, limit: int) -> list[Job]:
        """Jobs in `statuses` not yet due, soonest first (to fill a bulk call with room left)."""
        statuses = list(statuses)
        marks = ",".join("?" * len(statuses))
        return self._jobs(
            f"status in ({marks}) and next_check_at > ? and {FREE_LEASE}"
            " order by next_check_at limit ?",
            [*statuses, now, self.owner, now, limit],
        )

    def reschedule(self, plans: Iterable[tuple[str, float, float, int]]) -> None:
        """Set (job id, next_check_at, check_interval, checks) for many jobs in one write."""
        now = time.time()
        rows = [(due, interval, checks, now, job_id) for job_id, due, interval, checks in plans]
        if not rows:
            return
        with self.transaction():
            self.db.conn.executemany(
                "update jobs set next_check_at = ?, check_interval = ?, checks = ?,"
                " updated_at = ?, lease_owner = null, lease_until = null where id = ?",
                rows,
            )

    def recent_renders(self, limit: int) -> list[tuple[str, float, float]]:
        """(script, speed, seconds from submit to completion) of the latest completed jobs."""
        rows = self.db.execute(
            "select script, speed, finished_at - submitted_at from jobs where status = ?"
            " and submitted_at is not null order by finished_at desc limit ?",
            [COMPLETED, limit],
        ).fetchall()
        return [(r[0], r[1] or 1.0, r[2]) for r in rows]

    def next_check_at(self, statuses: Iterable[str] = UNFINISHED) -> float | None:
        """When a job in `statuses` is next due (None: there is none)."""
        statuses = list(statuses)
        marks = ",".join("?" * len(statuses))
        row = self.db.execute(
            f"select min(case when {FREE_LEASE} then next_check_at"
            " else max(next_check_at, lease_until) end)"
            f" from jobs where status in ({marks})",
            [self.owner, time.time(), *statuses],
        ).fetchone()
        return row[0] if row else None

    def unfinished_jobs(self, limit: int = 5000) -> list[Job]:
        """Every job not finished yet, oldest first."""
        marks = ",".join("?" * len(UNFINISHED))
        return self._jobs(
            f"status in ({marks}) order by created_at, id limit ?", [*UNFINISHED, limit]
        )

    def add_held_time(self, since: float, until: float) -> None:
        """Unfinished jobs on the bot's account were held from `since` to `until` (HeyGen
        refused its key): that time does not count toward their timeout."""
        marks = ",".join("?" * len(UNFINISHED))
        self.db.execute(
            "update jobs set held_seconds ="
            " coalesce(held_seconds, 0) + max(0, ? - max(created_at, ?))"
            f" where status in ({marks}) and account is null",
            [until, since, *UNFINISHED],
        )

    def update_job(self, job_id: str, **changes: Any) -> bool:
        """Change fields that need no Slack message (schedule, bookkeeping).

        A finished job keeps its status: a cancel that lands while the poller is busy with
        the job must not be undone by the poller's bookkeeping. False when that happened.
        """
        changes["updated_at"] = time.time()
        if "status" not in changes:
            self._set("jobs", job_id, changes)
            return True
        changes.update(lease_owner=None, lease_until=None)  # this step of the work is done
        marks = ",".join("?" * len(FINISHED))
        assignments = ", ".join(f"[{name}] = ?" for name in changes)
        cursor = self.db.execute(
            f"update jobs set {assignments} where id = ? and status not in ({marks})",
            [*changes.values(), job_id, *FINISHED],
        )
        return cursor.rowcount == 1

    def start_submitting(self, job_id: str) -> bool:
        """Take the job's lease and mark it `submitting`: True for exactly one caller.

        Only a job with no video yet, still waiting (`new`, `queued`, or `submitting` left
        by a process that died), whose lease is free, expired or ours; so a job is never
        sent twice by passes (or replicas) that read it a moment apart.
        """
        now = time.time()
        cursor = self.db.execute(
            "update jobs set status = ?, updated_at = ?, lease_owner = ?, lease_until = ?"
            " where id = ? and video_id is null and status in (?, ?, ?)"
            f" and {FREE_LEASE}",
            [
                SUBMITTING,
                now,
                self.owner,
                now + self.lease_seconds,
                job_id,
                *WAITING,
                self.owner,
                now,
            ],
        )
        return cursor.rowcount == 1

    def claim_due(self, statuses: Iterable[str], now: float, limit: int = 500) -> list[Job]:
        """Take the lease of the due jobs in `statuses` no one else works on, oldest due
        first: this process checks them; `reschedule` or a status change gives them back."""
        statuses = list(statuses)
        marks = ",".join("?" * len(statuses))
        with self.transaction():
            jobs = self._jobs(
                f"status in ({marks}) and next_check_at <= ? and {FREE_LEASE}"
                " order by next_check_at, created_at limit ?",
                [*statuses, now, self.owner, now, limit],
            )
            until = now + self.lease_seconds
            self.db.conn.executemany(
                "update jobs set lease_owner = ?, lease_until = ? where id = ?",
                [(self.owner, until, job.id) for job in jobs],
            )
        for job in jobs:
            job.lease_owner, job.lease_until = self.owner, until
        return jobs

    def recent_jobs(self, user_id: str, limit: int = 10) -> list[Job]:
        """One person's jobs, newest first (App Home, `/heygen status`)."""
        rows = self.db["jobs"].rows_where(
            "user_id = ?", [user_id], order_by="created_at desc", limit=limit
        )
        return [job_from_row(r) for r in rows]

    def requested_since(self, user_id: str, since: float) -> list[float]:
        """When one person asked for each video since `since`, oldest first (daily limit)."""
        rows = self.db.execute(
            "select created_at from jobs where user_id = ? and created_at > ? order by created_at",
            [user_id, since],
        ).fetchall()
        return [row[0] for row in rows]

    def running_count(self, user_id: str) -> int:
        """How many of one person's videos are not finished yet (running limit)."""
        marks = ",".join("?" * len(UNFINISHED))
        row = self.db.execute(
            f"select count(*) from jobs where user_id = ? and status in ({marks})",
            [user_id, *UNFINISHED],
        ).fetchone()
        return int(row[0])

    def refresh_rendering_parents(self, older_than: float) -> int:
        """Queue a parent update for rendering jobs not refreshed since `older_than`.

        Keeps the elapsed time on the announcement moving while HeyGen renders; returns
        how many were queued.
        """
        with self.transaction():
            rows = self.db.execute(
                """select id from jobs j
                   where status in (?, ?) and parent_ts is not null
                   and not exists (
                       select 1 from outbox o where o.job_id = j.id
                       and o.kind in (?, ?) and (o.created_at > ? or o.sent_at is null))""",
                [PENDING, PROCESSING, PARENT, PARENT_UPDATE, older_than],
            ).fetchall()
            for (job_id,) in rows:
                self._enqueue(job_id, PARENT_UPDATE, {}, key=None)
        return len(rows)

    # Remembered choices.
    def remember_choices(self, user_id: str, avatar_id: str, voice_id: str, shape: str) -> None:
        """The next modal this person opens starts from these."""
        self.db["preferences"].upsert(
            {
                "user_id": user_id,
                "avatar_id": avatar_id,
                "voice_id": voice_id,
                "shape": shape,
                "updated_at": time.time(),
            },
            pk="user_id",
        )

    def saw_home(self, user_id: str) -> None:
        """This person has opened the App Home: refresh it when their videos finish."""
        self.db["home_viewers"].upsert({"user_id": user_id, "opened_at": time.time()}, pk="user_id")

    def last_choices(self, user_id: str) -> dict[str, str] | None:
        rows = list(self.db["preferences"].rows_where("user_id = ?", [user_id]))
        return rows[0] if rows else None

    def record_status(
        self,
        job_id: str,
        status: str,
        *,
        notify_user: bool = False,
        only_from: tuple[str, ...] | None = None,
        **changes: Any,
    ) -> bool:
        """Move a job to `status` and queue the Slack messages that move calls for.

        Returns False (and changes nothing) when the job is already finished, so a late
        webhook and the poller racing on one video cannot both report it, or when it is no
        longer in one of `only_from` (a decision made on what was read a moment earlier).
        """
        with self.transaction():
            job = self.job(job_id)
            if job is None or job.finished or (only_from and job.status not in only_from):
                return False
            now = time.time()
            changes.update(status=status, updated_at=now, lease_owner=None, lease_until=None)
            if status in FINISHED:
                changes.update(finished_at=now, next_check_at=None)
            self._set("jobs", job_id, changes)
            sees_home = status in FINISHED and self._sees_home(job.user_id)
            for message in messages_for(job, status, notify_user=notify_user, sees_home=sees_home):
                self._enqueue(job_id, message.kind, {}, key=message.key)
            if moves_queue(job, status):
                self._requeue_positions(job_id)
        self.events.status_recorded(job, status, now)
        return True

    def _sees_home(self, user_id: str) -> bool:
        query = "select 1 from home_viewers where user_id = ?"
        return self.db.execute(query, [user_id]).fetchone() is not None

    def _requeue_positions(self, leaving: str) -> None:
        """Every job still queued moves up one place: refresh what their parents say."""
        for row in self.db["jobs"].rows_where("status = ? and id != ?", [QUEUED, leaving]):
            self._enqueue(row["id"], PARENT_UPDATE, {}, key=None)

    # Outbox.
    def queue_messages(self, messages: Iterable[tuple[str, str, str | None]]) -> None:
        """Queue (job id, kind, dedupe key) rows in one write; a known key is skipped."""
        with self.transaction():
            for job_id, kind, key in messages:
                self._enqueue(job_id, kind, {}, key=key)

    def _enqueue(self, job_id: str, kind: str, body: dict[str, Any], *, key: str | None) -> None:
        """Queue one message; an edit of the announcement joins one already waiting.

        Sending a `parent_update` reads the job's state at that moment, so one not yet taken
        up by the notifier (unclaimed) already says whatever a newer one would: N queued
        videos then cost O(N) edits, not one per job per move of the queue.
        """
        if kind == PARENT_UPDATE and self._update_waiting(job_id):
            return
        self.db.execute(
            "insert or ignore into outbox (job_id, kind, dedupe_key, body, created_at, attempts,"
            " next_attempt_at) values (?, ?, ?, ?, ?, 0, 0.0)",
            [job_id, kind, key or uuid.uuid4().hex, json.dumps(body), time.time()],
        )

    def _update_waiting(self, job_id: str) -> bool:
        row = self.db.execute(
            "select 1 from outbox where job_id = ? and kind = ? and sent_at is null"
            " and claimed_at is null and lease_owner is null limit 1",
            [job_id, PARENT_UPDATE],
        ).fetchone()
        return row is not None

    def pending_outbox(self, now: float, limit: int = 100) -> list[OutboxItem]:
        """Unsent messages that may be tried now, oldest first."""
        cursor = self.db.execute(
            "select * from outbox where sent_at is null and next_attempt_at <= ?"
            " order by id limit ?",
            [now, limit],
        )
        return [outbox_from_row(r) for r in _dicts(cursor)]

    def due_heads(self, now: float, busy: Iterable[str] = (), limit: int = 100) -> list[OutboxItem]:
        """Messages that may be sent now, oldest first, at most one per job.

        Per job, a message waits for every older unsent one (a reply needs its parent), except
        that an edit of the announcement waits only for the announcement and nothing waits
        for an edit. Jobs in `busy` (a message of theirs is being sent) are left out.
        """
        busy = list(busy)
        marks = ",".join("?" * len(busy))
        cursor = self.db.execute(
            f"""select * from outbox o where o.sent_at is null and o.next_attempt_at <= ?
                and o.job_id not in ({marks}) and {FREE_LEASE.replace("lease", "o.lease")}
                and not exists (
                    select 1 from outbox e where e.job_id = o.job_id and e.id < o.id
                    and e.sent_at is null
                    and (e.kind = ? or (o.kind != ? and e.kind != ?)))
                order by o.id limit ?""",
            [now, *busy, self.owner, now, PARENT, PARENT_UPDATE, PARENT_UPDATE, limit * 4],
        )
        heads: dict[str, OutboxItem] = {}
        for item in map(outbox_from_row, _dicts(cursor)):
            heads.setdefault(item.job_id, item)
        return list(heads.values())[:limit]

    def next_head_at(self, after: float, busy: Iterable[str] = ()) -> float | None:
        """When the next message not waiting behind another becomes due after `after`."""
        busy = list(busy)
        marks = ",".join("?" * len(busy))
        row = self.db.execute(
            f"""select min(o.next_attempt_at) from outbox o where o.sent_at is null
                and o.next_attempt_at > ? and o.job_id not in ({marks})
                and not exists (
                    select 1 from outbox e where e.job_id = o.job_id and e.id < o.id
                    and e.sent_at is null
                    and (e.kind = ? or (o.kind != ? and e.kind != ?)))""",
            [after, *busy, PARENT, PARENT_UPDATE, PARENT_UPDATE],
        ).fetchone()
        return row[0] if row else None

    def claim(self, item_id: int) -> None:
        """Mark a message as being sent, before the Slack call: a restarted bot that finds
        it claimed but unsent looks in Slack before sending it again."""
        self.db.execute("update outbox set claimed_at = ? where id = ?", [time.time(), item_id])

    def take(self, item_id: int) -> bool:
        """Take an unsent message's lease before sending it: True for exactly one process.

        Free, expired, or already ours; `mark_sent`, `retry_later` and `give_up` end it, and
        a process that dies loses it when it expires (the message is then sent by another,
        which looks in Slack first if it was claimed).
        """
        now = time.time()
        cursor = self.db.execute(
            "update outbox set lease_owner = ?, lease_until = ? where id = ? and sent_at is null"
            f" and {FREE_LEASE}",
            [self.owner, now + self.lease_seconds, item_id, self.owner, now],
        )
        return cursor.rowcount == 1

    def renew(self, table: str, ids: list[Any]) -> None:
        """Keep the leases of work still under way (a long upload), `table` jobs or outbox."""
        if table not in ("jobs", "outbox") or not ids:
            return
        marks = ",".join("?" * len(ids))
        self.db.execute(
            f"update {table} set lease_until = ? where lease_owner = ? and id in ({marks})",
            [time.time() + self.lease_seconds, self.owner, *ids],
        )

    def hold_singleton(self, name: str, seconds: float) -> bool:
        """Be (or stay) the one process doing `name` for `seconds`; False: another is."""
        now = time.time()
        cursor = self.db.execute(
            "insert into singletons (name, owner, until) values (?, ?, ?)"
            " on conflict (name) do update set owner = excluded.owner, until = excluded.until"
            " where singletons.owner = excluded.owner or singletons.until < ?",
            [name, self.owner, now + seconds, now],
        )
        return cursor.rowcount == 1

    def heygen_slot(self, account: str, gap: float) -> float:
        """The next free moment for a request to HeyGen under `account`'s cap, taken.

        One request per `gap` seconds across every process sharing the database.
        """
        now = time.time()
        with self.transaction():
            self.db.execute(
                "insert into rate_slots (account, next_at) values (?, ?)"
                " on conflict (account) do update set next_at = max(next_at, ?) + ?",
                [account, now + gap, now, gap],
            )
            row = self.db.execute(
                "select next_at from rate_slots where account = ?", [account]
            ).fetchone()
        return row[0] - gap

    def mark_sent(
        self,
        item: OutboxItem,
        slack_ts: str | None,
        *,
        outcome: str | None = None,
        **job_changes: Any,
    ) -> None:
        """Record delivery (and, for the parent post, its ts) in one transaction.

        `outcome` names, for the metrics, what a delivery amounted to when `slack_ts`
        does not say (an upload that became a note saying why: "too_large", ...).
        """
        with self.transaction():
            self._set("outbox", item.id, {"sent_at": time.time(), "slack_ts": slack_ts, **NO_LEASE})
            if job_changes:
                self._set("jobs", item.job_id, job_changes)
            job = self.job(item.job_id) if item.kind == RESULT else None
        self.events.message_sent(item, outcome, job_changes, job)

    def retry_later(self, item: OutboxItem, at: float, error: str, *, failed: bool = True) -> None:
        """Try again at `at`. `failed=False` says Slack certainly did nothing (a 429, a
        rejected token, our own pacing): no attempt is counted and the claim is released,
        so the next try need not look in Slack for the message first."""
        claimed = "claimed_at" if failed else "null"
        self.db.execute(
            f"update outbox set next_attempt_at = ?, last_error = ?, attempts = attempts + ?,"
            f" claimed_at = {claimed}, lease_owner = null, lease_until = null where id = ?",
            [at, error[:500], int(failed), item.id],
        )

    def give_up(self, item: OutboxItem, error: str) -> None:
        """Slack will never accept this message; stop trying and keep the reason."""
        self._set(
            "outbox",
            item.id,
            {"sent_at": time.time(), "slack_ts": None, "last_error": error[:500], **NO_LEASE},
        )
        self.events.message_dropped(item, error)

    def count_unsent(self) -> int:
        """Outbox rows still to send (the shutdown line says how many wait for a restart)."""
        return self.db.execute("select count(*) from outbox where sent_at is null").fetchone()[0]

    # Distribution mode: installations, HeyGen keys, a workspace leaving.
    def save_installation(self, row: dict[str, Any]) -> None:
        self.db.execute(ws.SAVE_INSTALLATION, ws.installation_row(row))

    def installation(self, install_key: str) -> dict[str, Any] | None:
        rows = list(_dicts(self.db.execute(ws.INSTALLATION, [install_key])))
        return rows[0] if rows else None

    def delete_installation(self, install_key: str) -> None:
        """The installation and its HeyGen key, together."""
        with self.transaction():
            self.db.execute(ws.DELETE_INSTALLATION, [install_key])
            self.db.execute(ws.DELETE_KEY, [install_key])

    def save_heygen_key(self, row: dict[str, Any]) -> None:
        self.db.execute(ws.SAVE_KEY, ws.key_row(row))

    def heygen_key(self, install_key: str) -> dict[str, Any] | None:
        rows = list(_dicts(self.db.execute(ws.KEY, [install_key])))
        return rows[0] if rows else None

    def heygen_keys_of_account(self, account: str) -> list[dict[str, Any]]:
        return list(_dicts(self.db.execute(ws.KEYS_OF_ACCOUNT, [account])))

    def delete_heygen_key(self, install_key: str) -> None:
        self.db.execute(ws.DELETE_KEY, [install_key])

    def end_workspace(self, install_key: str) -> list[Job]:
        """The app left a workspace (or org): its unfinished jobs end as cancelled without a
        word, its unsent messages are dropped. Returns the jobs ended (to stop at HeyGen)."""
        now, both = time.time(), [install_key, install_key]
        with self.transaction():
            ended = [job_from_row(r) for r in _dicts(self.db.execute(ws.LEAVING_JOBS, both))]
            self.db.execute(ws.END_JOBS, [now, now, *both])
            self.db.execute(ws.DROP_MESSAGES, [now, *both])
        return ended

    # Catalog cache.
    def save_catalog(self, kind: str, api_version: str, records: list[dict[str, Any]]) -> None:
        with self.transaction():
            self.db[kind].delete_where("api_version = ?", [api_version])
            self.db[kind].insert_all(
                {"id": r["id"], "api_version": api_version, "position": i, "record": json.dumps(r)}
                for i, r in enumerate(records)
            )
            self.db["catalog_meta"].upsert(
                {"name": f"{kind}:{api_version}", "refreshed_at": time.time()}, pk="name"
            )

    def load_catalog(self, kind: str, api_version: str) -> tuple[list[dict[str, Any]], float]:
        """Cached records and when they were fetched (0.0 when never)."""
        rows = self.db[kind].rows_where("api_version = ?", [api_version], order_by="position")
        records = [json.loads(r["record"]) for r in rows]
        meta = list(self.db["catalog_meta"].rows_where("name = ?", [f"{kind}:{api_version}"]))
        return records, (meta[0]["refreshed_at"] if meta else 0.0)

    def first_delivery(self, event_id: str) -> bool:
        """True the first time an event id is seen; HeyGen redelivers for up to a day."""
        now = time.time()
        cursor = self.db.execute(
            "insert or ignore into webhook_events (event_id, received_at) values (?, ?)",
            [event_id, now],
        )
        if cursor.rowcount == 1 and random.random() < 0.01:  # keep the table small
            self.db.execute("delete from webhook_events where received_at < ?", [now - 172800])
        return cursor.rowcount == 1

    def ping(self) -> bool:
        return self.db.execute("select 1").fetchone() == (1,)

    # Metrics, read at scrape time: cheap counts over indexed columns.
    def jobs_by_status(self) -> dict[str, int]:
        """How many jobs are in each status now (statuses with none are left out)."""
        rows = self.db.execute("select status, count(*) from jobs group by status").fetchall()
        return {str(status): int(count) for status, count in rows}

    def outbox_backlog(self) -> tuple[int, float | None]:
        """Unsent outbox rows, and when the oldest of them was queued (None: none)."""
        row = self.db.execute(
            "select count(*), min(created_at) from outbox where sent_at is null"
        ).fetchone()
        return int(row[0]), row[1]


def _dicts(cursor: sqlite3.Cursor) -> list[dict[str, Any]]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
