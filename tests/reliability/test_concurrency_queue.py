"""Promise 4: jobs beyond HeyGen's concurrent-render limit wait in order, never fail."""

from __future__ import annotations

import json

import httpx

from bot.sandbox import SandboxSettings, start_in_thread
from tests import flows
from tests.conftest import HEYGEN_KEY
from tests.harness import ThreadBot, bot_env, wait_until


def test_jobs_queue_with_positions_and_run_in_order(slack, tmp_path) -> None:
    settings = SandboxSettings(api_key=HEYGEN_KEY, render_seconds=2.0, concurrency=1)
    with start_in_thread(settings) as sandbox:
        bot = ThreadBot(bot_env(slack.url, sandbox.url, str(tmp_path / "bot.db")))
        try:
            # The first render lasts until both others are shown queued, however slow the
            # machine; then it is finished and the queue moves.
            scripts = ["Queued video 0 [sandbox:stall]", "Queued video 1", "Queued video 2"]
            for script in scripts:
                assert flows.submit_any(bot, sandbox, "v3", script).status_code == 200
            wait_until(lambda: "Queued, position 2" in _shown(slack), message="position 2")
            [first] = [r for r in flows.job_rows(bot) if r["video_id"]]
            force = f"{sandbox.url}/_sandbox/videos/{first['video_id']}/complete"
            httpx.post(force).raise_for_status()
            rows = wait_until(lambda: _all_completed(bot, 3), timeout=40, message="3 done")
            wait_until(lambda: len(flows.posts_by_job(slack, "result")) == 3)
            assert set(flows.posts_by_job(slack, "result").values()) == {1}
            shown = _shown(slack)
            assert "Queued, position 1" in shown and "Queued, position 2" in shown
            videos = httpx.get(f"{sandbox.url}/_sandbox/videos").json()["videos"]
            by_time = [v["callback_id"] for v in sorted(videos, key=lambda v: v["created_at"])]
            assert by_time == [r["id"] for r in rows]  # first come, first rendered
            refused = [e for e in flows.creates(sandbox) if e["status"] == 429]
            assert refused, "the sandbox's concurrency limit should have been hit"
        finally:
            bot.stop()


def _shown(slack) -> str:
    """Every announcement and edit the bot sent, as one text to search."""
    return " ".join(
        json.dumps(c.params.get("blocks"))
        for c in slack.calls
        if c.method in ("chat.postMessage", "chat.update")
    )


def _all_completed(bot: ThreadBot, count: int) -> list[dict] | None:
    rows = sorted(flows.job_rows(bot), key=lambda r: r["created_at"])
    if len(rows) == count and all(r["status"] == "completed" for r in rows):
        return rows
    return None
