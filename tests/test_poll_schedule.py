"""CONTRACT.md's schedule: the first status check after POLL_INTERVAL_SECONDS, no wait
shorter than it, none longer than POLL_MAX_INTERVAL_SECONDS.

The waits are read from the plan the bot records after each check (`next_check_at`,
`check_interval`), and every actual check is held to the plan before it. Gaps measured on
the wall clock would also count how late a busy machine ran the poller, which no bot
controls.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from tests import flows
from tests.harness import wait_until

SHORTEST, LONGEST = 0.4, 1.0
EPSILON = 1e-6  # float rounding of the stored times


@contextmanager
def recorded_plans(bot) -> Iterator[dict[int, dict]]:
    """Each plan the bot stores for its job, by how many checks it had made then."""
    plans: dict[int, dict] = {}
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.02):
            for row in flows.db_rows(bot, "select * from jobs where submitted_at is not null"):
                if row["next_check_at"] is not None:
                    plans.setdefault(row["checks"], row)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield plans
    finally:
        stop.set()
        sampler.join(5)


def test_status_checks_follow_the_contract_intervals(make_bot, sandbox, slack) -> None:
    bot = make_bot(
        HEYGEN_RENDER_ESTIMATE_SECONDS=0,
        POLL_INTERVAL_SECONDS=SHORTEST,
        POLL_MAX_INTERVAL_SECONDS=LONGEST,
    )
    with recorded_plans(bot) as plans:
        flows.submit_any(bot, sandbox, "v3", "A slower one [sandbox:render:4]")
        wait_until(lambda: flows.posts_by_job(slack, "result"), timeout=30, message="the reply")
    [row] = flows.job_rows(bot)
    # One job in flight: each check is one read of the video list.
    checks = [e["at"] for e in flows.heygen_requests(sandbox, "GET", "/v3/videos")]
    assert checks, "the poller never asked HeyGen"
    assert len(checks) == row["checks"]
    assert checks[0] >= row["submitted_at"] + SHORTEST - EPSILON, "first check too early"
    assert len(plans) >= 2, plans  # the plan at submit and at least one after a check
    for done, plan in plans.items():
        if done == 0:
            wait = plan["next_check_at"] - plan["submitted_at"]
            assert SHORTEST - EPSILON <= wait <= LONGEST + EPSILON, plan
            continue
        assert SHORTEST - EPSILON <= plan["check_interval"] <= LONGEST + EPSILON, plan
        assert checks[done] >= plan["next_check_at"] - EPSILON, "a check came before its plan"
