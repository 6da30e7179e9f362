"""The benchmark's runs. Each starts fresh processes, drives them, and returns raw data.

A *flight* submits videos through Slack exactly as users would (signed view submissions),
optionally fires /heygen and typeahead requests while they render, and waits until every
video has its final thread reply. *Headroom* seeds 10,000 videos already in flight (as a
restarted bot finds them) and watches the poller keep up in real time.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import threading
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from bot.jobs import PENDING, Job, new_job_id
from bot.schedule import Schedule
from bot.store import SqliteStore
from tests.pg import PgServer, start_server

from . import workload
from .world import (
    Child,
    Sandbox,
    StartedBot,
    bot_env,
    database_bytes,
    free_port,
    most_overdue,
    read_jobs,
    shift_checks,
    slack_calls,
    start_bot,
    start_fake_slack,
    start_sandbox,
)

NAIVE_EVERY = 5.0  # the naive poller asks about each video every 5 s (real time)
CREATE_PATHS = {"v3": "/v3/videos", "v2": "/v2/video/generate"}
SCRIPT_LIMITS = {"v3": 5000, "v2": 1500}


@dataclass(frozen=True)
class Flight:
    """One flight: which API, how many videos, how much time is compressed, what else."""

    name: str
    version: str
    videos: int
    scale: float  # scaled seconds per real second of HeyGen time (1/60: an hour in a minute)
    webhooks: bool = False
    load: int = 0  # /heygen commands to fire while the videos render, and as many typeaheads
    load_rate: float = 50.0  # requests per second, both kinds together
    submit_rate: float = 50.0  # view submissions per second
    naive_live: bool = False  # also run a real naive poller beside the bot
    avatars: int = 5000
    voices: int = 2000
    seed: int = 1
    uploads: bool = False  # True: UPLOAD_MAX_MB at its default, each mp4 goes to Slack
    video_mb: float = 0  # pad each mp4 to this size (the sandbox's `[sandbox:size:MB]`)
    postgres: bool = False  # DATABASE_URL: a throwaway PostgreSQL instead of the SQLite file
    replicas: int = 1  # bot processes on the one database; Slack requests go round robin


def scaled_settings(scale: float, version: str, webhook_secret: str | None) -> dict[str, Any]:
    """The bot's defaults with every duration (and so every rate) scaled like the clock."""
    settings: dict[str, Any] = {
        "HEYGEN_API_VERSION": version,
        "POLL_INTERVAL_SECONDS": 10 * scale,
        "POLL_MAX_INTERVAL_SECONDS": 60 * scale,
        "JOB_TIMEOUT_SECONDS": 7200 * scale,
        "HEYGEN_RENDER_ESTIMATE_SECONDS": 300 * scale,
        "HEYGEN_MAX_RPS": 20 / scale,
    }
    if webhook_secret:
        settings["HEYGEN_WEBHOOK_SECRET"] = webhook_secret
    return settings


class Sampler(threading.Thread):
    """Every `period`: drain the sandbox's request log, note the most overdue check and RSS."""

    def __init__(self, bot: StartedBot, sandbox: Sandbox, period: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.bot, self.sandbox, self.period = bot, sandbox, period
        self.samples: list[tuple[float, float, int, float]] = []  # at, overdue, in flight, rss
        self._halt = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=30) as client:
            while not self._halt.is_set():
                self.sample(client)
                self._halt.wait(self.period)
            self.sample(client)

    def sample(self, client: httpx.Client) -> None:
        self.sandbox.drain_requests(client)
        now = time.time()
        overdue, in_flight = most_overdue(self.bot.db_path, now)
        self.samples.append((now, overdue, in_flight, self.bot.child.rss_mb()))

    def stop(self) -> None:
        self._halt.set()
        self.join(30)


@dataclass
class Processes:
    slack: Child
    sandbox: Child
    bot: StartedBot | None = None
    extra: list[Child] = field(default_factory=list)

    def stop(self) -> None:
        bot = self.bot.child if self.bot else None
        for child in (*self.extra, bot, self.sandbox, self.slack):
            if child:
                child.stop()


def run_flight(flight: Flight, workdir: Path) -> dict[str, Any]:
    log_dir = workdir / flight.name
    log_dir.mkdir(parents=True, exist_ok=True)
    procs = Processes(
        start_fake_slack(log_dir),
        start_sandbox(log_dir, avatars=flight.avatars, voices=flight.voices),
    )
    sandbox = Sandbox(procs.sandbox.url)
    server = None
    try:
        port = free_port()
        secret = None
        if flight.webhooks:
            with httpx.Client(timeout=10) as client:
                hook = f"http://127.0.0.1:{port}/heygen/webhook"
                secret = sandbox.register_webhook(client, hook)
        settings = scaled_settings(flight.scale, flight.version, secret)
        db_path = log_dir / "bot.db"
        env = bot_env(procs.slack.url, sandbox.url, db_path, uploads=flight.uploads, **settings)
        if flight.postgres:
            server = _postgres()
            env["DATABASE_URL"] = server.new_database()
        procs.bot = start_bot(env, log_dir, port)
        others = [
            start_bot(env, log_dir, log_name=f"bot{n}.log") for n in range(1, flight.replicas)
        ]
        procs.extra = [bot.child for bot in others]
        data = asyncio.run(_drive(flight, [procs.bot, *others], sandbox, procs.slack.url))
        data["startup_seconds"] = procs.bot.startup_seconds
        data["peak_rss_mb"] = sum(b.child.peak_rss_mb() for b in [procs.bot, *others])
        data["database_bytes"] = database_bytes(procs.bot.db_path)
        data["settings"] = settings
        return data
    finally:
        procs.stop()
        if server is not None and callable(server.stop):
            server.stop()


class NoPostgres(RuntimeError):
    """A PostgreSQL flight found no server; the run skips it and says why."""


def _postgres() -> PgServer:
    """TEST_DATABASE_URL's server, else a throwaway cluster (Debian's postgresql package)."""
    server, why_not = start_server()
    if server is None:
        raise NoPostgres(why_not)
    return server


async def _drive(flight: Flight, bots: list[StartedBot], sandbox: Sandbox, slack_url: str) -> dict:
    rng = random.Random(flight.seed)
    cat = workload.catalog(flight.avatars, flight.voices)
    bot = bots[0]
    events = [b.child.url + "/slack/events" for b in bots]
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        for url in events:  # every replica answers typeahead from a loaded catalog
            await _catalog_ready(client, url)
        sampler = Sampler(bot, sandbox)
        sampler.start()
        naive_stop = asyncio.Event()
        naive = (
            asyncio.create_task(_naive_poller(client, sandbox, flight, naive_stop))
            if flight.naive_live
            else None
        )
        limit = SCRIPT_LIMITS[flight.version]
        orders = workload.orders(flight.videos, flight.scale, rng, limit)
        if flight.video_mb:
            marker = f" [sandbox:size:{flight.video_mb:g}]"
            orders = [workload.Order(o.script + marker, o.render_seconds) for o in orders]
        began = time.time()
        submits = await workload.fire(
            client,
            events,
            [
                ("submit", partial(workload.submission, o, cat, rng, i))
                for i, o in enumerate(orders)
            ],
            flight.submit_rate,
        )
        submitted = time.time()
        await _until(
            lambda: _created(sandbox, flight.version) >= flight.videos,
            120,
            what=lambda: f"{_created(sandbox, flight.version)} of {flight.videos} videos created",
        )
        all_created = time.time()
        load: list[workload.Timed] = []
        load_window = (all_created, all_created)
        if flight.load:
            kinds = []
            for _ in range(flight.load):
                kinds.append(("command", partial(workload.command, rng)))
                kinds.append(("typeahead", partial(workload.typeahead, cat, rng)))
            load = await workload.fire(client, events, kinds, flight.load_rate)
            load_window = (all_created, time.time())
        longest = max(o.render_seconds for o in orders) * flight.scale
        await _until(
            lambda: _results(slack_url) >= flight.videos, timeout=longest * 2.5 + 60, period=0.5
        )
        done = time.time()
        naive_stop.set()
        naive_counts = await naive if naive else None
        sampler.stop()
    with httpx.Client(timeout=60) as client:
        sandbox.drain_requests(client)
        videos = sandbox.videos(client)
        calls = slack_calls(client, slack_url)
    return {
        "flight": flight.__dict__,
        "times": {
            "began": began,
            "submitted": submitted,
            "all_created": all_created,
            "load_window": load_window,
            "done": done,
        },
        "submits": submits,
        "load": load,
        "requests": sandbox.requests,
        "videos": videos,
        "jobs": read_jobs(bot.db_path),
        "slack": calls,
        "samples": sampler.samples,
        "naive_counts": naive_counts,
    }


async def _catalog_ready(client: httpx.AsyncClient, url: str, timeout: float = 120) -> None:
    """Wait until typeahead answers from a loaded catalog (the bot fetches it at start)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        request = workload.sr.block_suggestion("voice", "voice", "")
        answer = await client.post(url, content=request.body, headers=request.headers)
        if answer.status_code == 200 and answer.json().get("options"):
            return
        await asyncio.sleep(0.2)
    raise RuntimeError("the bot's catalog did not load in time")


async def _until(
    predicate: Any, timeout: float, period: float = 0.1, what: Any = lambda: "a step"
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await asyncio.to_thread(predicate):
            return
        await asyncio.sleep(period)
    raise RuntimeError(f"benchmark timed out waiting: {what()}")


def _created(sandbox: Sandbox, version: str) -> int:
    path = CREATE_PATHS[version]
    return sum(
        1
        for e in list(sandbox.requests)
        if e["method"] == "POST" and e["path"] == path and e["status"] == 200
    )


def _results(slack_url: str) -> int:
    with httpx.Client(timeout=30) as client:
        calls = slack_calls(client, slack_url)
    return len({c["job_id"] for c in calls if c["kind"] == "result"})


async def _naive_poller(
    client: httpx.AsyncClient, sandbox: Sandbox, flight: Flight, stop: asyncio.Event
) -> dict[str, int]:
    """A naive poller beside the bot: every video, every 5 s (scaled), until it is done.

    Its requests carry `bench=naive` so they are not counted as the bot's.
    """
    counts: dict[str, int] = {}
    tasks: list[asyncio.Task] = []
    every = NAIVE_EVERY * flight.scale

    async def follow(video_id: str, created_at: float) -> None:
        counts[video_id] = 0
        at = created_at
        while True:
            at += every
            await asyncio.sleep(max(0.0, at - time.time()))
            counts[video_id] += 1
            if flight.version == "v2":
                params = {"video_id": video_id, "bench": "naive"}
                answer = await client.get(
                    f"{sandbox.url}/v1/video_status.get", params=params, headers=sandbox.headers()
                )
            else:
                answer = await client.get(
                    f"{sandbox.url}/v3/videos/{video_id}",
                    params={"bench": "naive"},
                    headers=sandbox.headers(),
                )
            if answer.json()["data"]["status"] in ("completed", "failed"):
                return

    while not stop.is_set() or any(not t.done() for t in tasks):
        answer = await client.get(f"{sandbox.url}/_sandbox/videos")
        for video in answer.json()["videos"]:
            if video["id"] not in counts:
                counts[video["id"]] = 0
                tasks.append(asyncio.create_task(follow(video["id"], video["created_at"])))
        await asyncio.sleep(0.05)
    return counts


# Headroom: many videos already in flight.


@dataclass(frozen=True)
class Headroom:
    name: str
    videos: int
    window: float  # seconds of real time to watch
    seed: int = 2


def run_headroom(run: Headroom, workdir: Path) -> dict[str, Any]:
    """10,000 videos in flight at real speed, with the bot's default settings."""
    log_dir = workdir / run.name
    log_dir.mkdir(parents=True, exist_ok=True)
    procs = Processes(start_fake_slack(log_dir), start_sandbox(log_dir, avatars=40, voices=30))
    sandbox = Sandbox(procs.sandbox.url)
    rng = random.Random(run.seed)
    try:
        db_path = log_dir / "bot.db"
        seeded_at = time.time()
        seeded = asyncio.run(_seed(run, sandbox, db_path, rng))
        with httpx.Client(timeout=30) as client:
            sandbox.drain_requests(client)
        sandbox.requests.clear()
        # Checks were planned when seeding began: move them to the bot's start, so that
        # the time seeding took is not counted against the poller.
        shift_checks(db_path, time.time() - seeded_at)
        # Every other setting at its default, and the opt-in render estimate on.
        settings = {"HEYGEN_API_VERSION": "v3", "HEYGEN_RENDER_ESTIMATE_SECONDS": 300}
        env = bot_env(procs.slack.url, sandbox.url, db_path, **settings)
        procs.bot = start_bot(env, log_dir)
        sampler = Sampler(procs.bot, sandbox, period=0.5)
        began = time.time()
        sampler.start()
        time.sleep(run.window)
        sampler.stop()
        ended = time.time()
        with httpx.Client(timeout=120) as client:
            videos = sandbox.videos(client)
        return {
            "run": run.__dict__,
            "seeded_seconds": seeded,
            "window": (began, ended),
            "requests": sandbox.requests,
            "videos": videos,
            "samples": sampler.samples,
            "jobs": read_jobs(db_path),
            "peak_rss_mb": procs.bot.child.peak_rss_mb(),
            "startup_seconds": procs.bot.startup_seconds,
            "database_bytes": database_bytes(db_path),
            "defaults": {"POLL_INTERVAL_SECONDS": 10.0, "HEYGEN_MAX_RPS": 20.0},
        }
    finally:
        procs.stop()


async def _seed(run: Headroom, sandbox: Sandbox, db_path: Path, rng: random.Random) -> float:
    """Create the videos in the sandbox and the matching jobs in the bot's database.

    Each video is somewhere in its render (steady state), and its next check is where the
    bot's own schedule would have put it, so the bot starts as if it had been running.
    """
    started = time.time()
    schedule = Schedule(shortest=10, longest=60, timeout=7200, estimate=300)
    plans = []
    for _ in range(run.videos):
        words = rng.randint(20, 300)
        total = workload.render_seconds(words, rng)
        age = rng.uniform(0, total * 0.95)
        text = " ".join(rng.choice(workload.WORDS) for _ in range(words))
        plans.append((text, total, age))
    cat = workload.catalog(40, 30)
    avatar_id, voice_id = cat.avatar_ids[0], cat.voice_ids[0]
    limits = httpx.Limits(max_connections=16)
    ids: list[str] = [""] * len(plans)
    gate = asyncio.Semaphore(16)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:

        async def create(i: int, text: str, total: float, age: float) -> None:
            body = {
                "type": "avatar",
                "avatar_id": avatar_id,
                "voice_id": voice_id,
                "script": f"{text} [sandbox:render:{total - age:.3f}]",
            }
            headers = {**sandbox.headers(), "Idempotency-Key": f"seed-{run.seed}-{i}"}
            for attempt in range(5):  # a kept-alive connection may be closed under us
                try:
                    async with gate:
                        answer = await client.post(
                            f"{sandbox.url}/v3/videos", json=body, headers=headers
                        )
                    break
                except httpx.TransportError:
                    if attempt == 4:
                        raise
                    await asyncio.sleep(0.1)
            answer.raise_for_status()
            ids[i] = answer.json()["data"]["video_id"]

        await asyncio.gather(*(create(i, *p) for i, p in enumerate(plans)))
    store = SqliteStore(str(db_path))
    now = started
    for (text, _total, age), video_id in zip(plans, ids, strict=True):
        submitted = now - age
        expected = schedule.expected_render(text)
        first = submitted + schedule.first_wait(expected)
        due = first if first > now else now + rng.uniform(0, schedule.wait_after(age))
        store.add_job(
            Job(
                id=new_job_id(),
                team_id="T0001",
                channel_id="C0CHAN",
                user_id="U0USER",
                api_version="v3",
                avatar_id=avatar_id,
                avatar_name=avatar_id,
                voice_id=voice_id,
                voice_name=voice_id,
                script=text,
                status=PENDING,
                parent_ts=f"{submitted:.6f}",
                video_id=video_id,
                created_at=submitted,
                submitted_at=submitted,
                next_check_at=due,
                check_interval=due - now,
            )
        )
    for item in store.pending_outbox(time.time() + 1, limit=run.videos + 10):
        store.mark_sent(item, item.job_id)  # as if announced before the restart
    store.close()
    return time.time() - started


def run_startups(count: int, workdir: Path) -> list[float]:
    """Cold starts of `python -m bot` (fresh database) until /healthz answers 200."""
    log_dir = workdir / "startup"
    log_dir.mkdir(parents=True, exist_ok=True)
    procs = Processes(start_fake_slack(log_dir), start_sandbox(log_dir, avatars=40, voices=30))
    times = []
    try:
        for i in range(count):
            with tempfile.TemporaryDirectory() as tmp:
                env = bot_env(procs.slack.url, procs.sandbox.url, Path(tmp) / f"bot{i}.db")
                bot = start_bot(env, log_dir)
                times.append(bot.startup_seconds)
                bot.child.stop()
    finally:
        procs.stop()
    return times
