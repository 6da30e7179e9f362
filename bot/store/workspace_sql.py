"""SQL of the distribution-mode tables, shared by both backends (`?` marks; PostgreSQL's
store turns them into `%s`): installations, HeyGen keys, and a workspace's leaving.

The values are opaque here: `record` and `secret` are SecretBox tokens made and opened by
`bot.workspaces`; this layer only keeps them.
"""

from __future__ import annotations

from ..jobs import CANCELLED, UNFINISHED

INSTALLATION_COLUMNS = (
    "install_key", "enterprise_id", "team_id", "is_enterprise_install",
    "installer_user_id", "installed_at", "record",
)  # fmt: skip
KEY_COLUMNS = (
    "install_key", "secret", "last4", "account", "webhook_id", "webhook_secret", "updated_at",
)  # fmt: skip


def upsert(table: str, columns: tuple[str, ...]) -> str:
    """Insert a row, or replace every column of the row with the same first column."""
    names = ", ".join(columns)
    marks = ", ".join("?" * len(columns))
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns[1:])
    return (
        f"insert into {table} ({names}) values ({marks})"
        f" on conflict ({columns[0]}) do update set {updates}"
    )


SAVE_INSTALLATION = upsert("installations", INSTALLATION_COLUMNS)
SAVE_KEY = upsert("heygen_keys", KEY_COLUMNS)
INSTALLATION = "select * from installations where install_key = ?"
KEY = "select * from heygen_keys where install_key = ?"
KEYS_OF_ACCOUNT = "select * from heygen_keys where account = ?"
DELETE_INSTALLATION = "delete from installations where install_key = ?"
DELETE_KEY = "delete from heygen_keys where install_key = ?"
_UNFINISHED = ", ".join(f"'{s}'" for s in UNFINISHED)
# A workspace's jobs: its own team id, or (an org-wide install) its Grid org's id.
_OF_WORKSPACE = "(team_id = ? or enterprise_id = ?)"
LEAVING_JOBS = f"select * from jobs where {_OF_WORKSPACE} and status in ({_UNFINISHED})"
END_JOBS = (
    f"update jobs set status = '{CANCELLED}', failure_code = 'uninstalled', finished_at = ?,"
    f" updated_at = ?, lease_owner = null, lease_until = null"
    f" where {_OF_WORKSPACE} and status in ({_UNFINISHED})"
)
DROP_MESSAGES = (
    "update outbox set sent_at = ?, slack_ts = null, last_error = 'uninstalled',"
    " lease_owner = null, lease_until = null"
    f" where sent_at is null and job_id in (select id from jobs where {_OF_WORKSPACE})"
)


def installation_row(row: dict) -> list:
    return [row.get(c) for c in INSTALLATION_COLUMNS]


def key_row(row: dict) -> list:
    return [row.get(c) for c in KEY_COLUMNS]
