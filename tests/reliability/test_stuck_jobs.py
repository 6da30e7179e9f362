"""Promise 9: a video HeyGen never finishes gets one "timed out" reply and no more polls."""

from __future__ import annotations

import time

from tests import flows
from tests.harness import wait_until


def test_stuck_video_times_out_once_and_polling_stops(make_bot, sandbox, slack) -> None:
    bot = make_bot(JOB_TIMEOUT_SECONDS=2)
    flows.submit_any(bot, sandbox, "v3", "This one never ends [sandbox:stall]")
    results = wait_until(lambda: flows.posts_by_job(slack, "result"))
    [row] = flows.job_rows(bot)
    assert row["status"] == "timed_out" and list(results.values()) == [1]
    [reply] = [
        m
        for m in slack.messages()
        if (m.get("metadata") or {}).get("event_payload", {}).get("kind") == "result"
    ]
    assert "stopped waiting" in reply["text"] + str(reply["blocks"])
    assert row["video_id"] in str(reply["blocks"])
    checks = len(flows.heygen_requests(sandbox, "GET", "/v3/videos"))
    time.sleep(1.5)
    assert len(flows.heygen_requests(sandbox, "GET", "/v3/videos")) == checks
    assert flows.posts_by_job(slack, "result") == results
