"""CONTRACT.md's schedule: the first status check after POLL_INTERVAL_SECONDS, no wait
shorter than it, none longer than POLL_MAX_INTERVAL_SECONDS."""

from __future__ import annotations

import itertools

from tests import flows
from tests.harness import wait_until


def test_status_checks_follow_the_contract_intervals(make_bot, sandbox, slack) -> None:
    bot = make_bot(
        HEYGEN_RENDER_ESTIMATE_SECONDS=0, POLL_INTERVAL_SECONDS=0.4, POLL_MAX_INTERVAL_SECONDS=1
    )
    flows.submit_any(bot, sandbox, "v3", "A slower one [sandbox:render:4]")
    wait_until(lambda: flows.posts_by_job(slack, "result"), timeout=20, message="the reply")
    [create] = flows.creates(sandbox)
    polled = flows.heygen_requests(sandbox, "GET", "/v3/videos")
    checks = [e["at"] for e in polled]
    assert checks, "the poller never asked HeyGen"
    # A bulk status call and the full fetch it triggers for a finished video are one check.
    checks = [t for i, t in enumerate(checks) if i == 0 or t - checks[i - 1] > 0.1]
    first = checks[0] - create["at"]
    gaps = [b - a for a, b in itertools.pairwise(checks)]
    assert 0.35 <= first <= 0.9, first
    assert all(0.35 <= gap <= 1.5 for gap in gaps), gaps
