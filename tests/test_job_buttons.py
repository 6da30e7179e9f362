"""The announcement's live status and its buttons: Cancel, Retry, Make another."""

from __future__ import annotations

import json
import time

import pytest

from bot.sandbox import SandboxSettings, start_in_thread
from tests import flows
from tests.conftest import HEYGEN_KEY
from tests.flows import creates, first_choices, heygen_requests, job_rows, parent_message
from tests.harness import HTTP, ThreadBot, bot_env, wait_until


def _message(slack, ts: str) -> dict:
    return next(m for m in slack.messages() if m["ts"] == ts)


def _buttons(message: dict) -> list[str]:
    found = [b for b in message["blocks"] if b["type"] == "actions"]
    return [e["action_id"] for b in found for e in b["elements"]]


def _status(bot) -> str:
    return job_rows(bot)[0]["status"]


def _submitted(bot) -> dict:
    return wait_until(
        lambda: next((r for r in job_rows(bot) if r["video_id"]), None), message="submitted"
    )


def _status_checks(sandbox, video_id: str) -> int:
    return sum(
        1
        for e in heygen_requests(sandbox, "GET")
        if video_id in e["path"] or video_id in json.dumps(e.get("query") or {})
    )


def test_requester_cancels_a_rendering_video(bot, sandbox, slack, api_version) -> None:
    avatar, voice = first_choices(sandbox, api_version)
    flows.submit_form(bot, flows.form_values(avatar, voice, "Never ends [sandbox:stall]"))
    parent = parent_message(slack)
    row = _submitted(bot)
    parent_now = _message(slack, parent["ts"])
    assert _buttons(parent_now) == ["cancel_job"]
    assert flows.press(bot, slack, parent_now, "cancel_job").status_code == 200
    wait_until(lambda: _status(bot) == "cancelled", message="cancelled")
    [reply] = wait_until(lambda: flows.text_replies(slack, parent["ts"]), message="the reply")
    assert "this video was cancelled" in reply["blocks"][0]["text"]["text"]
    wait_until(
        lambda: _buttons(_message(slack, parent["ts"])) == ["make_another"],
        message="parent shows Cancelled",
    )
    assert "Cancelled" in json.dumps(_message(slack, parent["ts"])["blocks"])
    videos = HTTP.get(f"{sandbox.url}/_sandbox/videos").json()["videos"]
    assert [v["deleted"] for v in videos if v["id"] == row["video_id"]] == [True]
    assert [e for e in heygen_requests(sandbox, "DELETE")]
    checks = _status_checks(sandbox, row["video_id"])
    time.sleep(1.0)  # polling has stopped: no further status checks of the video
    assert _status_checks(sandbox, row["video_id"]) == checks
    assert flows.file_replies(slack, parent["ts"]) == []


def test_only_the_requester_can_cancel(make_bot, sandbox, slack) -> None:
    bot = make_bot(HEYGEN_API_VERSION="v3")
    avatar, voice = first_choices(sandbox, "v3")
    flows.submit_form(bot, flows.form_values(avatar, voice, "Mine [sandbox:stall]"))
    parent = parent_message(slack)
    _submitted(bot)
    flows.press(bot, slack, _message(slack, parent["ts"]), "cancel_job", user_id="U0OTHER")
    answers = slack.wait_for("response_url")
    assert len(answers) == 1, [(c.at, c.status, c.params) for c in answers]  # seen once: 2
    [answer] = answers
    assert answer.params["response_type"] == "ephemeral"
    assert answer.params["text"] == f"Only the requester (<@{flows.USER}>) can cancel this video."
    time.sleep(0.5)
    assert _status(bot) in ("pending", "processing")
    assert heygen_requests(sandbox, "DELETE") == []


def test_cancel_during_the_create_call_deletes_the_late_video(make_bot, sandbox, slack) -> None:
    """HeyGen answers the create only after the requester cancelled: the video is deleted."""
    bot = make_bot()
    held = {"path_prefix": "/v3/videos", "method": "POST", "fault": "timeout", "times": 1}
    plan = {"next": [held], "timeout_seconds": 1.5}
    HTTP.post(f"{sandbox.url}/_sandbox/faults", json=plan).raise_for_status()
    avatar, voice = first_choices(sandbox, "v3")
    flows.submit_form(bot, flows.form_values(avatar, voice, "Too late"))
    parent = parent_message(slack)
    wait_until(lambda: _status(bot) == "submitting", message="create under way")
    flows.press(bot, slack, _message(slack, parent["ts"]), "cancel_job")
    [video] = wait_until(
        lambda: [v for v in _videos(sandbox) if v["deleted"]], message="the late video deleted"
    )
    assert _status(bot) == "cancelled" and job_rows(bot)[0]["video_id"] == video["id"]
    assert len([c for c in creates(sandbox) if c["status"] == 200]) == 1
    [reply] = wait_until(lambda: flows.text_replies(slack, parent["ts"]), message="the reply")
    assert "cancelled" in reply["text"]


def test_cancelled_queued_jobs_are_never_sent(slack, tmp_path) -> None:
    """HeyGen is full: jobs wait in the bot's queue; cancelled there, they never reach it."""
    settings = SandboxSettings(api_key=HEYGEN_KEY, render_seconds=1.0, concurrency=1)
    with start_in_thread(settings) as sandbox:
        bot = ThreadBot(bot_env(slack.url, sandbox.url, str(tmp_path / "bot.db")))
        try:
            avatar, voice = first_choices(sandbox, "v3")
            # The first render lasts until the test ends it, so the queue is still there
            # when the cancels arrive, however slow the machine.
            for script in (FIRST, "Second", "Third"):
                flows.submit_form(bot, flows.form_values(avatar, voice, script))
            parents = wait_until(
                lambda: (
                    len([r for r in job_rows(bot) if r["parent_ts"]]) == 3
                    and {r["script"]: r["parent_ts"] for r in job_rows(bot)}
                ),
                message="three announcements",
            )
            for script in ("Second", "Third"):
                flows.press(bot, slack, _message(slack, parents[script]), "cancel_job")
            wait_until(lambda: _by_script(bot)["Third"] == "cancelled", message="cancelled")
            HTTP.post(
                f"{sandbox.url}/_sandbox/videos/{_submitted(bot)['video_id']}/complete"
            ).raise_for_status()
            wait_until(lambda: _by_script(bot)[FIRST] == "completed", message="first done")
            time.sleep(1.0)  # the freed slot would have gone to the queue by now
            assert _by_script(bot) == {
                FIRST: "completed",
                "Second": "cancelled",
                "Third": "cancelled",
            }
            accepted = [c["json"]["script"] for c in creates(sandbox) if c["status"] == 200]
            assert accepted == [FIRST]
        finally:
            bot.stop()


FIRST = "First [sandbox:stall]"


def _videos(sandbox) -> list[dict]:
    return HTTP.get(f"{sandbox.url}/_sandbox/videos").json()["videos"]


def _by_script(bot) -> dict[str, str]:
    return {r["script"]: r["status"] for r in job_rows(bot)}


def test_retry_resubmits_the_same_choices_in_the_same_thread(
    bot, sandbox, slack, api_version
) -> None:
    avatar, voice = first_choices(sandbox, api_version)
    values = flows.form_values(avatar, voice, "Fails [sandbox:fail]", shape="1:1", pitch="7")
    flows.submit_form(bot, values)
    parent = parent_message(slack)
    wait_until(lambda: _status(bot) == "failed", message="failure")
    failed = wait_until(
        lambda: (
            "retry_job" in _buttons(_message(slack, parent["ts"])) and _message(slack, parent["ts"])
        ),
        message="Retry button",
    )
    flows.press(bot, slack, failed, "retry_job", user_id="U0OTHER")
    [refused] = slack.wait_for("response_url")
    assert "Only the requester" in refused.params["text"]
    flows.press(bot, slack, failed, "retry_job")
    first, second = wait_until(lambda: len(creates(sandbox)) == 2 and creates(sandbox))
    strip = ("callback_id",)
    assert {k: v for k, v in first["json"].items() if k not in strip} == {
        k: v for k, v in second["json"].items() if k not in strip
    }
    retried = slack.wait_for(
        "chat.postMessage",
        lambda c: c.params.get("thread_ts") == parent["ts"] and "is generating" in c.params["text"],
    )[0]
    assert retried.ok
    rows = {r["id"]: r for r in job_rows(bot)}
    assert len(rows) == 2
    new = next(r for r in rows.values() if r["parent_ts"] != parent["ts"])
    assert new["thread_ts"] == parent["ts"] and new["shape"] == "1:1" and new["pitch"] == 7
    flows.press(bot, slack, failed, "retry_job")
    again = slack.wait_for("response_url", count=2)[-1]
    assert again.params["text"] == "This video was retried already: see the thread."
    assert len(job_rows(bot)) == 2


@pytest.mark.parametrize("presser", [flows.USER, "U0OTHER"])
def test_make_another_opens_the_modal_with_this_jobs_choices(make_bot, sandbox, slack, presser):
    bot = make_bot(HEYGEN_API_VERSION="v2")
    avatars, voices = flows.sandbox_catalog(sandbox.url, "v2")
    values = flows.form_values(
        avatars[2]["id"],
        voices[3]["id"],
        "Once more <!channel>",
        shape="9:16",
        resolution="1080p",
        speed="1.3",
        pitch="-5",
        avatar_style="closeUp",
        background="#123456",
        title="Take two",
        extras=("captions",),
    )
    flows.submit_form(bot, values)
    parent = parent_message(slack)
    wait_until(lambda: _status(bot) == "completed", message="done")
    done = wait_until(
        lambda: (
            _buttons(_message(slack, parent["ts"])) == ["make_another"]
            and _message(slack, parent["ts"])
        ),
        message="Make another",
    )
    flows.press(bot, slack, done, "make_another", user_id=presser)
    view = slack.wait_for("views.open")[0].params["view"]
    element = {b["block_id"]: b.get("element") for b in view["blocks"]}
    assert element["avatar"]["initial_option"]["value"] == avatars[2]["id"]
    assert element["voice"]["initial_option"]["value"] == voices[3]["id"]
    assert element["script"]["initial_value"] == "Once more <!channel>"
    assert element["shape"]["initial_option"]["value"] == "9:16"
    assert element["resolution"]["initial_option"]["value"] == "1080p"
    assert (element["speed"]["initial_value"], element["pitch"]["initial_value"]) == ("1.3", "-5")
    assert element["avatar_style"]["initial_option"]["value"] == "closeUp"
    assert element["background"]["initial_value"] == "#123456"
    assert element["title"]["initial_value"] == "Take two"
    assert [o["value"] for o in element["extras"]["initial_options"]] == ["captions"]
    assert element["post_to"]["initial_conversation"] == flows.CHANNEL


def test_rendering_status_shows_elapsed_time(make_bot, sandbox, slack) -> None:
    bot = make_bot(STATUS_REFRESH_SECONDS="0.3")
    avatar, voice = first_choices(sandbox, "v3")
    flows.submit_form(bot, flows.form_values(avatar, voice, "Slow [sandbox:stall]"))
    parent = parent_message(slack)
    # The render lasts until four different "so far" lines were shown (refreshed while
    # rendering, not only on changes), however long a busy machine takes to show them.
    lines = wait_until(
        lambda: len(set(_elapsed_lines(slack))) >= 4 and _elapsed_lines(slack),
        message="four different elapsed times",
    )
    HTTP.post(
        f"{sandbox.url}/_sandbox/videos/{_submitted(bot)['video_id']}/complete"
    ).raise_for_status()
    wait_until(lambda: _status(bot) == "completed", message="done")
    assert any(":clapper: Rendering (" in line for line in lines)
    assert all(c.params["ts"] == parent["ts"] for c in slack.calls_to("chat.update"))


def _elapsed_lines(slack) -> list[str]:
    """The "… so far" lines of every edit of the announcement, in order."""
    return [
        b["elements"][0]["text"]
        for call in slack.calls_to("chat.update")
        for b in call.params["blocks"]
        if b["type"] == "context" and "so far" in b["elements"][0]["text"]
    ]
