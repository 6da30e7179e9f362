"""Promise 5: Slack's rate limits, 5xx and lost answers never lose or double a reply."""

from __future__ import annotations

from tests import flows
from tests.harness import wait_until

RATES = {"ratelimited": 0.15, "500": 0.1, "503": 0.05, "drop": 0.05, "drop_after": 0.1}


def test_flaky_slack_still_gets_exactly_one_of_each_message(
    make_bot, sandbox, slack, figures
) -> None:
    bot = make_bot()
    slack.set_fault_rates({"chat.postMessage": RATES, "chat.update": RATES}, seed=11, retry_after=1)
    for n in range(5):
        assert flows.submit_any(bot, sandbox, "v3", f"Video {n}").status_code == 200
    wait_until(
        lambda: len(flows.posts_by_job(slack, "result")) == 5, timeout=60, message="five replies"
    )
    rows = wait_until(lambda: [r for r in flows.job_rows(bot) if r["status"] == "completed"])
    assert flows.posts_by_job(slack, "result") == {r["id"]: 1 for r in flows.job_rows(bot)}
    assert flows.posts_by_job(slack, "parent") == {r["id"]: 1 for r in flows.job_rows(bot)}
    faults = [c for c in slack.calls if c.method.startswith("chat.") and not c.ok]
    lost_after_posting = [c for c in faults if c.response is None]
    assert len(rows) == 5 and faults and lost_after_posting
    figures(
        jobs=5,
        slack_calls=len(slack.calls),
        faults_injected=len(faults),
        answers_lost=len(lost_after_posting),
        replies_per_job_max=1,
    )


def test_channel_the_bot_cannot_post_in_falls_back_to_a_dm(make_bot, sandbox, slack) -> None:
    """An install without chat:write.public or channels:join, in a channel it was never
    invited to: Slack answers `not_in_channel`, so the requester hears in a DM."""
    slack.not_in_channel = {flows.CHANNEL}
    slack.scopes.difference_update({"chat:write.public", "channels:join"})
    bot = make_bot()
    flows.submit_any(bot, sandbox, "v3")
    results = wait_until(lambda: flows.posts_by_job(slack, "result"))
    [parent] = [
        m
        for m in slack.messages()
        if (m.get("metadata") or {}).get("event_payload", {}).get("kind") == "parent"
    ]
    assert parent["channel"].startswith("D")
    assert f"couldn't post in <#{flows.CHANNEL}>" in str(parent["blocks"])
    [reply] = flows.text_replies(slack, parent["ts"], parent["channel"])
    assert list(results.values()) == [1] and "ready" in reply["text"]
