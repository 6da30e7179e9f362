"""The sandbox's memory: accounts, videos, idempotent answers, webhook endpoints, secrets.

SQLite through sqlite-utils, in a file when `state_path` is set (so a restarted sandbox keeps
its videos and secrets) or in memory otherwise. Only this module knows the schema.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils
from sqlite_utils.db import NotFoundError

from .videos import DEFAULT_ACCOUNT, Failure, Video

IDEMPOTENCY_WINDOW = 24 * 3600.0


@dataclass(frozen=True)
class Endpoint:
    """A registered v3 webhook endpoint; `events` None means every event."""

    endpoint_id: str
    url: str
    events: list[str] | None
    secret: str
    status: str
    created_at: str
    account: str = DEFAULT_ACCOUNT


@dataclass(frozen=True)
class AccountRow:
    """An account added while running (or from settings), as kept across restarts."""

    name: str
    api_key: str
    credit_seconds: float
    concurrency: int
    private_avatars: int


@dataclass(frozen=True)
class StoredAnswer:
    status: int
    body: bytes
    content_type: str


class Store:
    """Named tables and the few queries the sandbox needs."""

    def __init__(self, path: str | None) -> None:
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path or ":memory:", check_same_thread=False)
        self.db = sqlite_utils.Database(conn)
        if path:
            self.db.execute("PRAGMA journal_mode=WAL")
        self._create_schema()

    def close(self) -> None:
        self.db.conn.close()

    def _create_schema(self) -> None:
        self.db["videos"].create(
            {
                "id": str, "api": str, "created_at": float, "render_seconds": float,
                "finish_at": float, "script": str, "avatar_id": str, "voice_id": str,
                "title": str, "callback_id": str, "callback_url": str, "caption": int,
                "speed": float, "base_url": str, "failure": str, "deleted_at": float,
                "notified": int, "request": str, "renderer": str, "stage": str,
                "media_duration": float, "account": str,
            },
            pk="id",
            if_not_exists=True,
        )  # fmt: skip
        later = (("renderer", str), ("stage", str), ("media_duration", float), ("account", str))
        for name, kind in later:
            if name not in self.db["videos"].columns_dict:  # a state file from before them
                self.db["videos"].add_column(name, kind)
        self.db["videos"].create_index(["finish_at"], if_not_exists=True)
        self.db["videos"].create_index(["created_at"], if_not_exists=True)
        self.db["idempotency"].create(
            {"key": str, "created_at": float, "status": int, "body": bytes, "content_type": str},
            pk="key",
            if_not_exists=True,
        )
        self.db["endpoints"].create(
            {
                "endpoint_id": str, "url": str, "events": str, "secret": str, "status": str,
                "created_at": str, "seq": int, "account": str,
            },
            pk="endpoint_id",
            if_not_exists=True,
        )  # fmt: skip
        if "account" not in self.db["endpoints"].columns_dict:
            self.db["endpoints"].add_column("account", str)
        self.db["accounts"].create(
            {
                "name": str, "api_key": str, "credit_seconds": float, "concurrency": int,
                "private_avatars": int, "seq": int,
            },
            pk="name",
            if_not_exists=True,
        )  # fmt: skip
        self.db["meta"].create({"key": str, "value": str}, pk="key", if_not_exists=True)

    # --- secrets -------------------------------------------------------------------------

    def secret(self, name: str) -> str:
        """A random secret created once and kept, so signed links outlive a restart."""
        try:
            return self.db["meta"].get(name)["value"]
        except NotFoundError:
            value = secrets.token_hex(32)
            self.db["meta"].insert({"key": name, "value": value}, ignore=True)
            return self.db["meta"].get(name)["value"]

    # --- accounts ------------------------------------------------------------------------

    def add_account(self, account: AccountRow) -> None:
        seq = self.db.execute("select coalesce(max(seq), 0) + 1 from accounts").fetchone()[0]
        self.db["accounts"].insert({**account.__dict__, "seq": seq})

    def accounts(self) -> list[AccountRow]:
        rows = self.db["accounts"].rows_where(order_by="seq")
        return [AccountRow(**{k: v for k, v in r.items() if k != "seq"}) for r in rows]

    # --- videos --------------------------------------------------------------------------

    def add_video(self, video: Video) -> None:
        self.db["videos"].insert(_video_row(video))

    def video(self, video_id: str) -> Video | None:
        try:
            return _video_from(self.db["videos"].get(video_id))
        except NotFoundError:
            return None

    def videos(self, account: str, limit: int | None = None, offset: int = 0) -> list[Video]:
        """One account's live videos, newest first."""
        rows = self.db["videos"].rows_where(
            f"deleted_at is null and {_OWNED}",
            [account],
            order_by="created_at desc",
            limit=limit,
            offset=offset or None,
        )
        return [_video_from(r) for r in rows]

    def all_videos(self) -> list[Video]:
        """Every video ever created, deleted ones too (for the inspection endpoint)."""
        return [_video_from(r) for r in self.db["videos"].rows_where(order_by="created_at")]

    def finish(self, video_id: str, at: float, failure: Failure | None) -> None:
        self.db["videos"].update(video_id, {"finish_at": at, "failure": _failure_json(failure)})

    def set_stage(self, video_id: str, stage: str) -> None:
        self.db["videos"].update(video_id, {"stage": stage})

    def rendered(self, video_id: str, duration: float, finish_at: float | None) -> None:
        """A real render's files exist: record its length, and when it shows `completed`
        (None keeps a `finish_at` that is already set, e.g. by a forced completion)."""
        changes: dict[str, Any] = {"stage": "done", "media_duration": duration}
        if finish_at is not None:
            changes["finish_at"] = finish_at
        self.db["videos"].update(video_id, changes)

    def unrendered(self) -> list[Video]:
        """Real renders that never finished (the sandbox stopped mid-render): to resume."""
        rows = self.db["videos"].rows_where(
            "renderer = 'real' and finish_at is null and deleted_at is null",
            order_by="created_at",
        )
        return [_video_from(r) for r in rows]

    def delete(self, video_id: str, at: float) -> None:
        self.db["videos"].update(video_id, {"deleted_at": at})

    def rendering(self, now: float, account: str) -> tuple[int, float | None]:
        """How many of an account's videos are still rendering, and the soonest one of them
        finishes."""
        row = self.db.execute(
            "select count(*), min(finish_at) from videos where deleted_at is null"
            f" and (finish_at is null or finish_at > ?) and {_OWNED}",
            [now, account],
        ).fetchone()
        return row[0], row[1]

    def due_notices(self, now: float) -> list[Video]:
        """Finished videos whose webhooks have not been sent yet."""
        rows = self.db["videos"].rows_where(
            "notified = 0 and deleted_at is null and finish_at <= ?", [now], order_by="finish_at"
        )
        return [_video_from(r) for r in rows]

    def next_finish(self, now: float) -> float | None:
        row = self.db.execute(
            "select min(finish_at) from videos where notified = 0 and deleted_at is null"
            " and finish_at > ?",
            [now],
        ).fetchone()
        return row[0]

    def mark_notified(self, video_id: str) -> None:
        self.db["videos"].update(video_id, {"notified": 1})

    def used_seconds(self, now: float, account: str) -> float:
        """Seconds of video billed to an account so far: every completed one, deleted or not
        (as HeyGen bills a render once it is done); failed and unfinished ones cost nothing."""
        total = 0.0
        rows = self.db["videos"].rows_where(
            f"failure is null and finish_at <= ? and {_OWNED}",
            [now, account],
            select="script, speed, media_duration",
        )
        for row in rows:
            video = Video(
                "", "", 0, 0, None, row["script"], "", "", speed=row["speed"],
                media_duration=row["media_duration"],
            )  # fmt: skip
            total += video.duration
        return total

    # --- idempotency ---------------------------------------------------------------------

    def answer(self, key: str, now: float) -> StoredAnswer | None:
        rows = list(
            self.db["idempotency"].rows_where(
                "key = ? and created_at > ?", [key, now - IDEMPOTENCY_WINDOW]
            )
        )
        if not rows:
            return None
        row = rows[0]
        return StoredAnswer(row["status"], row["body"], row["content_type"])

    def keep_answer(self, key: str, now: float, answer: StoredAnswer) -> None:
        self.db["idempotency"].upsert(
            {
                "key": key,
                "created_at": now,
                "status": answer.status,
                "body": answer.body,
                "content_type": answer.content_type,
            },
            pk="key",
        )

    # --- webhook endpoints ---------------------------------------------------------------

    def add_endpoint(self, endpoint: Endpoint) -> None:
        seq = self.db.execute("select coalesce(max(seq), 0) + 1 from endpoints").fetchone()[0]
        self.db["endpoints"].insert({**_endpoint_row(endpoint), "seq": seq})

    def endpoint(self, endpoint_id: str) -> Endpoint | None:
        try:
            return _endpoint_from(self.db["endpoints"].get(endpoint_id))
        except NotFoundError:
            return None

    def endpoints(self, account: str) -> list[Endpoint]:
        """One account's endpoints, oldest first."""
        rows = self.db["endpoints"].rows_where(_OWNED, [account], order_by="seq")
        return [_endpoint_from(r) for r in rows]

    def save_endpoint(self, endpoint: Endpoint) -> None:
        self.db["endpoints"].update(endpoint.endpoint_id, _endpoint_row(endpoint))

    def remove_endpoint(self, endpoint_id: str) -> None:
        self.db["endpoints"].delete(endpoint_id)


# Rows from before accounts (a null account) belong to the default account.
_OWNED = f"coalesce(account, '{DEFAULT_ACCOUNT}') = ?"


def _failure_json(failure: Failure | None) -> str | None:
    return json.dumps(failure.__dict__) if failure else None


def _video_row(video: Video) -> dict[str, Any]:
    row = dict(video.__dict__)
    row["failure"] = _failure_json(video.failure)
    row["caption"] = int(video.caption)
    row["notified"] = int(video.notified)
    row["request"] = json.dumps(video.request)
    return row


def _video_from(row: dict[str, Any]) -> Video:
    data = dict(row)
    data["failure"] = Failure(**json.loads(row["failure"])) if row["failure"] else None
    data["caption"] = bool(row["caption"])
    data["notified"] = bool(row["notified"])
    data["request"] = json.loads(row["request"] or "{}")
    data["renderer"] = row.get("renderer") or "static"
    data["account"] = row.get("account") or DEFAULT_ACCOUNT
    return Video(**data)


def _endpoint_row(endpoint: Endpoint) -> dict[str, Any]:
    row = dict(endpoint.__dict__)
    row["events"] = None if endpoint.events is None else json.dumps(endpoint.events)
    return row


def _endpoint_from(row: dict[str, Any]) -> Endpoint:
    events = None if row["events"] is None else json.loads(row["events"])
    return Endpoint(
        endpoint_id=row["endpoint_id"],
        url=row["url"],
        events=events,
        secret=row["secret"],
        status=row["status"],
        created_at=row["created_at"],
        account=row.get("account") or DEFAULT_ACCOUNT,
    )
