"""With no HEYGEN_API_KEY the bot runs its own HeyGen sandbox, renders a real video,
and says so in everything it posts."""

from __future__ import annotations

import httpx

from bot.playground import inbound as sr
from tests import flows
from tests.harness import ThreadBot, bot_env, wait_until


def test_without_a_key_every_message_carries_the_sandbox_mark(slack, tmp_path) -> None:
    env = bot_env(slack.url, None, str(tmp_path / "bot.db"))  # a newcomer's setup
    bot = ThreadBot(env)
    try:
        bot.send(sr.slash_command(""))
        modal = slack.wait_for("views.open")[0].params["view"]
        assert "Sandbox" in str(modal["blocks"])
        avatar = bot.send(sr.block_suggestion("avatar", "avatar", "")).json()["options"][0]
        voice = bot.send(sr.block_suggestion("voice", "voice", "")).json()["options"][0]
        flows.submit_form(bot, flows.form_values(avatar["value"], voice["value"], "Hi"))
        wait_until(lambda: flows.posts_by_job(slack, "result"))
        [row] = flows.job_rows(bot)
        assert row["status"] == "completed" and row["duration"] > 0.5  # a real render
        assert httpx.get(row["video_url"]).content[4:8] == b"ftyp"
        posted = [c for c in slack.calls if c.method in ("chat.postMessage", "chat.update")]
        assert posted and all("Sandbox" in str(c.params["blocks"]) for c in posted)
        health = bot.send_get("/healthz").json()
        assert health["heygen"]["target"] == "sandbox" and health["ok"] is True
    finally:
        bot.stop()
