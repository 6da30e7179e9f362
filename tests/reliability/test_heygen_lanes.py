"""Issue 11, HeyGen half: no call to HeyGen holds up another job's reply, a rejected key
holds work instead of timing it out, and a lost v2 create is found however busy the
account. Calls are held with the sandbox's own controls (`hang`, a changed API key), never
raced against the clock.
"""

from __future__ import annotations

import logging
import time

import pytest

from tests import flows
from tests.conftest import HEYGEN_KEY
from tests.harness import HTTP, wait_until

CREATE_PATHS = {"v3": "/v3/videos", "v2": "/v2/video/generate"}
KEY_NOTE = "HeyGen key was rejected"


def _faults(sandbox, *rules: dict) -> None:
    HTTP.post(f"{sandbox.url}/_sandbox/faults", json={"next": list(rules)}).raise_for_status()


def _held(sandbox) -> int:
    return HTTP.get(f"{sandbox.url}/_sandbox/faults").json()["held"]


def _set_key(sandbox, key: str) -> None:
    HTTP.post(f"{sandbox.url}/_sandbox/api_key", json={"api_key": key}).raise_for_status()


def _force(sandbox, video_id: str) -> None:
    HTTP.post(f"{sandbox.url}/_sandbox/videos/{video_id}/complete").raise_for_status()


def _submit_until_rendering(bot, sandbox, version: str, script: str) -> dict:
    """Submit the modal; the job's row once HeyGen accepted it and its parent is posted."""
    before = {r["id"] for r in flows.job_rows(bot)}
    flows.submit_any(bot, sandbox, version, script)
    return wait_until(
        lambda: next(
            (
                r
                for r in flows.job_rows(bot)
                if r["id"] not in before and r["video_id"] and r["parent_ts"]
            ),
            None,
        ),
        timeout=20,
        message="the job to reach HeyGen",
    )


def _replies(slack, parent_ts: str) -> list[str]:
    return [m.get("text") or "" for m in flows.text_replies(slack, parent_ts)]


def test_hanging_creates_do_not_delay_another_videos_result(make_bot, sandbox, slack) -> None:
    bot = make_bot(HEYGEN_API_VERSION="v3", HEYGEN_TIMEOUT_SECONDS=120)
    first = _submit_until_rendering(bot, sandbox, "v3", "Rendering already [sandbox:stall]")
    _faults(sandbox, {"path_prefix": "/v3/videos", "method": "POST", "fault": "hang", "times": 3})
    for n in range(3):
        flows.submit_any(bot, sandbox, "v3", f"Stuck at HeyGen {n}")
    wait_until(lambda: _held(sandbox) == 3, timeout=20, message="three hanging creates")

    _force(sandbox, first["video_id"])
    wait_until(
        lambda: any("ready" in t for t in _replies(slack, first["parent_ts"])),
        timeout=10,
        message="the finished video's reply while creates hang",
    )
    assert _held(sandbox) == 3, "the reply came while all three creates still hung"

    HTTP.post(f"{sandbox.url}/_sandbox/faults/release").raise_for_status()
    wait_until(
        lambda: len(flows.posts_by_job(slack, "result")) == 4, timeout=30, message="four results"
    )
    assert set(flows.posts_by_job(slack, "result").values()) == {1}
    assert len(flows.creates(sandbox)) == 4  # one create per job, none resent


def test_a_rejected_key_holds_jobs_tells_each_requester_once_and_resumes(
    make_bot, sandbox, slack, api_version, caplog
) -> None:
    caplog.set_level(logging.INFO)
    bot = make_bot(HEYGEN_API_VERSION=api_version, JOB_TIMEOUT_SECONDS=4)
    jobs = [
        _submit_until_rendering(bot, sandbox, api_version, f"Held video {n} [sandbox:stall]")
        for n in range(2)
    ]
    rejected_at = time.time()
    _set_key(sandbox, "a-new-key-the-bot-lacks")  # an admin revoked the bot's key

    for job in jobs:
        wait_until(
            lambda job=job: any(KEY_NOTE in t for t in _replies(slack, job["parent_ts"])),
            timeout=20,
            message="the requester told in the thread",
        )
    # Held well past JOB_TIMEOUT_SECONDS, with the key checked again meanwhile.
    wait_until(
        lambda: (
            time.time() - rejected_at > 6
            and len([e for e in flows.heygen_requests(sandbox) if e["status"] == 401]) >= 3
        ),
        timeout=30,
        message="the bot to keep re-checking the key",
    )
    for job in jobs:
        row = next(r for r in flows.job_rows(bot) if r["id"] == job["id"])
        assert row["status"] in ("pending", "processing"), "held, not timed out"
        _force(sandbox, job["video_id"])
    health = HTTP.get(bot.url + "/healthz", timeout=10)
    assert health.status_code == 503
    assert health.json()["heygen"]["ok"] is False and health.json()["heygen"]["error"]

    _set_key(sandbox, HEYGEN_KEY)  # the admin fixed it
    for job in jobs:
        wait_until(
            lambda job=job: any("ready" in t for t in _replies(slack, job["parent_ts"])),
            timeout=20,
            message="the result once the key works again",
        )
    time.sleep(0.5)  # let any stray message land before counting
    for job in jobs:
        texts = _replies(slack, job["parent_ts"])
        assert len([t for t in texts if KEY_NOTE in t]) == 1, texts
        assert not [t for t in texts if "timed out" in t], texts
    assert {r["status"] for r in flows.job_rows(bot)} == {"completed"}
    assert HTTP.get(bot.url + "/healthz", timeout=10).status_code == 200
    said = [r.getMessage() for r in caplog.records if r.name == "bot.health"]
    assert len([s for s in said if "HeyGen rejects" in s]) == 1, said
    assert len([s for s in said if "HeyGen accepts" in s]) == 1, said


def test_a_new_job_while_the_key_is_rejected_waits_and_is_told(make_bot, sandbox, slack) -> None:
    bot = make_bot(HEYGEN_API_VERSION="v3")
    avatar, voice = flows.first_choices(sandbox, "v3")
    _set_key(sandbox, "a-new-key-the-bot-lacks")
    flows.submit_form(bot, flows.form_values(avatar, voice, "Asked for while the key is refused"))
    parent = flows.parent_message(slack)
    wait_until(
        lambda: any(KEY_NOTE in t for t in _replies(slack, parent["ts"])),
        timeout=20,
        message="the requester told in the thread",
    )
    [row] = flows.job_rows(bot)
    assert row["status"] in ("new", "queued", "submitting")
    _set_key(sandbox, HEYGEN_KEY)
    wait_until(
        lambda: any("ready" in t for t in _replies(slack, parent["ts"])),
        timeout=20,
        message="the result once the key works again",
    )
    assert [e["status"] for e in flows.creates(sandbox) if e["status"] != 401] == [200]


@pytest.mark.timeout(120)
def test_v2_finds_a_lost_create_on_page_three(make_bot, sandbox, slack) -> None:
    bot = make_bot(HEYGEN_API_VERSION="v2", HEYGEN_TIMEOUT_SECONDS=60)
    lost = {"path_prefix": "/v2/video/generate", "method": "POST", "fault": "lost"}
    held_lookup = {"path_prefix": "/v1/video.list", "method": "GET", "fault": "hang"}
    _faults(sandbox, lost, held_lookup)
    flows.submit_any(bot, sandbox, "v2", "Made once, answer lost [sandbox:stall]")
    [job] = wait_until(lambda: flows.job_rows(bot), message="the job")
    made = wait_until(lambda: _videos_for(sandbox, job["id"]), message="the lost create's video")
    wait_until(lambda: _held(sandbox) == 1, timeout=20, message="the bot to look it up")

    _other_client_makes_v2_videos(sandbox, 230)  # the lost video is now on page 3
    HTTP.post(f"{sandbox.url}/_sandbox/faults/release").raise_for_status()
    row = wait_until(
        lambda: next((r for r in flows.job_rows(bot) if r["video_id"]), None),
        timeout=30,
        message="the job to adopt its video",
    )
    assert row["video_id"] == made[0]["id"]
    assert len(_videos_for(sandbox, job["id"])) == 1, "rendered (and billed) once"
    lookups = [e for e in flows.heygen_requests(sandbox, "GET") if e["path"] == "/v1/video.list"]
    assert len(lookups) == 3, [e["query"] for e in lookups]


def _videos_for(sandbox, callback_id: str) -> list[dict]:
    videos = HTTP.get(f"{sandbox.url}/_sandbox/videos").json()["videos"]
    return [v for v in videos if v["callback_id"] == callback_id]


def _other_client_makes_v2_videos(sandbox, count: int) -> None:
    """Another integration on the same HeyGen account creates videos."""
    avatar, voice = flows.first_choices(sandbox, "v2")
    for n in range(count):
        scene = {
            "character": {"type": "avatar", "avatar_id": avatar},
            "voice": {"type": "text", "input_text": f"Other {n} [sandbox:render:0.01]"},
        }
        scene["voice"]["voice_id"] = voice
        body = {"video_inputs": [scene], "callback_id": f"someone-else-{n}"}
        answer = HTTP.post(
            f"{sandbox.url}/v2/video/generate", json=body, headers={"X-Api-Key": HEYGEN_KEY}
        )
        assert answer.status_code == 200, answer.text
