"""Pure Block Kit builders: escaping, and what each message shows."""

from __future__ import annotations

from bot import blocks
from bot.heygen import Avatar, Voice
from bot.jobs import COMPLETED, FAILED, Job
from bot.modal import ModalChoices, ModalFeatures, create_modal
from bot.playground import validate_view
from tests.flows import mrkdwn_texts


def _job(**changes) -> Job:
    base = dict(
        id="j1",
        team_id="T",
        channel_id="C",
        user_id="U1",
        api_version="v3",
        avatar_id="a1",
        avatar_name="Angela <b>",
        voice_id="v1",
        voice_name="Emma & co",
        script="<!channel> buy now & <@U999> <https://evil|click>",
    )
    return Job(**{**base, **changes})


def test_escape_neutralises_mentions_and_links() -> None:
    assert blocks.escape("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;"


def test_parent_shows_script_literally_and_never_as_markup() -> None:
    content = blocks.parent_blocks(_job(), now=0)
    quote = content[2]["elements"][0]["elements"][0]
    assert quote == {"type": "text", "text": _job().script}
    for text in [*mrkdwn_texts(content), blocks.parent_text(_job())]:
        assert "<!channel>" not in text and "<https://evil" not in text and "<b>" not in text
    assert "Emma &amp; co" in content[1]["elements"][0]["text"]


def test_long_script_is_clipped_in_the_announcement() -> None:
    content = blocks.parent_blocks(_job(script="x" * 5000), now=0)
    assert len(content[2]["elements"][0]["elements"][0]["text"]) <= blocks.SCRIPT_QUOTE_LIMIT + 1


def test_completed_reply_has_thumbnail_gif_and_link() -> None:
    job = _job(
        status=COMPLETED,
        video_url="https://v/x.mp4",
        thumbnail_url="https://v/t.jpg",
        gif_url="https://v/g.gif",
        duration=83.4,
    )
    content = blocks.result_blocks(job, timeout_seconds=7200)
    assert content[0]["accessory"]["url"] == "https://v/x.mp4"
    assert [b["image_url"] for b in content if b["type"] == "image"] == [
        "https://v/t.jpg",
        "https://v/g.gif",
    ]
    assert "1:23" in content[0]["text"]["text"] and "7 days" in str(content)


def test_failed_reply_carries_heygen_code_and_message_escaped() -> None:
    job = _job(status=FAILED, failure_code="40119", failure_message="Video is too long <!here>")
    text = blocks.result_blocks(job, timeout_seconds=7200)[0]["text"]["text"]
    assert "Video is too long &lt;!here&gt;" in text and "`40119`" in text


def test_modal_has_every_field_and_script_limit() -> None:
    v2 = ModalFeatures(script_limit=1500, avatar_styles=True, test_mode=True)
    view = create_modal(ModalChoices(script="hi", channel_id="C9"), v2)
    ids = [b.get("block_id") for b in view["blocks"]]
    assert ids == [
        "avatar",
        "voice",
        "script",
        "shape",
        "resolution",
        "speed",
        "pitch",
        "avatar_style",
        "background",
        "title",
        "extras",
        "post_to",
    ]
    v3 = create_modal(ModalChoices(script="y" * 4000), ModalFeatures(script_limit=5000))
    boxes = [b["element"] for b in v3["blocks"] if b["block_id"].startswith("script")]
    assert [(b["max_length"], len(b["initial_value"])) for b in boxes] == [
        (3000, 3000),
        (2000, 1000),
    ]
    v3_ids = [b["block_id"] for b in v3["blocks"]]
    assert "avatar_style" not in v3_ids
    extras = next(b for b in v3["blocks"] if b["block_id"] == "extras")["element"]
    assert [o["value"] for o in extras["options"]] == ["captions", "notify_dm"]
    script = view["blocks"][2]["element"]
    assert (script["max_length"], script["initial_value"]) == (1500, "hi")
    assert view["blocks"][-1]["element"]["initial_conversation"] == "C9"


def test_modal_prefills_every_choice_and_shows_previews() -> None:
    choices = ModalChoices(
        script="Hi",
        avatar=("a1", "Angela · female"),
        voice=("v1", "Emma · English"),
        shape="1:1",
        speed=1.2,
        pitch=-10,
        avatar_style="circle",
        background="#00FF00",
        title="Launch <!here>",
        captions=True,
        test=True,
    )
    features = ModalFeatures(
        script_limit=1500,
        avatar_styles=True,
        test_mode=True,
        avatar_preview=Avatar("a1", "Angela <b>", "female", preview_image_url="https://x/a.jpg"),
        voice_preview=Voice("v1", "Emma & co", preview_audio_url="https://x/v.wav"),
    )
    view = create_modal(choices, features)
    by_id = {b["block_id"]: b for b in view["blocks"]}
    element = {k: b.get("element", {}) for k, b in by_id.items()}
    assert element["avatar"]["initial_option"]["value"] == "a1"
    assert by_id["avatar"]["dispatch_action"] and by_id["voice"]["dispatch_action"]
    assert by_id["avatar_preview"]["image_url"] == "https://x/a.jpg"
    assert by_id["voice_preview"]["accessory"]["url"] == "https://x/v.wav"
    assert "Emma &amp; co" in by_id["voice_preview"]["text"]["text"]
    assert element["shape"]["initial_option"]["value"] == "1:1"
    assert (element["speed"]["initial_value"], element["pitch"]["initial_value"]) == ("1.2", "-10")
    assert element["avatar_style"]["initial_option"]["value"] == "circle"
    assert element["background"]["initial_value"] == "#00FF00"
    assert element["title"]["initial_value"] == "Launch <!here>"
    ticked = [o["value"] for o in element["extras"]["initial_options"]]
    assert ticked == ["captions", "test"]
    assert validate_view(view) == []


def test_parent_buttons_follow_the_job() -> None:
    def buttons(status: str) -> list[str]:
        content = blocks.parent_blocks(_job(status=status), now=0)
        block = next(b for b in content if b["type"] == "actions")
        return [e["action_id"] for e in block["elements"]]

    assert buttons("processing") == [blocks.CANCEL]
    assert buttons(FAILED) == [blocks.RETRY, blocks.MAKE_ANOTHER]
    assert buttons(COMPLETED) == [blocks.MAKE_ANOTHER]
