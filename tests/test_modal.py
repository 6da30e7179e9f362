"""The modal: HeyGen's extra options, their validation, previews, remembered choices."""

from __future__ import annotations

import threading
from urllib.parse import urlsplit

import pytest

from bot.playground import inbound as sr
from bot.playground import validate_view
from tests import flows
from tests.flows import creates, first_choices, job_rows, parent_message
from tests.harness import wait_until


def _inputs(view: dict) -> dict[str, dict]:
    return {b["block_id"]: b for b in view["blocks"]}


def test_extra_options_reach_heygen_in_each_dialect(bot, sandbox, slack, api_version) -> None:
    avatar, voice = first_choices(sandbox, api_version)
    values = flows.form_values(
        avatar,
        voice,
        "Hello with options",
        pitch="-10",
        avatar_style="circle" if api_version == "v2" else None,
        background="#0a0",
        title="Launch <!here> video",
        extras=("captions", "test") if api_version == "v2" else ("captions",),
    )
    assert flows.submit_form(bot, values).text in ("", "null")
    [create] = wait_until(lambda: creates(sandbox), message="the create call")
    body = create["json"]
    if api_version == "v3":
        assert body["voice_settings"] == {"speed": 1.0, "pitch": -10}
        assert body["background"] == {"type": "color", "value": "#00AA00"}
        assert body["caption"] == {"file_format": "srt"}
        assert body["title"] == "Launch <!here> video"
        assert "test" not in body and "avatar_style" not in str(body)
    else:
        scene = body["video_inputs"][0]
        assert scene["character"]["avatar_style"] == "circle"
        assert scene["voice"]["pitch"] == -10
        assert scene["background"] == {"type": "color", "value": "#00AA00"}
        assert (body["caption"], body["test"], body["title"]) == (
            True,
            True,
            "Launch <!here> video",
        )
    parent = parent_message(slack)
    [reply] = wait_until(lambda: flows.text_replies(slack, parent["ts"]))
    video_url = reply["blocks"][0]["accessory"]["url"]
    assert urlsplit(video_url).path.endswith("/captioned.mp4")  # captions were asked for
    details = parent["message"]["blocks"][1]["elements"][0]["text"]
    assert "Launch &lt;!here&gt; video" in details and "<!here>" not in details


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("background", "blue", "Use a hex colour like #FFFFFF (or leave it empty)."),
        ("background", "#12345", "Use a hex colour like #FFFFFF (or leave it empty)."),
        ("pitch", "70", "Pitch is a whole number from -50 to 50."),
        ("pitch", "2.5", "Pitch is a whole number from -50 to 50."),
        ("avatar_style", "sideways", "Choose normal, circle or close-up."),
    ],
)
def test_bad_options_get_inline_errors_and_no_heygen_call(
    make_bot, sandbox, field, value, error
) -> None:
    bot = make_bot(HEYGEN_API_VERSION="v2")
    avatar, voice = first_choices(sandbox, "v2")
    values = flows.form_values(avatar, voice, "Hi", **{field: value})
    assert flows.submit_form(bot, values).json() == {
        "response_action": "errors",
        "errors": {field: error},
    }
    assert creates(sandbox) == [] and job_rows(bot) == []


def test_test_mode_and_avatar_style_exist_only_on_v2(make_bot, slack) -> None:
    shown = {}
    for version in ("v2", "v3"):
        bot = make_bot(HEYGEN_API_VERSION=version)
        bot.send(sr.slash_command(""))
        view = slack.wait_for("views.open", count=len(shown) + 1)[-1].params["view"]
        blocks = _inputs(view)
        shown[version] = (
            "avatar_style" in blocks,
            [o["value"] for o in blocks["extras"]["element"]["options"]],
        )
        bot.stop()
    assert shown == {
        "v2": (True, ["captions", "notify_dm", "test"]),
        "v3": (False, ["captions", "notify_dm"]),
    }


def _open_modal(bot, slack) -> dict:
    bot.send(sr.slash_command("Hello"))
    slack.wait_for("views.open")
    return slack.views[-1]


def test_choosing_avatar_and_voice_shows_their_previews(bot, sandbox, slack, api_version) -> None:
    view = _open_modal(bot, slack)
    avatars, voices = flows.sandbox_catalog(sandbox.url, api_version)
    avatar, voice = avatars[3]["id"], voices[2]["id"]
    assert flows.choose(bot, view, "avatar", avatar).status_code == 200
    [update] = slack.wait_for("views.update")
    assert update.ok and update.params["hash"] == view["hash"]
    preview = _inputs(slack.views[-1])["avatar_preview"]
    assert preview["type"] == "image" and f"/avatars/{avatar}/" in preview["image_url"]
    assert preview["title"]["text"] == avatars[3]["name"]

    values = {  # Slack's state holds every input's current value
        "avatar": {"avatar": flows.selected(avatar, "external_select")},
        "voice": {"voice": flows.selected(voice, "external_select")},
        "script": {"script": {"type": "plain_text_input", "value": "Hello"}},
    }
    flows.choose(bot, slack.views[-1], "voice", voice, values=values)
    second = slack.wait_for("views.update", count=2)[-1]
    assert second.ok
    blocks = _inputs(slack.views[-1])
    assert f"/voices/{voice}/" in blocks["voice_preview"]["accessory"]["url"]
    assert blocks["avatar_preview"]["image_url"] == preview["image_url"]
    assert blocks["avatar"]["element"]["initial_option"]["value"] == avatar
    assert blocks["script"]["element"]["initial_value"] == "Hello"
    assert validate_view(slack.views[-1]) == []


def test_choices_arriving_together_keep_both_previews(make_bot, sandbox, slack) -> None:
    bot = make_bot(HEYGEN_API_VERSION="v3")
    view = _open_modal(bot, slack)
    avatars, voices = flows.sandbox_catalog(sandbox.url, "v3")
    picks = [("avatar", avatars[1]["id"]), ("voice", voices[1]["id"])]
    threads = [
        threading.Thread(target=flows.choose, args=(bot, view, picker, value))
        for picker, value in picks
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    updates = slack.wait_for("views.update", count=2)
    assert all(u.ok for u in updates)  # the second used the hash the first returned
    blocks = _inputs(slack.views[-1])
    assert f"/avatars/{avatars[1]['id']}/" in blocks["avatar_preview"]["image_url"]
    assert f"/voices/{voices[1]['id']}/" in blocks["voice_preview"]["accessory"]["url"]


def test_hash_conflict_keeps_the_other_update(make_bot, sandbox, slack) -> None:
    bot = make_bot(HEYGEN_API_VERSION="v3")
    view = _open_modal(bot, slack)
    avatars, voices = flows.sandbox_catalog(sandbox.url, "v3")
    slack.fail_next("views.update", "hash_conflict")
    assert flows.choose(bot, view, "avatar", avatars[0]["id"]).status_code == 200
    [conflict] = slack.wait_for("views.update")
    assert conflict.error == "hash_conflict"
    assert "avatar_preview" not in _inputs(slack.views[-1])
    flows.choose(bot, slack.views[-1], "voice", voices[0]["id"])
    later = slack.wait_for("views.update", count=2)[-1]
    assert later.ok and later.params["hash"] == view["hash"]
    assert "voice_preview" in _inputs(slack.views[-1])
    assert slack.internal_errors == []


def test_last_avatar_voice_and_shape_are_preselected(bot, sandbox, slack, api_version) -> None:
    avatars, voices = flows.sandbox_catalog(sandbox.url, api_version)
    avatar, voice = avatars[5]["id"], voices[4]["id"]
    flows.submit_form(bot, flows.form_values(avatar, voice, "Remember me", shape="9:16"))
    wait_until(lambda: job_rows(bot), message="the job")
    bot.send(sr.slash_command(""))
    view = slack.wait_for("views.open")[0].params["view"]
    inputs = {b["block_id"]: b.get("element") for b in view["blocks"]}
    assert inputs["avatar"]["initial_option"]["value"] == avatar
    assert avatars[5]["name"] in inputs["avatar"]["initial_option"]["text"]["text"]
    assert inputs["voice"]["initial_option"]["value"] == voice
    assert inputs["shape"]["initial_option"]["value"] == "9:16"
    bot.send(sr.slash_command("", user_id="U0OTHER"))
    other = slack.wait_for("views.open", count=2)[-1].params["view"]
    assert "initial_option" not in other["blocks"][0]["element"]
