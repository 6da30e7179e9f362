"""Promise 3: a create cut short by a crash never makes HeyGen render (and bill) twice."""

from __future__ import annotations

import httpx
import pytest

from bot.sandbox import SandboxSettings, start_in_thread
from tests import flows
from tests.conftest import HEYGEN_KEY
from tests.harness import ProcessBot, bot_env, wait_until

CREATE = {"v3": "/v3/videos", "v2": "/v2/video/generate"}


@pytest.mark.parametrize("api_version", ["v3", "v2"])
def test_kill_between_create_and_recording_its_answer(slack, tmp_path, api_version) -> None:
    """HeyGen has made the video but the bot dies before it hears the video id."""
    with start_in_thread(SandboxSettings(api_key=HEYGEN_KEY, render_seconds=1.0)) as sandbox:
        held = {
            "path_prefix": CREATE[api_version],
            "method": "POST",
            "fault": "timeout",
            "times": 1,
        }
        httpx.post(
            f"{sandbox.url}/_sandbox/faults", json={"next": [held], "timeout_seconds": 3}
        ).raise_for_status()
        env = bot_env(
            slack.url,
            sandbox.url,
            str(tmp_path / "bot.db"),
            HEYGEN_API_VERSION=api_version,
            HEYGEN_TIMEOUT_SECONDS=20,
        )
        bot = ProcessBot(env, tmp_path / "bot.log").start()
        assert flows.submit_any(bot, sandbox, api_version).status_code == 200
        wait_until(lambda: _videos(sandbox), message="HeyGen to accept the create")
        bot.kill()  # the answer is still being held: the bot never recorded the video id
        [row] = flows.job_rows(bot)
        assert row["status"] == "submitting" and row["video_id"] is None

        bot.start()
        try:
            wait_until(lambda: flows.posts_by_job(slack, "result"), timeout=40, message="the reply")
            [video] = _videos(sandbox)
            [row] = flows.job_rows(bot)
            assert (row["status"], row["video_id"]) == ("completed", video["id"])
            assert flows.posts_by_job(slack, "result") == {row["id"]: 1}
        finally:
            assert bot.terminate() == 0


def _videos(sandbox) -> list[dict]:
    return httpx.get(f"{sandbox.url}/_sandbox/videos").json()["videos"]
