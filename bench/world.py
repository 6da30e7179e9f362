"""The processes a benchmark run needs, each on loopback: fake Slack, HeyGen sandbox, bot.

The bot is started exactly as an operator would (`python -m bot`, HTTP mode), so what is
measured is the shipped program; the fakes run in their own processes so their CPU use
shows up as contention (as it would on a shared host) but never inside the bot's figures.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg
from psycopg.rows import dict_row

from bot.playground.inbound import BOT_TOKEN, SIGNING_SECRET
from tests.harness import free_port

ROOT = Path(__file__).resolve().parent.parent
HEYGEN_KEY = "bench-heygen-key"
Database = Path | str  # a SQLite file, or a PostgreSQL URL


@dataclass
class Child:
    """One child process and where its output goes."""

    name: str
    popen: subprocess.Popen
    url: str
    log_path: Path

    def peak_rss_mb(self) -> float:
        """The kernel's high-water mark of resident memory (VmHWM), in MiB."""
        status = Path(f"/proc/{self.popen.pid}/status").read_text()
        line = next(x for x in status.splitlines() if x.startswith("VmHWM:"))
        return int(line.split()[1]) / 1024

    def rss_mb(self) -> float:
        status = Path(f"/proc/{self.popen.pid}/status").read_text()
        line = next(x for x in status.splitlines() if x.startswith("VmRSS:"))
        return int(line.split()[1]) / 1024

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)


def _spawn(name: str, args: list[str], env: dict[str, str], log_dir: Path) -> subprocess.Popen:
    log = (log_dir / f"{name}.log").open("ab")
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=log,
    )


def _announced_url(popen: subprocess.Popen, marker: str, timeout: float = 30) -> str:
    """Read stdout until the child prints the URL it listens on."""
    deadline = time.monotonic() + timeout
    assert popen.stdout is not None
    while time.monotonic() < deadline:
        line = popen.stdout.readline().decode()
        if not line and popen.poll() is not None:
            raise RuntimeError(f"child exited with {popen.returncode} before listening")
        if marker in line:
            return next(w for w in line.split() if w.startswith("http")).rstrip("/")
    raise RuntimeError("child did not announce its URL in time")


def start_fake_slack(log_dir: Path) -> Child:
    popen = _spawn("fake_slack", ["-m", "bench.fake_slack"], {}, log_dir)
    return Child("fake_slack", popen, _announced_url(popen, "listening"), log_dir / "slack.log")


def start_sandbox(
    log_dir: Path, *, avatars: int, voices: int, concurrency: int = 1_000_000
) -> Child:
    """The sandbox; `concurrency` is its render-slot limit (HeyGen's plan limit)."""
    env = {
        "SANDBOX_PORT": "0",
        "SANDBOX_API_KEY": HEYGEN_KEY,
        "SANDBOX_AVATARS": str(avatars),
        "SANDBOX_VOICES": str(voices),
        "SANDBOX_CONCURRENCY": str(concurrency),
        "SANDBOX_RENDER": "static",  # the bot is measured, not the sandbox's video encoder
    }
    popen = _spawn("sandbox", ["-m", "bot", "sandbox"], env, log_dir)
    return Child("sandbox", popen, _announced_url(popen, "listening"), log_dir / "sandbox.log")


def bot_env(
    slack_url: str, heygen_url: str, db_path: Path, *, uploads: bool = False, **settings: Any
) -> dict[str, str]:
    """The bot's environment. `uploads=False` sets `UPLOAD_MAX_MB=0` (the runs that measure
    polling and the thread reply); `uploads=True` leaves it at its default, as users get it."""
    env = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack_url + "/api/",
        "HEYGEN_API_URL": heygen_url,
        "HEYGEN_API_KEY": HEYGEN_KEY,
        "DATABASE_PATH": str(db_path),
        "LOG_LEVEL": "WARNING",
        # One benchmark "user" sends every job: the per-person limits would refuse most.
        "MAX_RUNNING_PER_USER": "1000000",
        "MAX_VIDEOS_PER_USER_PER_DAY": "1000000",
    }
    if not uploads:
        env["UPLOAD_MAX_MB"] = "0"  # the thread reply is measured; mp4 uploads are off
    return env | {k: str(v) for k, v in settings.items()}


@dataclass
class StartedBot:
    child: Child
    startup_seconds: float
    db_path: Database  # the SQLite file, or the PostgreSQL URL when DATABASE_URL is set


def start_bot(
    env: dict[str, str],
    log_dir: Path,
    port: int | None = None,
    timeout: float = 30,
    log_name: str = "bot.log",
) -> StartedBot:
    """`python -m bot`; returns once /healthz answers 200, with how long that took."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    log = (log_dir / log_name).open("ab")
    popen = subprocess.Popen(
        [sys.executable, "-m", "bot"],
        cwd=ROOT,
        env={**os.environ, **env, "PORT": str(port)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    with httpx.Client(timeout=1) as client:
        while time.monotonic() - started < timeout:
            if popen.poll() is not None:
                raise RuntimeError(f"bot exited with {popen.returncode}; see {log_dir}/{log_name}")
            with contextlib.suppress(httpx.HTTPError):
                if client.get(url + "/healthz").status_code == 200:
                    elapsed = time.monotonic() - started
                    child = Child("bot", popen, url, log_dir / log_name)
                    database = env.get("DATABASE_URL") or Path(env["DATABASE_PATH"])
                    return StartedBot(child, elapsed, database)
            time.sleep(0.005)
    popen.kill()
    raise RuntimeError("bot did not become healthy in time")


@dataclass
class Sandbox:
    """The sandbox's admin view: what it rendered, and every API request it saw."""

    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    _seq: int = 0

    def headers(self) -> dict[str, str]:
        return {"X-Api-Key": HEYGEN_KEY}

    def drain_requests(self, client: httpx.Client) -> list[dict[str, Any]]:
        """Fetch answered log entries newer than the last read (the log keeps only 10,000)."""
        fresh = client.get(f"{self.url}/_sandbox/requests", params={"after": self._seq}).json()
        new = fresh["requests"]
        unanswered = next((i for i, e in enumerate(new) if e["status"] is None), None)
        if unanswered is not None:
            new = new[:unanswered]  # read again next time, once answered
        if new:
            self._seq = new[-1]["seq"]
        self.requests.extend(new)
        return new

    def videos(self, client: httpx.Client) -> list[dict[str, Any]]:
        return client.get(f"{self.url}/_sandbox/videos", timeout=120).json()["videos"]

    def register_webhook(self, client: httpx.Client, url: str) -> str:
        body = {"url": url, "events": ["avatar_video.success", "avatar_video.fail"]}
        answer = client.post(f"{self.url}/v3/webhooks/endpoints", json=body, headers=self.headers())
        answer.raise_for_status()
        return answer.json()["data"]["secret"]


def slack_calls(client: httpx.Client, slack_url: str) -> list[dict[str, Any]]:
    return client.get(f"{slack_url}/_bench/calls", timeout=60).json()["calls"]


def configure_slack(client: httpx.Client, slack_url: str, **config: Any) -> None:
    """Switch the fake Slack's refusals (`throttle`, `pace`; see bench/fake_slack.py)."""
    client.post(f"{slack_url}/_bench/config", json=config).raise_for_status()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def read_jobs(db_path: Database) -> list[dict[str, Any]]:
    """The bot's jobs, read-only (WAL lets this run beside the bot's own writes)."""
    query = (
        "select id, video_id, status, script, submitted_at, finished_at, next_check_at,"
        " checks from jobs"
    )
    if isinstance(db_path, str):
        with psycopg.connect(db_path, row_factory=dict_row) as pg:
            return list(pg.execute(query))
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)
    conn.row_factory = sqlite3.Row
    try:
        rows = conn.execute(query).fetchall()
    finally:
        conn.close()
    return [dict(r) for r in rows]


def shift_checks(db_path: Path, seconds: float) -> None:
    """Move every planned check `seconds` later (seeding a big database takes a while)."""
    conn = sqlite3.connect(db_path, timeout=10)
    with conn:
        conn.execute("update jobs set next_check_at = next_check_at + ?", [seconds])
    conn.close()


def most_overdue(db_path: Database, now: float) -> tuple[float, int]:
    """How late the most overdue unfinished check is right now, and how many are in flight."""
    query = (
        "select max(? - next_check_at), count(*) from jobs"
        " where status in ('pending', 'processing')"
    )
    if isinstance(db_path, str):
        with psycopg.connect(db_path) as pg:
            row = pg.execute(query.replace("?", "%s::float8"), [now]).fetchone()
        return (row[0] or 0.0), row[1]
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)
    try:
        row = conn.execute(query, [now]).fetchone()
    finally:
        conn.close()
    return (row[0] or 0.0), row[1]


def database_bytes(db_path: Database) -> int:
    """The SQLite file plus its WAL, as it sits on disk (PostgreSQL: the database's size)."""
    if isinstance(db_path, str):
        with psycopg.connect(db_path) as pg:
            return int(pg.execute("select pg_database_size(current_database())").fetchone()[0])
    total = 0
    for suffix in ("", "-wal", "-shm"):
        path = Path(str(db_path) + suffix)
        if path.exists():
            total += path.stat().st_size
    return total
