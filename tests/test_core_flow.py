"""`/heygen` end to end: signed Slack requests in, Slack Web API calls and DB rows out."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest

from bot.playground import inbound as sr
from tests import flows
from tests.flows import creates, first_choices, job_rows, parent_message
from tests.harness import HTTP, wait_until

LIMITS = {"v3": 5000, "v2": 1500}


def final_reply(slack, parent_ts: str, channel: str = flows.CHANNEL) -> list[dict]:
    """Wait for the thread reply (the result message)."""
    return wait_until(
        lambda: flows.text_replies(slack, parent_ts, channel),
        message="the thread reply",
    )


def submit_valid(bot, sandbox, version, script="Hello from the test suite", **form) -> dict:
    avatar, voice = first_choices(sandbox, version)
    response = flows.submit_form(bot, flows.form_values(avatar, voice, script, **form))
    assert response.status_code == 200 and response.text in ("", "{}", "null")
    return {"avatar": avatar, "voice": voice}


def test_slash_command_opens_modal_with_every_field(bot, slack, api_version) -> None:
    response = bot.send(sr.slash_command("Hi <!channel> team"))
    assert response.status_code == 200
    view = slack.wait_for("views.open")[0].params["view"]
    inputs = {b["block_id"]: b["element"] for b in view["blocks"] if b["type"] == "input"}
    script_boxes = ["script"] if api_version == "v2" else ["script", "script_more"]
    v2_only = ["avatar_style"] if api_version == "v2" else []
    assert list(inputs) == [
        "avatar",
        "voice",
        *script_boxes,
        "shape",
        "resolution",
        "speed",
        "pitch",
        *v2_only,
        "background",
        "title",
        "extras",
        "post_to",
    ]
    assert inputs["avatar"]["type"] == inputs["voice"]["type"] == "external_select"
    assert inputs["script"]["initial_value"] == "Hi <!channel> team"
    boxes = [e["max_length"] for k, e in inputs.items() if k.startswith("script")]
    assert sum(boxes) == LIMITS[api_version]
    assert inputs["shape"]["initial_option"]["value"] == "16:9"
    assert [o["value"] for o in inputs["shape"]["options"]] == ["16:9", "9:16", "1:1"]
    assert inputs["resolution"]["initial_option"]["value"] == "720p"
    assert (
        inputs["speed"]["min_value"],
        inputs["speed"]["max_value"],
        inputs["speed"]["initial_value"],
    ) == ("0.5", "1.5", "1.0")
    assert inputs["post_to"]["initial_conversation"] == flows.CHANNEL


def test_typeahead_searches_the_whole_catalog(bot, sandbox, api_version) -> None:
    avatars, voices = flows.sandbox_catalog(sandbox.url, api_version)
    last_avatar, last_voice = avatars[-1], voices[-1]
    answer = bot.send(sr.block_suggestion("avatar", "avatar", last_avatar["name"])).json()
    assert last_avatar["id"] in [o["value"] for o in answer["options"]]
    answer = bot.send(sr.block_suggestion("voice", "voice", last_voice["name"])).json()
    assert last_voice["id"] in [o["value"] for o in answer["options"]]
    everything = bot.send(sr.block_suggestion("avatar", "avatar", "")).json()["options"]
    assert len(everything) == min(100, len(avatars))
    assert all(len(o["text"]["text"]) <= 75 for o in everything)


def test_typeahead_reaches_beyond_first_v3_page(make_bot, sandbox) -> None:
    bot = make_bot(HEYGEN_API_VERSION="v3")
    first_page = HTTP.get(
        f"{sandbox.url}/v3/avatars/looks", headers={"X-Api-Key": "test-heygen-key"}
    ).json()
    assert first_page["has_more"]
    avatars, _ = flows.sandbox_catalog(sandbox.url, "v3")
    beyond = [a for a in avatars if a["id"] not in {x["id"] for x in first_page["data"]}][-1]
    answer = bot.send(sr.block_suggestion("avatar", "avatar", beyond["id"])).json()
    assert [o["value"] for o in answer["options"]] == [beyond["id"]]


@pytest.mark.parametrize("script", ["", "   \n  "])
def test_blank_script_gets_inline_error_and_no_heygen_call(
    bot, sandbox, api_version, script
) -> None:
    avatar, voice = first_choices(sandbox, api_version)
    response = flows.submit_form(bot, flows.form_values(avatar, voice, script))
    assert response.json() == {
        "response_action": "errors",
        "errors": {"script": "Write what the avatar should say."},
    }
    assert creates(sandbox) == [] and job_rows(bot) == []


def test_overlong_script_gets_inline_error_and_no_heygen_call(
    bot, sandbox, slack, api_version
) -> None:
    avatar, voice = first_choices(sandbox, api_version)
    limit = LIMITS[api_version]
    response = flows.submit_form(bot, flows.form_values(avatar, voice, "é" * (limit + 1)))
    body = response.json()
    assert body["response_action"] == "errors"
    assert f"at most {limit:,}" in body["errors"]["script"]
    assert creates(sandbox) == [] and job_rows(bot) == [] and not slack.calls_to("chat.postMessage")


def test_missing_choices_get_inline_errors(bot, sandbox, api_version) -> None:
    response = flows.submit_form(bot, flows.form_values(None, "not-a-voice", "Hi"))
    errors = response.json()["errors"]
    assert errors["avatar"] == "Choose an avatar."
    assert "voice" in errors and creates(sandbox) == []


def test_happy_path_posts_one_thread_reply_with_media(bot, sandbox, slack, api_version) -> None:
    chosen = submit_valid(bot, sandbox, api_version, shape="9:16", resolution="1080p", speed="1.2")
    parent = parent_message(slack)
    assert "is generating an avatar video" in parent["message"]["text"]
    [create] = wait_until(lambda: creates(sandbox), message="the create")  # sent after the post
    if api_version == "v3":
        assert create["json"] == {
            "type": "avatar",
            "avatar_id": chosen["avatar"],
            "script": "Hello from the test suite",
            "voice_id": chosen["voice"],
            "voice_settings": {"speed": 1.2},
            "aspect_ratio": "9:16",
            "resolution": "1080p",
            "callback_id": create["json"]["callback_id"],
        }
        assert create["idempotency_key"] == create["json"]["callback_id"]
    else:
        video_input = create["json"]["video_inputs"][0]
        assert video_input["character"]["avatar_id"] == chosen["avatar"]
        assert video_input["voice"] == {
            "type": "text",
            "input_text": "Hello from the test suite",
            "voice_id": chosen["voice"],
            "speed": 1.2,
        }
        assert create["json"]["dimension"] == {"width": 1080, "height": 1920}
    [reply] = final_reply(slack, parent["ts"])
    assert f"<@{flows.USER}>" in reply["text"]
    section, *rest, note = reply["blocks"]
    video_url = section["accessory"]["url"]
    assert section["accessory"]["text"]["text"] == "Watch / download"
    thumb, gif = [b for b in rest if b["type"] == "image"]
    assert HTTP.get(thumb["image_url"]).content[:3] == b"\xff\xd8\xff"
    assert HTTP.get(gif["image_url"]).content[:4] == b"GIF8"
    assert HTTP.get(video_url).content[4:8] == b"ftyp"
    [row] = job_rows(bot)
    video_id = row["video_id"]
    fresh = _status(sandbox, api_version, video_id)
    for sent, key in (
        (video_url, "video_url"),
        (thumb["image_url"], "thumbnail_url"),
        (gif["image_url"], "gif_url"),
    ):
        assert urlsplit(sent).path == urlsplit(fresh[key]).path
    assert "7 days" in note["elements"][0]["text"]
    assert row["status"] == "completed" and row["parent_ts"] == parent["ts"]
    assert row["video_url"] == video_url
    wait_until(lambda: _parent_says(slack, parent["ts"], "Done"), message="parent updated")
    _no_second_reply(slack, parent["ts"])


def _status(sandbox, version: str, video_id: str) -> dict:
    headers = {"X-Api-Key": "test-heygen-key"}
    if version == "v3":
        return HTTP.get(f"{sandbox.url}/v3/videos/{video_id}", headers=headers).json()["data"]
    return HTTP.get(
        f"{sandbox.url}/v1/video_status.get", params={"video_id": video_id}, headers=headers
    ).json()["data"]


def _parent_says(slack, ts: str, words: str) -> bool:
    return any(m["ts"] == ts and words in json.dumps(m["blocks"]) for m in slack.messages())


def _no_second_reply(slack, parent_ts: str) -> None:
    import time

    time.sleep(1.0)
    assert len(flows.text_replies(slack, parent_ts)) == 1


def test_failed_render_reply_carries_heygen_detail(bot, sandbox, slack, api_version) -> None:
    submit_valid(bot, sandbox, api_version, script="Please fail [sandbox:fail:VIDEO_TOO_LONG]")
    parent = parent_message(slack)
    [reply] = final_reply(slack, parent["ts"])
    [row] = job_rows(bot)
    assert row["status"] == "failed" and row["failure_message"]
    text = reply["blocks"][0]["text"]["text"]
    escaped = row["failure_message"].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert escaped in text
    assert row["failure_code"] and row["failure_code"] in text
    wait_until(lambda: _parent_says(slack, parent["ts"], "Failed"), message="parent failed")


def test_heygen_rejecting_the_key_holds_the_job_and_says_so_in_the_thread(
    make_bot, sandbox, slack, api_version
) -> None:
    """A wrong key is the bot's problem, not the video's: held, never failed (issue 11)."""
    bot = make_bot(healthy=False, HEYGEN_API_VERSION=api_version, HEYGEN_API_KEY="wrong-key")
    avatar, voice = first_choices(sandbox, api_version)
    flows.submit_form(bot, flows.form_values(avatar, voice, "Hello"))
    parent = parent_message(slack)
    [note] = wait_until(lambda: flows.text_replies(slack, parent["ts"]), message="the note")
    assert "HeyGen key was rejected" in note["text"] and "wrong-key" not in note["text"]
    assert not slack.calls_to("chat.postEphemeral")
    [row] = job_rows(bot)
    assert row["status"] in ("new", "queued", "submitting") and not row["failure_code"]
    health = HTTP.get(bot.url + "/healthz", timeout=10)
    assert health.status_code == 503 and health.json()["heygen"]["ok"] is False
    assert "wrong-key" not in health.text


def test_bad_signature_gets_401_and_changes_nothing(bot, sandbox, slack, api_version) -> None:
    request = sr.slash_command("hello", secret="not-the-secret")
    assert bot.send(request).status_code == 401
    avatar, voice = first_choices(sandbox, api_version)
    values = flows.form_values(avatar, voice, "Hello")
    stale = sr.view_submission("heygen_create", values, timestamp=1_000_000)
    assert bot.send(stale).status_code == 401
    assert not slack.calls_to("views.open") and not slack.calls_to("chat.postMessage")
    assert job_rows(bot) == [] and creates(sandbox) == []


def test_channel_mention_in_script_is_not_sent_as_a_mention(
    bot, sandbox, slack, api_version
) -> None:
    script = "<!channel> <!here> <@U0BOSS> <https://evil.example|click> & <b>hi</b>"
    submit_valid(bot, sandbox, api_version, script=script)
    parent = slack.wait_for("chat.postMessage")[0].params
    for text in [parent["text"], *flows.mrkdwn_texts(parent["blocks"])]:
        for raw in ("<!channel>", "<!here>", "<@U0BOSS>", "<https://evil"):
            assert raw not in text
    quoted = [
        e
        for b in parent["blocks"]
        if b["type"] == "rich_text"
        for q in b["elements"]
        for e in q["elements"]
    ]
    assert quoted == [{"type": "text", "text": script}]
    [row] = job_rows(bot)
    assert row["script"] == script


def test_a_submission_before_the_first_catalog_load_is_still_checked(
    make_bot, sandbox, slack
) -> None:
    slow_voices = {"path_prefix": "/v3/voices", "method": "GET", "fault": "timeout", "times": 1}
    plan = {"timeout_seconds": 1, "next": [slow_voices]}
    HTTP.post(f"{sandbox.url}/_sandbox/faults", json=plan).raise_for_status()
    bot = make_bot(HEYGEN_API_VERSION="v3")  # its first catalog load takes a second
    avatar, _ = first_choices(sandbox, "v3")
    response = flows.submit_form(bot, flows.form_values(avatar, "not-a-voice", "Hi"))
    assert response.json()["errors"]["voice"].startswith("This voice is no longer available")
    assert job_rows(bot) == [] and creates(sandbox) == []
