"""Promise 1: kill the process at any moment; every job still gets exactly one reply."""

from __future__ import annotations

import random
import time

import httpx

from bot.sandbox import SandboxSettings, start_in_thread
from tests import flows
from tests.conftest import HEYGEN_KEY
from tests.harness import ProcessBot, bot_env, wait_until

FINAL = ("completed", "failed", "timed_out", "cancelled")


def test_sigkill_repeatedly_while_jobs_are_in_flight(slack, tmp_path, figures) -> None:
    rng = random.Random(20261125)
    settings = SandboxSettings(api_key=HEYGEN_KEY, render_seconds=2.5, concurrency=50)
    with start_in_thread(settings) as sandbox:
        env = bot_env(slack.url, sandbox.url, str(tmp_path / "bot.db"))
        bot = ProcessBot(env, tmp_path / "bot.log").start()
        accepted, kills = 0, 0
        while kills < 8:
            for _ in range(2):
                if flows.submit_any(bot, sandbox, "v3", f"Job {accepted}").status_code == 200:
                    accepted += 1
            time.sleep(rng.uniform(0.05, 0.9))  # mid-submit, mid-poll or mid-notify
            bot.kill()
            kills += 1
            bot.start()
        try:
            rows = wait_until(lambda: _all_final(bot), timeout=60, message="every job final")
            wait_until(
                lambda: set(flows.posts_by_job(slack, "result")) >= {r["id"] for r in rows},
                timeout=60,
                message="a reply to every job",
            )
            time.sleep(1.5)  # a duplicate would show up within a few polls
            results, parents = (
                flows.posts_by_job(slack, "result"),
                flows.posts_by_job(slack, "parent"),
            )
            assert len(rows) >= accepted == 16
            assert {r["id"]: results.get(r["id"]) for r in rows} == {r["id"]: 1 for r in rows}
            assert {r["id"]: parents.get(r["id"]) for r in rows} == {r["id"]: 1 for r in rows}
            assert all(r["status"] == "completed" for r in rows)
            videos = httpx.get(f"{sandbox.url}/_sandbox/videos").json()["videos"]
            assert sorted(v["callback_id"] for v in videos) == sorted(r["id"] for r in rows)
            figures(
                jobs=len(rows),
                sigkills=kills,
                replies_per_job_max=max(results.values()),
                parents_per_job_max=max(parents.values()),
                videos_rendered=len(videos),
            )
        finally:
            assert bot.terminate() == 0


def _all_final(bot: ProcessBot) -> list[dict] | None:
    rows = flows.job_rows(bot)
    return rows if rows and all(r["status"] in FINAL for r in rows) else None


def test_sigterm_drains_and_exits_cleanly(slack, tmp_path) -> None:
    with start_in_thread(SandboxSettings(api_key=HEYGEN_KEY, render_seconds=1.5)) as sandbox:
        env = bot_env(slack.url, sandbox.url, str(tmp_path / "bot.db"))
        bot = ProcessBot(env, tmp_path / "bot.log").start()
        assert flows.submit_any(bot, sandbox, "v3").status_code == 200
        assert bot.terminate() == 0
        log = (tmp_path / "bot.log").read_text()
        assert "Traceback" not in log
        bot.start()
        rows = wait_until(lambda: _all_final(bot), timeout=30, message="job final")
        wait_until(lambda: flows.posts_by_job(slack, "result").get(rows[0]["id"]) == 1)
        assert bot.terminate() == 0
