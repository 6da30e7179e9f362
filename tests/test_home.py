"""App Home: recent videos, *New video*, HeyGen credit (cached), fresh links from Home."""

from __future__ import annotations

import json

from bot.playground import inbound as sr
from bot.playground import validate_view
from tests import flows
from tests.flows import first_choices, heygen_requests, job_rows, parent_message
from tests.harness import wait_until

CREDIT_PATHS = {"v3": "/v3/users/me", "v2": "/v2/user/remaining_quota"}


def _published(slack, count: int = 1) -> dict:
    call = slack.wait_for("views.publish", count=count)[-1]
    assert call.ok, call.response
    return call.response["view"]


def _button(view: dict, action_id: str) -> dict:
    return next(
        {**e, "block_id": b["block_id"]}
        for b in view["blocks"]
        if b["type"] in ("actions", "section")
        for e in (b.get("elements") or [b.get("accessory") or {}])
        if e.get("action_id") == action_id
    )


def _click(bot, view: dict, action_id: str, user_id: str = flows.USER):
    button = _button(view, action_id)
    action = {
        "type": "button",
        "action_id": action_id,
        "block_id": button["block_id"],
        "value": button.get("value", ""),
        "text": button["text"],
    }
    return bot.send(sr.block_actions([action], view=view, user_id=user_id))


def test_home_lists_recent_videos_and_caches_the_credit(bot, sandbox, slack, api_version) -> None:
    assert bot.send(sr.app_home_opened()).status_code == 200
    empty = _published(slack)
    assert validate_view(empty) == []
    text = json.dumps(empty["blocks"])
    assert "Nothing yet" in text and "New video" in text
    assert "HeyGen balance" in text or "credits" in text

    avatar, voice = first_choices(sandbox, api_version)
    flows.submit_form(bot, flows.form_values(avatar, voice, "Home <!channel> & co"))
    parent = parent_message(slack)
    wait_until(lambda: flows.text_replies(slack, parent["ts"]), message="result")
    home = _published(slack, count=2)  # refreshed when the video finished, unasked
    assert slack.calls_to("views.publish")[-1].params["user_id"] == flows.USER
    [row] = job_rows(bot)
    summary = next(b for b in home["blocks"] if "Home" in json.dumps(b) and b["type"] == "section")
    assert "Home &lt;!channel&gt; &amp; co" in summary["text"]["text"]
    assert "<!channel>" not in summary["text"]["text"]
    assert summary["accessory"]["image_url"] == row["thumbnail_url"]
    assert _button(home, "fresh_link")["value"] == row["id"]
    assert _button(home, "open_home_video")["url"] == row["video_url"]
    credit_calls = [
        e for e in heygen_requests(sandbox, "GET") if e["path"] == CREDIT_PATHS[api_version]
    ]
    assert len(credit_calls) == 1  # the refresh used the cached answer
    bot.send(sr.app_home_opened())
    reopened = _published(slack, count=3)
    assert _texts(reopened) == _texts(home)  # opening shows what the refresh showed
    bot.send(sr.app_home_opened(user_id="U0OTHER"))
    other = _published(slack, count=4)
    assert "Nothing yet" in json.dumps(other["blocks"])  # only your own videos


def test_home_is_refreshed_only_for_people_who_opened_it(make_bot, sandbox, slack) -> None:
    bot = make_bot(HEYGEN_API_VERSION="v3")
    flows.submit_and_wait_for_result(bot, sandbox, slack, "v3", "Nobody looks at Home")
    wait_until(lambda: _outbox_settled(bot), message="every message sent")
    assert slack.calls_to("views.publish") == []


def _texts(view: dict) -> list[str | None]:
    return [(b.get("text") or {}).get("text") for b in view["blocks"]]


def _outbox_settled(bot) -> bool:
    return not flows.db_rows(bot, "select id from outbox where sent_at is null")


def test_home_buttons_open_the_modal_and_send_a_fresh_link(make_bot, sandbox, slack) -> None:
    bot = make_bot(HEYGEN_API_VERSION="v3")
    flows.submit_and_wait_for_result(bot, sandbox, slack, "v3", "Fresh from home")
    avatar = flows.job_rows(bot)[0]["avatar_id"]
    bot.send(sr.app_home_opened())
    home = _published(slack)
    assert _click(bot, home, "fresh_link").status_code == 200
    dm = slack.wait_for("chat.postMessage", lambda c: c.params["channel"] == flows.USER)[0]
    assert dm.ok and "A fresh link to your video" in dm.params["text"]
    assert _click(bot, home, "home_new_video").status_code == 200
    view = slack.wait_for("views.open")[0].params["view"]
    post_to = next(b for b in view["blocks"] if b["block_id"] == "post_to")["element"]
    assert "initial_conversation" not in post_to
    avatar_input = next(b for b in view["blocks"] if b["block_id"] == "avatar")["element"]
    assert avatar_input["initial_option"]["value"] == avatar  # remembered


def test_home_can_cancel_a_running_video(make_bot, sandbox, slack) -> None:
    bot = make_bot(HEYGEN_API_VERSION="v3")
    avatar, voice = first_choices(sandbox, "v3")
    flows.submit_form(bot, flows.form_values(avatar, voice, "Stop me [sandbox:stall]"))
    wait_until(lambda: job_rows(bot) and job_rows(bot)[0]["video_id"], message="submitted")
    bot.send(sr.app_home_opened())
    home = _published(slack)
    _click(bot, home, "cancel_job", user_id="U0OTHER")
    refusal = slack.wait_for("chat.postMessage", lambda c: c.params["channel"] == "U0OTHER")[0]
    assert "Only the requester" in refusal.params["text"]
    _click(bot, home, "cancel_job")
    wait_until(lambda: job_rows(bot)[0]["status"] == "cancelled", message="cancelled")
