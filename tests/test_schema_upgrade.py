"""A database file written by the previous bot keeps working after the upgrade."""

from __future__ import annotations

import sqlite3
import time

from bot.playground import inbound as sr
from bot.store import migrations
from tests import flows
from tests.flows import first_choices, job_rows
from tests.harness import wait_until

OLD_JOB_COLUMNS = (
    "id text primary key, team_id text, channel_id text, user_id text, api_version text, "
    "avatar_id text, avatar_name text, voice_id text, voice_name text, script text, "
    "shape text, resolution text, speed float, title text, sandbox integer, status text, "
    "thread_ts text, redirected_from text, parent_ts text, video_id text, video_url text, "
    "thumbnail_url text, gif_url text, duration float, failure_code text, "
    "failure_message text, created_at float, updated_at float, submitted_at float, "
    "finished_at float, next_check_at float, check_interval float, checks integer"
)


def test_old_database_is_upgraded_in_place(make_bot, sandbox, slack, tmp_path) -> None:
    path = tmp_path / "bot.db"
    with sqlite3.connect(path) as conn:
        conn.execute(f"create table jobs ({OLD_JOB_COLUMNS})")
        now = time.time()
        conn.execute(
            "insert into jobs (id, team_id, channel_id, user_id, api_version, avatar_id, "
            "avatar_name, voice_id, voice_name, script, shape, resolution, speed, sandbox, "
            "status, video_url, created_at, updated_at, checks) values "
            "('old1', 'T0001', 'C0CHAN', 'U0USER', 'v3', 'a', 'Old avatar', 'v', 'Old voice', "
            "'From before the upgrade', '16:9', '720p', 1.0, 0, 'completed', "
            "'https://example.com/v.mp4', ?, ?, 0)",
            [now - 60, now - 60],
        )
    bot = make_bot()
    columns = {r[1] for r in sqlite3.connect(path).execute("pragma table_info(jobs)")}
    assert {"pitch", "captions", "background", "avatar_style", "video_file_id"} <= columns
    [(version,)] = sqlite3.connect(path).execute("select version from schema_version")
    assert version == migrations.LATEST  # versioned from now on
    [old] = job_rows(bot)
    assert old["script"] == "From before the upgrade" and old["pitch"] is None
    bot.send(sr.slash_command("status", slack_url=slack.url))
    answer = slack.wait_for("response_url")[0].params
    assert "From before the upgrade" in str(answer["blocks"])
    avatar, voice = first_choices(sandbox, "v3")
    flows.submit_form(bot, flows.form_values(avatar, voice, "After the upgrade", pitch="5"))
    new = wait_until(
        lambda: next((r for r in job_rows(bot) if r["status"] == "completed" and r["pitch"]), None),
        message="a new job",
    )
    assert new["pitch"] == 5 and new["avatar_style"] == "normal"
