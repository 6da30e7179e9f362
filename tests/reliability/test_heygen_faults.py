"""Promise 2: HeyGen's transient faults are retried and never fail a job."""

from __future__ import annotations

import httpx
import pytest

from bot.sandbox import SandboxSettings, start_in_thread
from tests import flows
from tests.conftest import HEYGEN_KEY
from tests.harness import ThreadBot, bot_env, wait_until

FAULTS = {"429": 0.1, "500": 0.1, "503": 0.05, "reset": 0.1, "timeout": 0.05, "malformed_json": 0.1}


@pytest.mark.timeout(240)
@pytest.mark.parametrize("api_version", ["v3", "v2"])
def test_flaky_heygen_never_fails_a_job(slack, tmp_path, api_version, figures) -> None:
    settings = SandboxSettings(api_key=HEYGEN_KEY, render_seconds=1.0)
    with start_in_thread(settings) as sandbox:
        bot = ThreadBot(
            bot_env(
                slack.url,
                sandbox.url,
                str(tmp_path / "bot.db"),
                HEYGEN_API_VERSION=api_version,
                HEYGEN_TIMEOUT_SECONDS=0.5,
            )
        )
        try:
            avatar, voice = flows.first_choices(sandbox, api_version)
            plan = {"rates": FAULTS, "seed": 4, "timeout_seconds": 1.0, "retry_after": 1}
            httpx.post(f"{sandbox.url}/_sandbox/faults", json=plan).raise_for_status()
            for n in range(6):
                flows.submit_form(bot, flows.form_values(avatar, voice, f"Video {n}"))
            rows = wait_until(lambda: _finished(bot, 6), timeout=180, message="six jobs final")
            assert [r["status"] for r in rows] == ["completed"] * 6
            wait_until(lambda: len(flows.posts_by_job(slack, "result")) == 6)
            assert set(flows.posts_by_job(slack, "result").values()) == {1}
            assert len(flows.creates(sandbox)) >= 6
            injected = [e for e in flows.heygen_requests(sandbox) if e["fault"]]
            assert len(injected) >= 5, "the fault plan should have fired"
            videos = httpx.get(f"{sandbox.url}/_sandbox/videos").json()["videos"]
            figures(
                jobs=6,
                heygen_calls=len(flows.heygen_requests(sandbox)),
                faults_injected=len(injected),
                failed_jobs=0,
                videos_rendered=len(videos),
            )
            if api_version == "v3":  # Idempotency-Key: one render per job whatever the retries
                assert len(videos) == 6
        finally:
            bot.stop()


def _finished(bot: ThreadBot, count: int) -> list[dict] | None:
    rows = flows.job_rows(bot)
    done = [r for r in rows if r["status"] in ("completed", "failed", "timed_out")]
    return sorted(rows, key=lambda r: r["created_at"]) if len(done) == count else None


def test_insufficient_credit_is_told_once_and_not_retried(make_bot, sandbox, slack) -> None:
    bot = make_bot(HEYGEN_API_VERSION="v3")
    rule = {"path_prefix": "/v3/videos", "method": "POST", "fault": "402", "times": 5}
    httpx.post(f"{sandbox.url}/_sandbox/faults", json={"next": [rule]}).raise_for_status()
    flows.submit_any(bot, sandbox, "v3")
    ephemeral = slack.wait_for("chat.postEphemeral")[0].params["text"]
    assert "insufficient_credit" in ephemeral
    [row] = flows.job_rows(bot)
    assert (row["status"], row["failure_code"]) == ("failed", "insufficient_credit")
    assert len(flows.creates(sandbox)) == 1
