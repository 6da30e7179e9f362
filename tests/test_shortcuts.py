"""Message shortcut (script from a message, result in its thread) and global shortcut."""

from __future__ import annotations

import json

from bot.listeners.shortcuts import script_from_message
from bot.playground import inbound as sr
from tests import flows
from tests.flows import first_choices, job_rows
from tests.harness import wait_until


def test_message_text_becomes_plain_script_words() -> None:
    text = (
        "Hi <@U0BOSS|boss> &amp; <#C0CHAN|general>: see <https://x.example/a?b=1&amp;c=2|our site>"
        " or <https://y.example>, <!here> <!subteam^S1|@design> <@U0NONAME> &lt;3"
    )
    assert script_from_message(text) == (
        "Hi @boss & #general: see our site or https://y.example, @here @design <3"
    )


def test_message_shortcut_prefills_the_script_and_replies_in_its_thread(
    bot, sandbox, slack, api_version
) -> None:
    text = "Welcome <@U0NEW|newbie> to <!channel> &amp; friends"
    message = slack.add_message(flows.CHANNEL, text, user="U0HUMAN")
    response = bot.send(sr.message_shortcut("make_video_from_message", message, flows.CHANNEL))
    assert response.status_code == 200
    view = slack.wait_for("views.open")[0].params["view"]
    script = next(b for b in view["blocks"] if b.get("block_id") == "script")["element"]
    assert script["initial_value"] == "Welcome @newbie to @channel & friends"
    assert json.loads(view["private_metadata"]) == {
        "channel_id": flows.CHANNEL,
        "thread_ts": message["ts"],
    }
    avatar, voice = first_choices(sandbox, api_version)
    values = flows.form_values(avatar, voice, script["initial_value"])
    flows.submit_form(bot, values, thread_ts=message["ts"])
    parent = slack.wait_for("chat.postMessage")[0]
    assert parent.params["thread_ts"] == message["ts"]
    replies = wait_until(
        lambda: [r for r in flows.text_replies(slack, message["ts"]) if "ready" in r["text"]],
        message="the result in the message's thread",
    )
    assert len(replies) == 1
    assert job_rows(bot)[0]["thread_ts"] == message["ts"]


def test_message_shortcut_on_a_reply_uses_its_thread_and_cuts_long_text(make_bot, slack):
    bot = make_bot(HEYGEN_API_VERSION="v2")
    top = slack.add_message(flows.CHANNEL, "Top")
    reply = slack.add_message(flows.CHANNEL, "word " * 400, thread_ts=top["ts"])
    bot.send(sr.message_shortcut("make_video_from_message", reply, flows.CHANNEL))
    view = slack.wait_for("views.open")[0].params["view"]
    assert json.loads(view["private_metadata"])["thread_ts"] == top["ts"]
    note, *_ = view["blocks"]
    assert note["type"] == "context" and "1,999 characters" in note["elements"][0]["text"]
    script = next(b for b in view["blocks"] if b.get("block_id") == "script")["element"]
    assert len(script["initial_value"]) == 1500


def test_global_shortcut_asks_where_to_post(bot, sandbox, slack, api_version) -> None:
    bot.send(sr.shortcut("new_avatar_video"))
    view = slack.wait_for("views.open")[0].params["view"]
    post_to = next(b for b in view["blocks"] if b["block_id"] == "post_to")
    assert not post_to["optional"] and "initial_conversation" not in post_to["element"]
    assert json.loads(view["private_metadata"]) == {"channel_id": None, "thread_ts": None}
    avatar, voice = first_choices(sandbox, api_version)
    values = flows.form_values(avatar, voice, "From anywhere", post_to=None)
    meta = json.dumps({"channel_id": None, "thread_ts": None})
    request = sr.view_submission("heygen_create", values, private_metadata=meta)
    assert bot.send(request).json() == {
        "response_action": "errors",
        "errors": {"post_to": "Choose where to post the video."},
    }
    values = flows.form_values(avatar, voice, "From anywhere", post_to="C0OTHER")
    assert bot.send(sr.view_submission("heygen_create", values, private_metadata=meta)).text in (
        "",
        "null",
    )
    parent = slack.wait_for("chat.postMessage")[0]
    assert parent.params["channel"] == "C0OTHER" and not parent.params.get("thread_ts")
