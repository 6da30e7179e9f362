"""`/heygen help|status|avatars|voices`: private answers; anything else prefills the script."""

from __future__ import annotations

import json

from bot.playground import inbound as sr
from tests import flows
from tests.flows import first_choices, job_rows
from tests.harness import wait_until


def _answer(bot, slack, text: str, count: int = 1) -> dict:
    assert bot.send(sr.slash_command(text, slack_url=slack.url)).status_code == 200
    call = slack.wait_for("response_url", count=count)[-1]
    assert call.response == {"ok": True}
    assert call.params["response_type"] == "ephemeral"
    return call.params


def test_help_is_private_and_lists_the_subcommands(make_bot, slack) -> None:
    response = make_bot().send(sr.slash_command("help"))  # an ack body: only the caller sees it
    assert "`/heygen status`" in response.text
    assert "`/heygen avatars <words>`" in response.text
    assert slack.calls_to("views.open") == []


def test_status_lists_running_and_recent_videos(bot, sandbox, slack, api_version) -> None:
    empty = _answer(bot, slack, "status")
    assert "not made any avatar videos yet" in json.dumps(empty["blocks"])
    avatar, voice = first_choices(sandbox, api_version)
    flows.submit_form(bot, flows.form_values(avatar, voice, "Done <!here>"))
    wait_until(lambda: job_rows(bot)[0]["status"] == "completed", message="done")
    flows.submit_form(bot, flows.form_values(avatar, voice, "Still going [sandbox:stall]"))
    wait_until(lambda: any(r["video_id"] for r in job_rows(bot) if "going" in r["script"]))
    blocks = _answer(bot, slack, "status", count=2)["blocks"]
    texts = [b["text"]["text"] for b in blocks]
    assert texts[0] == "*Running*" and "Still going" in texts[1]
    assert texts[2] == "*Recent*" and "Done &lt;!here&gt;" in texts[3]
    assert blocks[3]["accessory"]["url"].startswith(sandbox.url)
    assert "<!here>" not in json.dumps(blocks)
    bot.send(sr.slash_command("status", user_id="U0OTHER", slack_url=slack.url))
    theirs = slack.wait_for("response_url", count=3)[-1].params  # only their own videos
    assert "not made any avatar videos yet" in json.dumps(theirs["blocks"])


def test_avatar_and_voice_search_show_previews(bot, sandbox, slack, api_version) -> None:
    avatars = _answer(bot, slack, "avatars angela")["blocks"]
    assert avatars[0]["text"]["text"].startswith("*2 avatars* matching *angela*")
    rows = [b for b in avatars[1:] if b["type"] == "section"]
    assert len(rows) == 2 and all("Angela" in r["text"]["text"] for r in rows)
    assert all("/avatars/" in r["accessory"]["image_url"] for r in rows)

    voices = _answer(bot, slack, "voices english female", count=2)["blocks"]
    rows = [b for b in voices[1:] if b["type"] == "section"]
    assert 0 < len(rows) <= 10
    assert all("/voices/" in r["accessory"]["url"] for r in rows)
    assert all("female" in r["text"]["text"] for r in rows)

    nothing = _answer(bot, slack, "avatars <!channel> zzz", count=3)
    assert "No avatars matching *&lt;!channel&gt; zzz*" in nothing["blocks"][0]["text"]["text"]
    assert slack.calls_to("views.open") == []


def test_other_text_still_prefills_the_script(bot, slack) -> None:
    bot.send(sr.slash_command("status update for the team"))
    view = slack.wait_for("views.open")[0].params["view"]
    script = next(b for b in view["blocks"] if b["block_id"] == "script")["element"]
    assert script["initial_value"] == "status update for the team"
    assert slack.calls_to("response_url") == []
