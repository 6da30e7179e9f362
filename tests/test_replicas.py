"""Three bot processes on one PostgreSQL, one of them killed (-9) every few seconds.

Slack requests and HeyGen webhook deliveries go to a random live replica, as a load
balancer would send them (a refused connection is tried on another). However the kills
land, every video is created once at HeyGen and announced, answered and uploaded once
in Slack; nothing is lost; and HeyGen never sees more than HEYGEN_MAX_RPS requests in
any one second from all replicas together.
"""

from __future__ import annotations

import bisect
import contextlib
import json
import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from types import SimpleNamespace

import httpx
import psycopg
import pytest

from bot.playground import inbound as sr
from tests import flows
from tests.conftest import HEYGEN_KEY
from tests.harness import HTTP, ROOT, ProcessBot, bot_env, free_port, wait_until
from tests.reliability.test_webhooks import SECRET, SUCCESS, event, heygen_headers

VIDEOS = 100
REPLICAS = 3
MAX_RPS = 20
KILL_EVERY = 3.0  # seconds between kills while videos are in flight
# Slack takes about a message a second per conversation: ten channels keep the test short.
CHANNELS = [f"C0REPL{n}" for n in range(10)]


class Replicas:
    """The bot processes, each on its own fixed port (a pod keeps its address)."""

    def __init__(self, env: dict[str, str], tmp_path) -> None:
        self._lock = threading.Lock()
        self.bots = [
            ProcessBot({**env, "PORT": str(free_port())}, tmp_path / f"replica{n}.log")
            for n in range(REPLICAS)
        ]
        for bot in self.bots:
            bot.start()
        self.kills = 0

    def send(self, attempt: Callable[[ProcessBot], httpx.Response]) -> httpx.Response:
        """Like a load balancer: a random replica; a refused connection goes to another.

        An answer other than 200 (a replica killed mid-request, or still starting) is what
        Slack shows the person as an error, and they submit again: so does this.
        """
        for _ in range(200):
            with self._lock:
                bot = random.choice(self.bots)
            try:
                answer = attempt(bot)
            except httpx.TransportError:
                answer = None
            if answer is not None and answer.status_code == 200:
                return answer
            time.sleep(0.05)  # a beat before trying the next replica
        raise AssertionError("no replica answered")

    def kill_one(self) -> None:
        with self._lock:
            index = random.randrange(REPLICAS)
            self.bots[index].kill()
            self.kills += 1
        replacement = ProcessBot(self.bots[index].env, self.bots[index].log_path)
        replacement.start()
        with self._lock:
            self.bots[index] = replacement

    def stop(self) -> None:
        for bot in self.bots:
            bot.kill()


@pytest.mark.timeout(240)
@pytest.mark.parametrize(("api_version", "videos"), [("v3", VIDEOS), ("v2", 40)])
def test_replicas_share_the_work_exactly_once(slack, pg_url, tmp_path, api_version, videos):
    """v2 cannot de-duplicate a create: only the lease keeps a second replica from billing
    the video again (fewer videos: v2 has no bulk status call, each check is one request)."""
    with _sandbox_process(tmp_path) as sandbox:
        env = bot_env(
            slack.url,
            sandbox.url,
            str(tmp_path / "unused.db"),
            DATABASE_URL=pg_url,
            LEASE_SECONDS="2",
            HEYGEN_MAX_RPS=str(MAX_RPS),
            HEYGEN_WEBHOOK_SECRET=SECRET,
            POLL_INTERVAL_SECONDS="1",
            POLL_MAX_INTERVAL_SECONDS="2",
            HEYGEN_API_VERSION=api_version,
        )
        avatars, voices = flows.sandbox_catalog(sandbox.url, api_version)
        HTTP.delete(f"{sandbox.url}/_sandbox/requests")  # from here on, only the bots' requests
        replicas = Replicas(env, tmp_path)
        done = threading.Event()
        helpers = [
            threading.Thread(target=_keep_killing, args=(replicas, done), daemon=True),
            threading.Thread(target=_deliver_webhooks, args=(replicas, sandbox, done), daemon=True),
        ]
        try:
            for helper in helpers:
                helper.start()
            for n in range(videos):
                channel = CHANNELS[n % len(CHANNELS)]
                values = flows.form_values(
                    avatars[0]["id"], voices[0]["id"], f"Video {n}", post_to=channel
                )
                meta = json.dumps({"channel_id": channel, "thread_ts": None})
                request = sr.view_submission("heygen_create", values, private_metadata=meta)
                replicas.send(lambda bot, r=request: bot.send(r))
            if not _wait(lambda: _all_delivered(slack, videos), timeout=150):
                raise AssertionError(_what_is_missing(slack, pg_url))
        finally:
            done.set()
            for helper in helpers:
                helper.join(timeout=60)
            replicas.stop()
        assert replicas.kills >= 1
        _assert_exactly_once(slack, sandbox, videos)
        _assert_rate(sandbox)


@contextlib.contextmanager
def _sandbox_process(tmp_path) -> Iterator[SimpleNamespace]:
    """The HeyGen sandbox in a process of its own: the time it stamps on each request is
    when the request arrived, not when this test's threads let its event loop run."""
    port = free_port()
    env = {
        **os.environ,
        "SANDBOX_PORT": str(port),
        "SANDBOX_API_KEY": HEYGEN_KEY,
        "SANDBOX_RENDER": "static",
        "SANDBOX_RENDER_SECONDS": "1",
        "SANDBOX_CONCURRENCY": str(VIDEOS),
    }
    with (tmp_path / "sandbox.log").open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "sandbox"], cwd=ROOT, env=env, stdout=log, stderr=log
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _answers(url + "/_sandbox/videos"), message="the sandbox")
        yield SimpleNamespace(url=url)
    finally:
        proc.kill()
        proc.wait(10)


def _answers(url: str) -> bool:
    try:
        return HTTP.get(url).status_code == 200
    except httpx.TransportError:
        return False


def _wait(predicate: Callable[[], bool], timeout: float) -> bool:
    """Like wait_until, but looks twice a second: each look copies every Slack message."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.5)
    return False


def _keep_killing(replicas: Replicas, done: threading.Event) -> None:
    while not done.wait(KILL_EVERY):
        replicas.kill_one()


def _deliver_webhooks(replicas: Replicas, sandbox, done: threading.Event) -> None:
    """HeyGen's success events for finished videos, to random replicas, some twice."""
    delivered: set[str] = set()
    while not done.wait(0.5):
        videos = HTTP.get(f"{sandbox.url}/_sandbox/videos").json()["videos"]
        for video in videos:
            if video["status"] != "completed" or video["id"] in delivered:
                continue
            delivered.add(video["id"])
            body = event(SUCCESS, video["id"])
            headers = heygen_headers(body)
            for _ in range(random.choice((1, 2))):  # a redelivery goes to any replica
                replicas.send(
                    lambda bot, b=body, h=headers: httpx.post(
                        f"{bot.url}/heygen/webhook", content=b, headers=h, timeout=10
                    )
                )


def _threads(slack) -> dict[str, tuple[int, int]]:
    """(text replies, file replies) under each top-level post, from one snapshot."""
    messages = slack.messages()
    threads = {
        (m["channel"], m["ts"]): [0, 0] for m in messages if m.get("thread_ts") in (None, m["ts"])
    }
    for m in messages:
        parent = (m["channel"], m.get("thread_ts"))
        if parent in threads and m["ts"] != m["thread_ts"]:
            threads[parent][1 if m.get("files") else 0] += 1
    return {key: (texts, files) for key, (texts, files) in threads.items()}


def _what_is_missing(slack, url: str) -> str:
    threads = _threads(slack)
    with psycopg.connect(url) as conn:
        jobs = Counter(row[0] for row in conn.execute("select status from jobs"))
        unsent = conn.execute(
            "select job_id, kind, attempts, claimed_at, lease_owner, lease_until, last_error"
            " from outbox where sent_at is null"
        ).fetchall()
    short = {key: counts for key, counts in threads.items() if counts != (1, 1)}
    return f"posts {len(threads)}, incomplete {short}, jobs {dict(jobs)}, unsent {unsent}"


def _all_delivered(slack, videos: int) -> bool:
    threads = _threads(slack)
    return len(threads) >= videos and all(texts and files for texts, files in threads.values())


def _assert_exactly_once(slack, sandbox, videos: int) -> None:
    made = HTTP.get(f"{sandbox.url}/_sandbox/videos").json()["videos"]
    per_job = Counter(v["callback_id"] for v in made)
    assert len(per_job) == videos and set(per_job.values()) == {1}, "a video created twice"
    threads = _threads(slack)
    assert len(threads) == videos, "an announcement posted twice"
    assert set(threads.values()) == {(1, 1)}, "a result or an upload posted twice"


def _assert_rate(sandbox) -> None:
    """HeyGen's cap as a token bucket (MAX_RPS a second, bursts of up to half a second's
    worth), over the arrival times of API requests (media downloads aside).

    Arrival times carry scheduling jitter on a loaded machine (requests sent 60 ms apart
    can land together), which a bucket absorbs as HeyGen's own limiter would; replicas
    each taking the whole cap (3 x 20 a second) empty it within a second.
    """
    api = ("/v1/", "/v2/", "/v3/")
    sent = sorted(
        (e["at"], e["path"]) for e in flows.heygen_requests(sandbox) if e["path"].startswith(api)
    )
    assert sent
    burst = MAX_RPS / 2
    tokens, last = burst, sent[0][0]
    for n, (at, path) in enumerate(sent):
        tokens = min(burst, tokens + (at - last) * MAX_RPS) - 1
        last = at
        assert tokens >= 0, f"request {n} ({path}) over HeyGen's cap: {_busiest_second(sent)}"


def _busiest_second(sent: list[tuple[float, str]]) -> str:
    times = [at for at, _ in sent]
    counts = [bisect.bisect_left(times, t + 1.0) - i for i, t in enumerate(times)]
    busiest = max(counts)
    start = counts.index(busiest)
    return f"{busiest} in the busiest second: {[p for _, p in sent[start : start + busiest]]}"
