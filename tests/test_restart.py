"""A bot killed while HeyGen renders finishes the job after a restart, replying once."""

from __future__ import annotations

import sqlite3
import time

import httpx
import pytest

from bot.sandbox import SandboxSettings, start_in_thread
from tests import flows
from tests.conftest import HEYGEN_KEY
from tests.harness import ProcessBot, bot_env, wait_until


def _status(db: str) -> str | None:
    with sqlite3.connect(db) as conn:
        row = conn.execute("select status from jobs").fetchone()
    return row[0] if row else None


@pytest.mark.parametrize("api_version", ["v3", "v2"])
def test_restart_while_processing_still_replies_exactly_once(slack, tmp_path, api_version):
    settings = SandboxSettings(api_key=HEYGEN_KEY, render="static", render_seconds=4.0)
    with start_in_thread(settings) as sandbox:
        db = str(tmp_path / "bot.db")
        env = bot_env(slack.url, sandbox.url, db, HEYGEN_API_VERSION=api_version)
        first = ProcessBot(env, tmp_path / "bot.log").start()
        avatars, voices = flows.sandbox_catalog(sandbox.url, api_version)
        # The render lasts until the test ends it, so the kill always lands while it runs.
        script = "Hi [sandbox:stall]"
        flows.submit_form(first, flows.form_values(avatars[0]["id"], voices[0]["id"], script))
        parent = slack.wait_for("chat.postMessage")[0].response
        wait_until(lambda: _status(db) in ("pending", "processing"), message="job submitted")
        first.kill()
        assert _status(db) in ("pending", "processing")

        second = ProcessBot(env, tmp_path / "bot.log").start()
        try:
            [video] = sandbox_videos(sandbox.url)
            httpx.post(f"{sandbox.url}/_sandbox/videos/{video['id']}/complete").raise_for_status()
            replies = wait_until(
                lambda: flows.text_replies(slack, parent["ts"]),
                timeout=30,
                message="the thread reply",
            )
            wait_until(lambda: flows.file_replies(slack, parent["ts"]), message="the upload")
            time.sleep(1.5)  # a duplicate would arrive within a poll or two
            assert len(flows.text_replies(slack, parent["ts"])) == 1
            assert len(flows.file_replies(slack, parent["ts"])) == 1
            assert "ready" in replies[0]["text"] and _status(db) == "completed"
            parents = [
                c for c in slack.calls_to("chat.postMessage") if not c.params.get("thread_ts")
            ]
            assert len(parents) == 1
            videos = [v for v in sandbox_videos(sandbox.url)]
            assert len(videos) == 1
        finally:
            assert second.terminate() == 0


def sandbox_videos(url: str) -> list[dict]:
    return httpx.get(f"{url}/_sandbox/videos").json()["videos"]
