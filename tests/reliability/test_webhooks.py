"""Promise 6: HeyGen's webhook brings the reply at once, and only a signed one counts.

Polling is set to 30-60 s in these tests, so a reply before the first poll was due can
only come from the webhook; that is what the tests assert. How fast it came (well under a
second on a quiet machine) is recorded as a figure (`reply_ms_max`), not asserted: a loaded
machine may take longer, and no test controls that. Deliveries are either signed here,
exactly as HeyGen signs them, or sent by the sandbox to an endpoint registered through its
v3 API.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
import time
import uuid

import httpx
import pytest

from tests import flows
from tests.conftest import HEYGEN_KEY
from tests.flows import heygen_requests, job_rows
from tests.harness import ROOT, ProcessBot, bot_env, free_port, wait_until

SECRET = "whsec-test-5f0c2a9e"
SLOW_POLLING = {"POLL_INTERVAL_SECONDS": "30", "POLL_MAX_INTERVAL_SECONDS": "60"}
FIRST_POLL = float(SLOW_POLLING["POLL_INTERVAL_SECONDS"])
SUCCESS, FAIL, GIF = "avatar_video.success", "avatar_video.fail", "avatar_video_gif.success"


def event(event_type: str, video_id: str) -> bytes:
    data = {"video_id": video_id, "callback_id": "job"}
    data |= {"url": "https://example.com/v.mp4"} if event_type != FAIL else {"msg": "failed"}
    return json.dumps({"event_type": event_type, "event_data": data}).encode()


def heygen_headers(
    body: bytes, *, secret: str = SECRET, event_id: str | None = None, at: float | None = None
) -> dict[str, str]:
    """What HeyGen sends: hex HMAC-SHA256 of the raw body, a timestamp, an event id."""
    return {
        "Content-Type": "application/json",
        "Heygen-Signature": hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(),
        "Heygen-Timestamp": str(int(at if at is not None else time.time())),
        "Heygen-Event-Id": event_id or uuid.uuid4().hex,
    }


def deliver(bot, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{bot.url}/heygen/webhook", content=body, headers=headers, timeout=5)


def status_checks(sandbox, video_id: str) -> int:
    """How often the bot asked HeyGen for this video's state (v3 or v2 route)."""
    return sum(
        1
        for e in heygen_requests(sandbox, "GET")
        if e["path"] == f"/v3/videos/{video_id}"
        or (e["path"] == "/v1/video_status.get" and e["query"].get("video_id") == video_id)
    )


def start_job(bot, sandbox_url: str, version: str, script: str) -> dict:
    """Submit the modal; return the job once HeyGen accepted it and its parent is posted."""
    avatars, voices = flows.sandbox_catalog(sandbox_url, version)
    avatar, voice = avatars[0]["id"], voices[0]["id"]
    before = {r["id"] for r in job_rows(bot)}
    flows.submit_form(bot, flows.form_values(avatar, voice, script))
    return wait_until(
        lambda: next(
            (
                r
                for r in job_rows(bot)
                if r["id"] not in before and r["video_id"] and r["parent_ts"]
            ),
            None,
        ),
        message="the job to reach HeyGen",
    )


def force(sandbox, video_id: str, outcome: str, **body: str) -> None:
    url = f"{sandbox.url}/_sandbox/videos/{video_id}/{outcome}"
    httpx.post(url, json=body or None).raise_for_status()


def reply_call(slack, parent_ts: str, timeout: float = 25.0):
    return slack.wait_for(
        "chat.postMessage", lambda c: c.params.get("thread_ts") == parent_ts, timeout=timeout
    )[0]


def row(bot, job_id: str) -> dict:
    return next(r for r in job_rows(bot) if r["id"] == job_id)


def assert_before_any_poll(reply, job: dict) -> None:
    """The reply came before the poller's first look was due, so the webhook brought it."""
    submitted = job["submitted_at"]
    assert reply.at < submitted + FIRST_POLL, f"reply {reply.at - submitted:.2f}s after submit"


def test_only_signed_fresh_events_count_and_one_brings_the_reply_fast(
    make_bot, sandbox, slack, api_version, figures
) -> None:
    bot = make_bot(HEYGEN_API_VERSION=api_version, HEYGEN_WEBHOOK_SECRET=SECRET, **SLOW_POLLING)
    assert httpx.options(f"{bot.url}/heygen/webhook").status_code == 200
    job = start_job(bot, sandbox.url, api_version, "Hello [sandbox:stall]")
    video = job["video_id"]
    force(sandbox, video, "complete")  # done at HeyGen; no endpoint registered, so no event
    checks = status_checks(sandbox, video)

    body = event(SUCCESS, video)
    good = heygen_headers(body)
    unsigned = {k: v for k, v in good.items() if k != "Heygen-Signature"}
    forged = [
        ("wrong secret", body, heygen_headers(body, secret="not-the-secret")),
        ("no signature", body, unsigned),
        ("empty signature", body, {**good, "Heygen-Signature": ""}),
        ("stale timestamp", body, heygen_headers(body, at=time.time() - 400)),
        ("future timestamp", body, heygen_headers(body, at=time.time() + 400)),
        ("garbage timestamp", body, {**good, "Heygen-Timestamp": "yesterday"}),
        ("tampered body", event(SUCCESS, video + "x"), good),
        ("signature of nothing", b"", good),
    ]
    for name, sent, headers in forged:
        assert deliver(bot, sent, headers).status_code == 401, name
    time.sleep(0.5)
    assert status_checks(sandbox, video) == checks  # a forged event does not even cause a GET
    assert flows.text_replies(slack, job["parent_ts"]) == []
    assert row(bot, job["id"])["status"] in ("pending", "processing")

    sent_at = time.time()
    answer = deliver(bot, body, good)
    assert answer.status_code == 200 and answer.json() == {"ok": True}
    reply = reply_call(slack, job["parent_ts"])
    assert_before_any_poll(reply, job)
    assert "ready" in reply.params["text"]
    assert row(bot, job["id"])["status"] == "completed"
    figures(
        deliveries=len(forged) + 1,
        bad_signatures=len(forged),
        reply_ms_max=round((reply.at - sent_at) * 1000),
    )


def test_duplicate_early_and_out_of_order_events_are_harmless(
    make_bot, sandbox, slack, figures
) -> None:
    bot = make_bot(HEYGEN_API_VERSION="v3", HEYGEN_WEBHOOK_SECRET=SECRET, **SLOW_POLLING)
    job = start_job(bot, sandbox.url, "v3", "Hello [sandbox:stall]")
    video, parent = job["video_id"], job["parent_ts"]

    def send(event_type: str, event_id: str, video_id: str = video) -> None:
        body = event(event_type, video_id)
        assert deliver(bot, body, heygen_headers(body, event_id=event_id)).status_code == 200

    send(SUCCESS, "early")  # claims success while HeyGen is still rendering
    wait_until(lambda: status_checks(sandbox, video) == 1, message="the bot to look")
    time.sleep(0.3)
    assert flows.text_replies(slack, parent) == []
    assert row(bot, job["id"])["status"] in ("pending", "processing")

    force(sandbox, video, "fail", code="CONTENT_MODERATION")  # the truth: it failed
    for _ in range(3):
        send(SUCCESS, "late-success")  # out of order, wrong, and redelivered
    for _ in range(2):
        send(FAIL, "the-fail")
    send(GIF, "gif")  # another event type: acknowledged, ignored
    send(SUCCESS, "stranger", video_id="not-our-video")
    reply = reply_call(slack, parent)
    wait_until(lambda: status_checks(sandbox, video) >= 3, message="a look per event id")
    time.sleep(1.0)  # a second reply or a fourth look would come by now

    assert [m["ts"] for m in flows.text_replies(slack, parent)] == [reply.response["ts"]]
    assert "could not make this video" in json.dumps(reply.params["blocks"])
    assert row(bot, job["id"])["status"] == "failed"
    assert row(bot, job["id"])["failure_code"] == "CONTENT_MODERATION"
    assert status_checks(sandbox, video) == 3  # one look per distinct event id, no more
    broken = b'{"event_type": "avatar_video.success", "event_data": '
    assert deliver(bot, broken, heygen_headers(broken)).status_code == 400
    figures(deliveries=9, duplicates=3, out_of_order=4, ignored=2, malformed=1)


def test_webhook_and_poller_racing_still_reply_once(make_bot, sandbox, slack, figures) -> None:
    hooks = f"{sandbox.url}/v3/webhooks/endpoints"
    key = {"X-Api-Key": HEYGEN_KEY}
    created = httpx.post(hooks, headers=key, json={"url": "https://later.invalid/hook"}).json()
    endpoint = created["data"]
    bot = make_bot(HEYGEN_WEBHOOK_SECRET=endpoint["secret"])  # polls every 0.2-0.5 s too
    patched = httpx.patch(
        f"{hooks}/{endpoint['endpoint_id']}", headers=key, json={"url": f"{bot.url}/heygen/webhook"}
    )
    patched.raise_for_status()
    jobs = [start_job(bot, sandbox.url, "v3", f"Race {n} [sandbox:render:0.5]") for n in range(4)]
    for job in jobs:
        reply_call(slack, job["parent_ts"])
    ids = {j["video_id"] for j in jobs}
    ours = wait_until(  # success and the GIF event for each video, each answered
        lambda: (
            len(found := [d for d in deliveries(sandbox) if d["video_id"] in ids]) == 2 * len(jobs)
            and all(d["state"] != "pending" for d in found)
            and found
        ),
        message="every event delivered",
    )
    time.sleep(1.0)  # a second reply would come within a poll or two

    for job in jobs:
        assert len(flows.text_replies(slack, job["parent_ts"])) == 1
        assert row(bot, job["id"])["status"] == "completed"
    assert all(d["state"] == "delivered" and d["history"][-1]["status"] == 200 for d in ours)
    figures(deliveries=len(ours), races=len(jobs))


def deliveries(sandbox) -> list[dict]:
    return httpx.get(f"{sandbox.url}/_sandbox/webhooks").json()["deliveries"]


def register(env: dict[str, str], url: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot", "webhook", "register", "--url", url],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )


def heygen_env(sandbox, key: str | None = HEYGEN_KEY) -> dict[str, str]:
    """Only what `webhook register` needs: no Slack settings at all."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "HEYGEN_"))}
    env["HEYGEN_API_URL"] = sandbox.url
    if key:
        env["HEYGEN_API_KEY"] = key
    return env


def test_registered_webhook_gets_the_sandbox_event_to_a_reply_within_a_second(
    sandbox, slack, tmp_path, figures
) -> None:
    env = bot_env(slack.url, sandbox.url, str(tmp_path / "bot.db"), **SLOW_POLLING)
    bot = ProcessBot(env, tmp_path / "bot.log")
    url = f"{bot.url}/heygen/webhook"
    done = register(heygen_env(sandbox), url)
    assert done.returncode == 0, done.stderr
    secret = re.search(r"^HEYGEN_WEBHOOK_SECRET=(\S+)$", done.stdout, re.M)
    assert secret, done.stdout
    listed = httpx.get(f"{sandbox.url}/v3/webhooks/endpoints", headers={"X-Api-Key": HEYGEN_KEY})
    [endpoint] = listed.json()["data"]
    assert endpoint["url"] == url and endpoint["events"] == [SUCCESS, FAIL]

    bot.env["HEYGEN_WEBHOOK_SECRET"] = secret.group(1)
    bot.start()
    try:
        job = start_job(bot, sandbox.url, "v3", "Hello webhook [sandbox:render:1]")
        reply = reply_call(slack, job["parent_ts"])
        videos = httpx.get(f"{sandbox.url}/_sandbox/videos").json()["videos"]
        finished = next(v["finish_at"] for v in videos if v["id"] == job["video_id"])
        assert_before_any_poll(reply, job)
        [delivery] = httpx.get(f"{sandbox.url}/_sandbox/webhooks").json()["deliveries"]
        assert delivery["state"] == "delivered" and delivery["history"] == [
            {"status": 200, "error": None}
        ]
    finally:
        assert bot.terminate() == 0
    figures(deliveries=1, registrations=1, reply_ms_max=round((reply.at - finished) * 1000))


@pytest.mark.parametrize(
    ("key", "code", "says"),
    [("wrong-key", 1, "HeyGen refused the webhook"), (None, 2, "HEYGEN_API_KEY is required")],
)
def test_register_fails_with_one_clear_line(sandbox, key, code, says, figures) -> None:
    done = register(heygen_env(sandbox, key), "https://bot.example.com/heygen/webhook")
    assert done.returncode == code
    assert says in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == "" and "wrong-key" not in done.stderr
    figures(registrations=1)


def test_sandbox_mode_subscribes_itself_and_replies_fast_across_restarts(
    slack, tmp_path, figures
) -> None:
    sandbox_port = free_port()
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    env = bot_env(
        slack.url,
        None,  # no HEYGEN_API_KEY: the embedded sandbox
        str(tmp_path / "bot.db"),
        SANDBOX_PORT=sandbox_port,
        SANDBOX_RENDER_SECONDS="0.5",
        **SLOW_POLLING,
    )
    for _ in range(2):  # a restart must not leave a dead endpoint behind
        bot = ProcessBot(env, tmp_path / "bot.log").start()
        try:
            job = start_job(bot, sandbox_url, "v3", "Hello sandbox")
            reply = reply_call(slack, job["parent_ts"])
            videos = httpx.get(f"{sandbox_url}/_sandbox/videos").json()["videos"]
            finished = next(v["finish_at"] for v in videos if v["id"] == job["video_id"])
            assert_before_any_poll(reply, job)
            endpoints = httpx.get(f"{sandbox_url}/v3/webhooks/endpoints").json()["data"]
            assert [e["url"] for e in endpoints] == [f"{bot.url}/heygen/webhook"]
        finally:
            assert bot.terminate() == 0
        figures(deliveries=1, reply_ms_max=round((reply.at - finished) * 1000))
    figures(restarts=1)
