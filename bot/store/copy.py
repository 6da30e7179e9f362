"""`python -m bot migrate-db --to URL`: a SQLite install's rows into an empty PostgreSQL.

Both ends are first brought to the latest schema step, so every column the target has
is one the source has too. The target must be empty: copying onto another install's
jobs would mix two histories, so it refuses and changes nothing. Leases are not copied
(they named the SQLite process); the outbox's id sequence continues after the last id.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import psycopg
from psycopg import sql

from .postgres import PostgresStore
from .rows import DATA_TABLES
from .sqlite import SqliteStore

CATALOG_TABLES = ("avatars", "voices", "catalog_meta")
LEASE_COLUMNS = {"lease_owner", "lease_until"}


class CopyRefused(Exception):
    """The copy would lose or mix data; nothing was written."""


async def copy_to_postgres(path: str, url: str) -> dict[str, int]:
    """Copy every table of the SQLite file at `path` into `url`; rows copied per table."""
    if path == ":memory:" or not Path(path).is_file():
        raise CopyRefused(f"no SQLite database at {path} (DATABASE_PATH)")
    source = await asyncio.to_thread(SqliteStore, path)  # upgraded to the latest step
    target = await PostgresStore.open(url)
    await target.aclose()
    try:
        async with await psycopg.AsyncConnection.connect(url) as conn, conn.transaction():
            await _refuse_unless_empty(conn)
            copied = {}
            for table in (*DATA_TABLES, *CATALOG_TABLES):
                copied[table] = await _copy_table(source.db.conn, conn, table)
            await conn.execute(
                "select setval(pg_get_serial_sequence('outbox', 'id'),"
                " coalesce(max(id), 0) + 1, false) from outbox"
            )
        return copied
    finally:
        source.close()


async def _refuse_unless_empty(conn: psycopg.AsyncConnection) -> None:
    for table in (*DATA_TABLES, *CATALOG_TABLES):
        query = sql.SQL("select exists (select 1 from {})").format(sql.Identifier(table))
        row = await (await conn.execute(query)).fetchone()
        if row and row[0]:
            raise CopyRefused(f"the target database is not empty (table {table} has rows)")


async def _copy_table(source: sqlite3.Connection, conn: psycopg.AsyncConnection, table: str) -> int:
    names = [r[1] for r in source.execute(f"pragma table_info({table})")]
    columns = [n for n in names if n not in LEASE_COLUMNS]
    rows = source.execute(f"select {', '.join(columns)} from {table}").fetchall()
    if not rows:
        return 0
    statement = sql.SQL("copy {} ({}) from stdin").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    async with conn.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            await copy.write_row(row)
    return len(rows)


__all__ = ["CopyRefused", "copy_to_postgres"]
