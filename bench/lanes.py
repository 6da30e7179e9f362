"""Issue 11's runs: one job's slow work must not hold up another's, and Slack's rate limits
cost neither CPU nor calls.

- *Independence*: channel A's video is large and its download slow (the sandbox's
  `[sandbox:size:MB]` and `[sandbox:throttle:BYTES]` markers); while it streams to Slack,
  short videos in channel B finish. Their notify lag is compared with the same videos
  without the slow transfer; the bot's memory and `/healthz` are sampled during it.
- *Rate limits*: (a) Slack answers every `chat.postMessage`/`chat.update` with 429 and a
  long Retry-After while results are due behind them: the bot's CPU over the wait;
  (b) many videos queued behind HeyGen's render-slot limit: `chat.update` calls per video;
  (c) a fake that enforces Slack's per-channel `chat.postMessage` pace: the 429s provoked.

Every run uses the bot's defaults (uploads on) except where its settings say otherwise;
the settings each run used are returned with its data and printed in the report.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bot.playground import inbound as sr
from tests.flows import form_values

from . import workload
from .scenarios import Processes, _catalog_ready, _until, scaled_settings
from .world import (
    Child,
    Sandbox,
    bot_env,
    configure_slack,
    cpu_seconds,
    free_port,
    slack_calls,
    start_bot,
    start_fake_slack,
    start_sandbox,
)

MB = 1024 * 1024
CHANNEL_A, CHANNEL_B = "C0SLOWAAA", "C0OTHERBB"
AVATARS, VOICES = 40, 30


@dataclass(frozen=True)
class Independence:
    """A slow transfer in channel A while channel B's videos finish."""

    name: str
    size_mb: float  # channel A's video
    transfers: tuple[float, ...]  # seconds each slow transfer should take (one phase each)
    b_videos: int  # channel B's videos per phase
    b_render: float = 1.0  # seconds each of B's videos renders


@dataclass(frozen=True)
class RateLimits:
    """Slack's 429s and HeyGen's render-slot limit, at the sizes given."""

    name: str
    wait_retry_after: float  # (a) Retry-After of the 429s, seconds
    wait_videos: int  # (a) videos whose messages are due behind the 429s
    queued_videos: int  # (b) videos queued behind the render-slot limit
    render_slots: int  # (b) the sandbox's SANDBOX_CONCURRENCY
    queued_render: float  # (b) seconds each queued video renders
    paced_videos: int  # (c) videos in one channel with Slack's per-channel pace enforced
    pace_rate: float = 1.0  # (c) chat.postMessage per second per channel
    pace_burst: float = 3.0  # (c) short burst allowed


# Shared plumbing: a fresh world per run, videos submitted in a chosen channel.


class World:
    """Fake Slack, sandbox (webhooks on, so a finish is seen at once) and the bot."""

    def __init__(self, log_dir: Path, *, slots: int = 1_000_000, **settings: Any) -> None:
        log_dir.mkdir(parents=True, exist_ok=True)
        self.procs = Processes(
            start_fake_slack(log_dir),
            start_sandbox(log_dir, avatars=AVATARS, voices=VOICES, concurrency=slots),
        )
        try:
            self.sandbox = Sandbox(self.procs.sandbox.url)
            port = free_port()
            with httpx.Client(timeout=10) as client:
                secret = self.sandbox.register_webhook(
                    client, f"http://127.0.0.1:{port}/heygen/webhook"
                )
            self.settings = {"HEYGEN_WEBHOOK_SECRET": "(registered)", **settings}
            env = bot_env(
                self.procs.slack.url,
                self.sandbox.url,
                log_dir / "bot.db",
                uploads=True,
                HEYGEN_WEBHOOK_SECRET=secret,
                **settings,
            )
            self.bot = self.procs.bot = start_bot(env, log_dir, port)
        except BaseException:
            self.procs.stop()
            raise
        self.slack_url = self.procs.slack.url
        self.events = self.bot.child.url + "/slack/events"
        self.cat = workload.catalog(AVATARS, VOICES)
        self._n = 0

    @property
    def child(self) -> Child:
        return self.bot.child

    def calls(self) -> list[dict[str, Any]]:
        with httpx.Client(timeout=60) as client:
            return slack_calls(client, self.slack_url)

    def configure(self, **config: Any) -> None:
        with httpx.Client(timeout=10) as client:
            configure_slack(client, self.slack_url, **config)

    async def submit(self, client: httpx.AsyncClient, channel: str, script: str) -> None:
        """One video, asked for in `channel` through the modal, as a user would."""
        self._n += 1
        meta = json.dumps({"channel_id": channel, "thread_ts": None})
        values = form_values(self.cat.avatar_ids[0], self.cat.voice_ids[0], script, post_to=channel)
        request = sr.view_submission(
            "heygen_create", values, private_metadata=meta, user_id=f"U{self._n % 50:04d}"
        )
        answer = await client.post(self.events, content=request.body, headers=request.headers)
        if answer.status_code != 200 or b"response_action" in answer.content:
            raise RuntimeError(f"submission refused: {answer.status_code} {answer.text[:200]}")

    def videos(self) -> dict[str, dict[str, Any]]:
        with httpx.Client(timeout=60) as client:
            return {v["id"]: v for v in self.sandbox.videos(client)}

    def jobs(self) -> dict[str, dict[str, Any]]:
        conn = sqlite3.connect(f"file:{self.bot.db_path}?mode=ro", uri=True, timeout=10)
        conn.row_factory = sqlite3.Row
        try:
            rows = conn.execute(
                "select id, channel_id, video_id, status, finished_at from jobs"
            ).fetchall()
        finally:
            conn.close()
        return {r["id"]: dict(r) for r in rows}

    def stop(self) -> None:
        self.procs.stop()


def _results(calls: list[dict[str, Any]]) -> dict[str, float]:
    """Each job's first accepted thread reply: job id → arrival time at the fake."""
    seen: dict[str, float] = {}
    for c in calls:
        if c["kind"] == "result" and c.get("status", 200) == 200 and c["job_id"] not in seen:
            seen[c["job_id"]] = c["at"]
    return seen


def _count(calls: list[dict[str, Any]], method: str, status: int | None = None) -> int:
    return sum(
        1 for c in calls if c["method"] == method and (status is None or c["status"] == status)
    )


class Watcher(threading.Thread):
    """Every 0.2 s: the bot's resident memory and what `/healthz` answers."""

    def __init__(self, child: Child) -> None:
        super().__init__(daemon=True)
        self.child = child
        self.samples: list[tuple[float, float, int]] = []  # at, rss MiB, healthz status
        self._halt = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=5) as client:
            while not self._halt.is_set():
                try:
                    status = client.get(self.child.url + "/healthz").status_code
                except httpx.HTTPError:
                    status = 0
                self.samples.append((time.time(), self.child.rss_mb(), status))
                self._halt.wait(0.2)

    def stop(self) -> None:
        self._halt.set()
        self.join(10)


# 1. Independence.


def run_independence(run: Independence, workdir: Path) -> dict[str, Any]:
    world = World(workdir / run.name)
    try:
        phases = [asyncio.run(_phase(world, run, 0.0))]
        for seconds in run.transfers:
            phases.append(asyncio.run(_phase(world, run, seconds)))
        return {
            "run": run.__dict__,
            "phases": phases,
            "peak_rss_mb": world.child.peak_rss_mb(),
            "settings": world.settings,
        }
    finally:
        world.stop()


async def _phase(world: World, run: Independence, transfer: float) -> dict[str, Any]:
    """B's videos alone (transfer 0) or beside A's slow transfer of `transfer` seconds."""
    size = int(run.size_mb * MB)
    async with httpx.AsyncClient(timeout=30) as client:
        await _catalog_ready(client, world.events)
        before = world.calls()
        uploads_before = _count(before, "files.getUploadURLExternal")
        watcher = Watcher(world.child)
        watcher.start()
        began = time.time()
        rss_before = world.child.rss_mb()
        if transfer:
            rate = max(1, int(size / transfer))
            script = f"Slow one. [sandbox:render:0.5] [sandbox:size:{run.size_mb}]"
            await world.submit(client, CHANNEL_A, f"{script} [sandbox:throttle:{rate}]")
            await _until(
                lambda: _count(world.calls(), "files.getUploadURLExternal") > uploads_before,
                60,
                what=lambda: "channel A's upload to start",
            )
        started = time.time()
        spacing = max(transfer, 4.0) * 0.6 / run.b_videos
        for i in range(run.b_videos):
            await asyncio.sleep(max(0.0, started + i * spacing - time.time()))
            await world.submit(client, CHANNEL_B, f"Other {i}. [sandbox:render:{run.b_render}]")
        wanted = len(_results(before)) + run.b_videos + (1 if transfer else 0)
        await _until(
            lambda: len(_results(world.calls())) >= wanted and _uploads_done(world, size, transfer),
            transfer * 3 + 120,
            period=0.2,
            what=lambda: "the phase's results and uploads",
        )
        ended = time.time()
        watcher.stop()
    calls = world.calls()
    return {
        "transfer": transfer,
        "began": began,
        "started": started,
        "ended": ended,
        "rss_before": rss_before,
        "samples": watcher.samples,
        "calls": calls[len(before) :],
        "jobs": world.jobs(),
        "videos": world.videos(),
    }


def _uploads_done(world: World, size: int, transfer: float) -> bool:
    """Every upload begun has been completed; A's (if any) has all its bytes at the fake."""
    calls = world.calls()
    complete = _count(calls, "files.completeUploadExternal", 200)
    if complete < _count(calls, "files.getUploadURLExternal", 200):
        return False
    return not transfer or any(c["method"] == "upload" and c["bytes"] >= size for c in calls)


# 5. Rate limits.


def run_rate_limits(run: RateLimits, workdir: Path) -> dict[str, Any]:
    return {
        "run": run.__dict__,
        "wait": _wait_run(run, workdir / f"{run.name}-wait"),
        "coalesce": _coalesce_run(run, workdir / f"{run.name}-queue"),
        "pace": _pace_run(run, workdir / f"{run.name}-pace"),
    }


def _in_world(world: World, scenario: Any, run: RateLimits) -> dict[str, Any]:
    """Run one rate-limit scenario against `world`, then stop it; the figures and settings."""
    try:
        return asyncio.run(scenario(world, run)) | {"settings": world.settings}
    finally:
        world.stop()


def _wait_run(run: RateLimits, log_dir: Path) -> dict[str, Any]:
    """(a) Results due behind a 429 with a long Retry-After: CPU while the bot only waits."""
    return _in_world(World(log_dir), _wait, run)


async def _wait(world: World, run: RateLimits) -> dict[str, Any]:
    methods = ["chat.postMessage", "chat.update"]
    throttle = {
        "methods": methods,
        "until": time.time() + 3600,
        "retry_after": run.wait_retry_after,
    }
    async with httpx.AsyncClient(timeout=30) as client:
        await _catalog_ready(client, world.events)
        world.configure(throttle=throttle)
        for i in range(run.wait_videos):
            await world.submit(client, sr.CHANNEL_ID, f"Wait {i}. [sandbox:render:0.5]")
        first = await _first_429(world)
        await _until(
            lambda: sum(1 for j in world.jobs().values() if j["finished_at"]) >= run.wait_videos,
            60,
            what=lambda: "the videos to finish",
        )
        await asyncio.sleep(1.0)  # let the finishes' own work settle
        t0, c0 = time.time(), cpu_seconds(world.child.popen.pid)
        n0 = len(world.calls())
        await asyncio.sleep(max(1.0, first + run.wait_retry_after - 1.0 - time.time()))
        t1, c1 = time.time(), cpu_seconds(world.child.popen.pid)
        during = world.calls()[n0:]
        world.configure(throttle=None)
        delivered_by = time.time() + run.wait_retry_after * 4 + 60
        while time.time() < delivered_by and len(_results(world.calls())) < run.wait_videos:
            await asyncio.sleep(0.5)
    calls = world.calls()
    return {
        "window": t1 - t0,
        "cpu_seconds": c1 - c0,
        "calls_in_window": len(during),
        "refused": sum(1 for c in calls if c["status"] == 429),
        "delivered": len(_results(calls)),
        "videos": run.wait_videos,
        "retry_after": run.wait_retry_after,
    }


async def _first_429(world: World, timeout: float = 60) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        hit = next((c["at"] for c in world.calls() if c["status"] == 429), None)
        if hit:
            return hit
        await asyncio.sleep(0.1)
    raise RuntimeError("the bot made no Slack call that could be refused")


def _coalesce_run(run: RateLimits, log_dir: Path) -> dict[str, Any]:
    """(b) Videos queued behind HeyGen's render-slot limit: chat.update calls per video."""
    # The default policy on a clock ten times faster (like the flights), so the queue
    # retries its head after 1 s instead of 10 s.
    settings = {
        k: v for k, v in scaled_settings(1 / 10, "v3", None).items() if k != "HEYGEN_API_VERSION"
    }
    return _in_world(World(log_dir, slots=run.render_slots, **settings), _coalesce, run)


async def _coalesce(world: World, run: RateLimits) -> dict[str, Any]:
    n = run.queued_videos
    async with httpx.AsyncClient(timeout=30) as client:
        await _catalog_ready(client, world.events)
        began = time.time()
        for i in range(n):
            await world.submit(
                client, sr.CHANNEL_ID, f"Queued {i}. [sandbox:render:{run.queued_render}]"
            )
            await asyncio.sleep(0.02)  # 50 a second, like the flights
        await _until(
            lambda: len(_results(world.calls())) >= n,
            n * run.queued_render / run.render_slots * 4 + 300,
            period=0.5,
            what=lambda: f"{len(_results(world.calls()))} of {n} queued videos' results",
        )
        done = time.time()
    calls = world.calls()
    parents = {
        c["answer_ts"]: c["job_id"] for c in calls if c["kind"] == "parent" and c["status"] == 200
    }
    updates = [c for c in calls if c["method"] == "chat.update" and c["at"] <= done]
    per_job: dict[str, int] = {}
    for c in updates:
        job = parents.get(c["ts"], "?")
        per_job[job] = per_job.get(job, 0) + 1
    return {
        "videos": n,
        "slots": run.render_slots,
        "seconds": done - began,
        "updates": len(updates),
        "updates_429": sum(1 for c in updates if c["status"] == 429),
        "max_per_video": max(per_job.values(), default=0),
        "delivered": len(_results(calls)),
    }


def _pace_run(run: RateLimits, log_dir: Path) -> dict[str, Any]:
    """(c) One channel, Slack's per-channel pace enforced: the 429s the bot provokes."""
    return _in_world(World(log_dir), _pace, run)


async def _pace(world: World, run: RateLimits) -> dict[str, Any]:
    n = run.paced_videos
    async with httpx.AsyncClient(timeout=30) as client:
        await _catalog_ready(client, world.events)
        world.configure(pace={"rate": run.pace_rate, "burst": run.pace_burst})
        began = time.time()
        for i in range(n):
            await world.submit(client, sr.CHANNEL_ID, f"Paced {i}. [sandbox:render:2]")
            await asyncio.sleep(0.02)
        finish_by = time.time() + n * 2 / run.pace_rate * 4 + 120
        while time.time() < finish_by and len(_results(world.calls())) < n:
            await asyncio.sleep(0.5)
        done = time.time()
    calls = world.calls()
    posts = [c for c in calls if c["method"] == "chat.postMessage"]
    parents = {c["job_id"] for c in posts if c["kind"] == "parent" and c["status"] == 200}
    return {
        "videos": n,
        "rate": run.pace_rate,
        "burst": run.pace_burst,
        "seconds": done - began,
        "posts": len(posts),
        "refused": sum(1 for c in posts if c["status"] == 429),
        "delivered": len(_results(calls)),
        "announced": len(parents),
    }


def describe(settings: dict[str, Any]) -> str:
    """The settings a run changed from the defaults, for the report."""
    shown = [f"`{k}={v:g}`" if isinstance(v, float) else f"`{k}={v}`" for k, v in settings.items()]
    return ", ".join(shown) or "all defaults"
