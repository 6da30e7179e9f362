"""Rows ↔ objects, shared by both backends: one column list, one conversion each way.

Booleans are stored as 0/1 and times as epoch seconds (float) on SQLite and PostgreSQL
alike, so a row means the same thing whichever store wrote it (`migrate-db` copies rows
as they are).
"""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any

from ..jobs import Job, OutboxItem

JOB_FIELDS = [f.name for f in fields(Job)]
BOOL_FIELDS = frozenset({"sandbox", "captions", "test", "notify_dm"})
INT_FIELDS = frozenset({"checks", *BOOL_FIELDS})
FLOAT_FIELDS = frozenset(
    {
        "speed",
        "pitch",
        "duration",
        "created_at",
        "updated_at",
        "submitted_at",
        "finished_at",
        "next_check_at",
        "check_interval",
        "held_seconds",
        "lease_until",
    }
)
OUTBOX_COLUMNS = (
    "id", "job_id", "kind", "dedupe_key", "body", "created_at", "claimed_at", "sent_at",
    "slack_ts", "attempts", "next_attempt_at", "last_error", "lease_owner", "lease_until",
)  # fmt: skip
# Tables `migrate-db` copies, in an order that never breaks a reference.
DATA_TABLES = (
    "jobs",
    "outbox",
    "preferences",
    "home_viewers",
    "webhook_events",
    "installations",
    "heygen_keys",
)


def column_type(name: str) -> str:
    """'int', 'float' or 'text': the kind of a job column (the dialect names the type)."""
    if name in INT_FIELDS:
        return "int"
    return "float" if name in FLOAT_FIELDS else "text"


def job_row(job: Job) -> dict[str, Any]:
    row = {name: getattr(job, name) for name in JOB_FIELDS}
    for name in BOOL_FIELDS:
        row[name] = int(bool(row[name]))
    return row


def job_from_row(row: dict[str, Any]) -> Job:
    """A row back into a Job; NULL (e.g. a column added by an upgrade) means the default."""
    values = {k: row[k] for k in JOB_FIELDS if row.get(k) is not None}
    for name in BOOL_FIELDS & values.keys():
        values[name] = bool(values[name])
    return Job(**values)


def outbox_from_row(row: dict[str, Any]) -> OutboxItem:
    return OutboxItem(
        id=row["id"],
        job_id=row["job_id"],
        kind=row["kind"],
        body=json.loads(row["body"]),
        attempts=row["attempts"] or 0,
        claimed_at=row["claimed_at"],
    )


def check_columns(table: str, names: set[str] | dict[str, Any]) -> None:
    """Column names come from code, never from input; anything else is a bug."""
    known = JOB_FIELDS if table == "jobs" else OUTBOX_COLUMNS
    unknown = set(names) - set(known)
    if unknown:
        raise ValueError(f"no such column in {table}: {sorted(unknown)}")
