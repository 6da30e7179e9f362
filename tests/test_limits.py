"""Cost control: a person over a limit gets an inline error with when to try again."""

from __future__ import annotations

import json
import re

from tests import flows
from tests.flows import creates, first_choices, job_rows
from tests.harness import wait_until


def _submit(bot, sandbox, script: str, version: str = "v3"):
    avatar, voice = first_choices(sandbox, version)
    return flows.submit_form(bot, flows.form_values(avatar, voice, script))


def test_running_limit_blocks_until_one_finishes(make_bot, sandbox) -> None:
    bot = make_bot(MAX_RUNNING_PER_USER="1")
    assert _submit(bot, sandbox, "Slow one [sandbox:render:2]").text in ("", "null")
    answer = _submit(bot, sandbox, "Second").json()
    assert answer["response_action"] == "errors"
    assert answer["errors"]["script"] == (
        "You already have 1 video in progress, the most one person may have at once. "
        "Try again when one of them finishes."
    )
    other = flows.submit_form(
        bot, flows.form_values(*first_choices(sandbox, "v3"), "Mine"), user_id="U0OTHER"
    )
    assert other.text in ("", "null")  # limits are per person
    wait_until(lambda: len(creates(sandbox)) == 2, message="two creates")
    wait_until(lambda: job_rows(bot)[0]["status"] == "completed", message="done")
    assert _submit(bot, sandbox, "Now it fits").text in ("", "null")
    wait_until(lambda: len(creates(sandbox)) == 3, message="the third create")


def test_daily_limit_says_when_to_try_again(make_bot, sandbox) -> None:
    bot = make_bot(MAX_VIDEOS_PER_USER_PER_DAY="2")
    for n in range(2):
        assert _submit(bot, sandbox, f"Video {n}").text in ("", "null")
    answer = _submit(bot, sandbox, "One too many").json()
    message = answer["errors"]["script"]
    assert message.startswith("You have asked for 2 videos in the last 24 hours")
    assert re.search(r"Try again in 23 h 59 min\.$", message)
    wait_until(lambda: len(creates(sandbox)) == 2, message="two creates")
    assert len(job_rows(bot)) == 2


def test_retry_counts_against_the_daily_limit(make_bot, sandbox, slack) -> None:
    bot = make_bot(MAX_VIDEOS_PER_USER_PER_DAY="1")
    assert _submit(bot, sandbox, "Fails [sandbox:fail]").text in ("", "null")
    parent = flows.parent_message(slack)
    wait_until(lambda: job_rows(bot)[0]["status"] == "failed", message="failure")

    def failed() -> dict | None:
        message = next(m for m in slack.messages() if m["ts"] == parent["ts"])
        return message if "retry_job" in json.dumps(message["blocks"]) else None

    flows.press(bot, slack, wait_until(failed, message="Retry button"), "retry_job")
    [refused] = slack.wait_for("response_url")
    assert refused.params["text"].startswith("You have asked for 1 video in the last 24 hours")
    assert len(job_rows(bot)) == 1 and len(creates(sandbox)) == 1
