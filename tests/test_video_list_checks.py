"""v3 with few videos in flight: one read of HeyGen's video list checks them all.

`GET /v3/videos` (newest first) carries each video's status and, once it is done, its
links, so the bot needs neither a bulk status call nor a fetch per finished video. A video
the list's first page lacks (the account made many videos since) is checked by id.
"""

from __future__ import annotations

import pytest

from tests import flows
from tests.harness import HTTP, wait_until


def _results(slack) -> list[dict]:
    """The result messages, each with the link its "Watch / download" button opens."""
    return [
        m
        for m in slack.messages()
        if ((m.get("metadata") or {}).get("event_payload") or {}).get("kind") == "result"
    ]


def _watch_url(message: dict) -> str:
    return message["blocks"][0]["accessory"]["url"]


def test_few_videos_are_settled_from_the_video_list(make_bot, sandbox, slack) -> None:
    bot = make_bot(HEYGEN_API_VERSION="v3")
    for n in range(3):
        flows.submit_any(bot, sandbox, "v3", f"Video number {n} [sandbox:render:{1 + n}]")
    wait_until(lambda: len(_results(slack)) == 3, timeout=30, message="three replies")

    gets = flows.heygen_requests(sandbox, "GET", "/v3/videos")
    listed = [e for e in gets if e["path"] == "/v3/videos"]
    assert listed and all(e["query"] == {"limit": "100"} for e in listed)
    assert [e["path"] for e in gets if e["path"] != "/v3/videos"] == []  # no bulk, no fetch
    # Each read reschedules every video: no faster than POLL_INTERVAL_SECONDS (0.2 s), plus
    # one early read per new job, however long the run.
    span = listed[-1]["at"] - listed[0]["at"]
    assert len(listed) <= span / 0.2 + 3, (len(listed), span)
    rows = {r["video_id"]: r for r in flows.job_rows(bot)}
    assert {r["status"] for r in rows.values()} == {"completed"}
    for message in _results(slack):
        job_id = message["metadata"]["event_payload"]["job_id"]
        [row] = [r for r in rows.values() if r["id"] == job_id]
        assert _watch_url(message) == row["video_url"]
        assert f"/{row['video_id']}/" in row["video_url"]
        assert HTTP.get(row["video_url"]).content[4:8] == b"ftyp"


@pytest.mark.sandbox(concurrency=200)  # the other client's videos all render at once
def test_a_video_missing_from_the_list_is_checked_by_id(make_bot, sandbox, slack) -> None:
    bot = make_bot(HEYGEN_API_VERSION="v3", POLL_INTERVAL_SECONDS=1, POLL_MAX_INTERVAL_SECONDS=1)
    flows.submit_any(bot, sandbox, "v3", "Pushed off the first page [sandbox:stall]")
    wait_until(lambda: flows.creates(sandbox), message="the create")
    _other_client_makes_videos(sandbox, 101)  # the bot's video is now 102nd newest
    # Reads before the 100th other video still find the bot's; the first one after misses it.
    pushed_off = flows.creates(sandbox)[100]["seq"]
    wait_until(lambda: _bulk_checks_after(sandbox, pushed_off), timeout=30, message="a bulk check")
    [row] = flows.job_rows(bot)
    HTTP.post(f"{sandbox.url}/_sandbox/videos/{row['video_id']}/complete").raise_for_status()
    wait_until(lambda: _results(slack), timeout=30, message="the reply")

    [row] = flows.job_rows(bot)
    gets = flows.heygen_requests(sandbox, "GET", "/v3/videos")
    listed = [e for e in gets if e["path"] == "/v3/videos" and e["seq"] > pushed_off]
    assert len(listed) == 1, "the list rests while the video it missed is in flight"
    assert [e for e in gets if e["path"] == f"/v3/videos/{row['video_id']}"]
    [message] = _results(slack)
    assert row["status"] == "completed" and _watch_url(message) == row["video_url"]


def _bulk_checks_after(sandbox, seq: int) -> list[dict]:
    gets = flows.heygen_requests(sandbox, "GET", "/v3/videos/statuses")
    return [e for e in gets if e["seq"] > seq]


def test_a_failed_list_read_falls_back_and_the_list_is_read_again(make_bot, sandbox, slack) -> None:
    bot = make_bot(HEYGEN_API_VERSION="v3", POLL_MAX_INTERVAL_SECONDS=1)
    refuse = {"path_prefix": "/v3/videos", "method": "GET", "fault": "404", "times": 1}
    HTTP.post(f"{sandbox.url}/_sandbox/faults", json={"next": [refuse]}).raise_for_status()
    flows.submit_any(bot, sandbox, "v3", "Checked while the list is refused [sandbox:render:4]")
    wait_until(lambda: _results(slack), timeout=30, message="the reply")

    [row] = flows.job_rows(bot)
    gets = flows.heygen_requests(sandbox, "GET", "/v3/videos")
    first, *later = [e for e in gets if e["path"] == "/v3/videos"]
    assert first["status"] == 404
    bulk = [e for e in gets if e["path"] == "/v3/videos/statuses"]
    assert bulk and bulk[0]["at"] > first["at"], "the pass the list failed used the bulk call"
    assert any(e["status"] == 200 for e in later), "the list is read again after a pause"
    [message] = _results(slack)
    assert row["status"] == "completed" and _watch_url(message) == row["video_url"]


def _other_client_makes_videos(sandbox, count: int) -> None:
    """Another integration on the same HeyGen account creates videos."""
    avatar, voice = flows.first_choices(sandbox, "v3")
    headers = {"X-Api-Key": "test-heygen-key"}
    for n in range(count):
        body = {
            "type": "avatar",
            "avatar_id": avatar,
            "voice_id": voice,
            "script": f"Someone else's video {n} [sandbox:render:0.01]",
        }
        answer = HTTP.post(f"{sandbox.url}/v3/videos", json=body, headers=headers)
        assert answer.status_code == 200, answer.text
