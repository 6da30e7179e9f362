"""*Get a fresh link* (HeyGen re-signs on every status call) and the opt-in DM."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from tests import flows
from tests.flows import first_choices, heygen_requests, job_rows, parent_message
from tests.harness import HTTP, wait_until


def _finished(bot, sandbox, slack, version: str, script: str = "Link me", **form) -> tuple:
    avatar, voice = first_choices(sandbox, version)
    flows.submit_form(bot, flows.form_values(avatar, voice, script, **form))
    parent = parent_message(slack)
    [result] = wait_until(lambda: flows.text_replies(slack, parent["ts"]), message="result")
    return parent, result


def test_fresh_link_is_signed_again_and_told_only_to_the_presser(
    bot, sandbox, slack, api_version
) -> None:
    parent, result = _finished(bot, sandbox, slack, api_version)
    old = result["blocks"][0]["accessory"]["url"]
    assert flows.press(bot, slack, result, "open_video").status_code == 200  # a link: only acked
    HTTP.post(f"{sandbox.url}/_sandbox/clock", json={"advance_seconds": 30})
    before = len(heygen_requests(sandbox, "GET"))
    response = flows.press(bot, slack, result, "fresh_link", user_id="U0OTHER")
    assert response.status_code == 200
    [answer] = slack.wait_for("response_url")
    assert answer.params["response_type"] == "ephemeral"
    assert answer.params["replace_original"] is False
    fresh = answer.params["blocks"][0]["accessory"]["url"]
    assert urlsplit(fresh).path == urlsplit(old).path
    expires = [int(parse_qs(urlsplit(u).query)["Expires"][0]) for u in (old, fresh)]
    assert expires[1] >= expires[0] + 30
    assert HTTP.get(fresh).status_code == 200
    assert len(heygen_requests(sandbox, "GET")) > before  # HeyGen was asked again
    assert job_rows(bot)[0]["video_url"] == fresh
    assert [e["text"] for e in slack.ephemerals if e.get("text")] == [
        f"A fresh link to your video: {fresh}"
    ]
    assert len(flows.text_replies(slack, parent["ts"])) == 1  # nothing public was posted


def test_dm_when_ready_only_for_who_asked(make_bot, sandbox, slack) -> None:
    bot = make_bot()
    _finished(bot, sandbox, slack, "v3", extras=("notify_dm",))
    [dm] = slack.wait_for("chat.postMessage", lambda c: c.params["channel"] == flows.USER)
    assert dm.ok and dm.response["channel"] == "D0USER"
    assert dm.params["text"] == "Your avatar video is ready."
    section = dm.params["blocks"][0]
    assert "is ready <https://fake-workspace.slack.com/archives/C0CHAN/p" in section["text"]["text"]
    assert section["accessory"]["url"] == job_rows(bot)[0]["video_url"]
    _finished(bot, sandbox, slack, "v3", script="No DM for this one")
    wait_until(lambda: [r["status"] for r in job_rows(bot)] == ["completed"] * 2)
    dms = [c for c in slack.calls_to("chat.postMessage") if c.params["channel"] == flows.USER]
    assert len(dms) == 1


def test_dm_says_when_the_video_failed(make_bot, sandbox, slack) -> None:
    bot = make_bot()
    _finished(bot, sandbox, slack, "v3", script="Oops [sandbox:fail]", extras=("notify_dm",))
    [dm] = slack.wait_for("chat.postMessage", lambda c: c.params["channel"] == flows.USER)
    assert "did not finish" in dm.params["text"]
    assert job_rows(bot)[0]["failure_message"].replace("<", "&lt;") in str(dm.params["blocks"])


def test_a_dm_whose_answer_was_lost_is_found_not_sent_again(make_bot, sandbox, slack) -> None:
    to_requester = {flows.USER, "D0USER"}
    slack.fail_next(
        "chat.postMessage",
        after_handling=True,
        where=lambda params: params.get("channel") in to_requester,
    )
    bot = make_bot(HEYGEN_API_VERSION="v3")
    _finished(bot, sandbox, slack, "v3", extras=("notify_dm",))
    [job] = job_rows(bot)
    wait_until(lambda: _dm_row(bot)["sent_at"], message="the DM recorded as sent")

    dms = [m for m in slack.messages() if m["channel"] == "D0USER"]
    assert len(dms) == 1, dms  # Slack had posted it; the bot found it instead of resending
    assert dms[0]["metadata"]["event_payload"] == {"job_id": job["id"], "kind": "dm"}
    assert _dm_row(bot)["slack_ts"] == dms[0]["ts"]
    [opened] = slack.calls_to("conversations.open")
    assert opened.params["users"] == flows.USER
    history = slack.calls_to("conversations.history")
    assert [c.params["channel"] for c in history] == ["D0USER"]


def _dm_row(bot) -> dict:
    [row] = flows.db_rows(bot, "select * from outbox where kind = 'dm'")
    return row
