"""`python -m bot migrate-db --to URL` moves a SQLite install to PostgreSQL."""

from __future__ import annotations

import subprocess
import sys

from bot.playground import inbound as sr
from tests import flows
from tests.harness import ROOT, wait_until


def _migrate(db_path: str, url: str) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "DATABASE_PATH": db_path, "DOTENV_PATH": "/nonexistent"}
    return subprocess.run(
        [sys.executable, "-m", "bot", "migrate-db", "--to", url],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_sqlite_install_moves_to_postgres_once(make_bot, sandbox, slack, pg_url, tmp_path):
    db = str(tmp_path / "bot.db")
    before = make_bot()
    avatar, voice = flows.first_choices(sandbox, "v3")
    flows.submit_form(before, flows.form_values(avatar, voice, "Made before the move"))
    parent = flows.parent_message(slack)
    wait_until(lambda: flows.text_replies(slack, parent["ts"]), message="the reply")
    wait_until(lambda: flows.file_replies(slack, parent["ts"]), message="the upload")
    before.stop()

    moved = _migrate(db, pg_url)
    assert moved.returncode == 0, moved.stderr
    assert "jobs 1" in moved.stdout and "preferences 1" in moved.stdout
    again = _migrate(db, pg_url)
    assert again.returncode == 1 and "not empty" in again.stderr

    after = make_bot(DATABASE_URL=pg_url)
    after.send(sr.slash_command("status", slack_url=slack.url))
    answer = slack.wait_for("response_url")[0].params
    assert "Made before the move" in str(answer["blocks"])
    [row] = flows.job_rows(after)
    assert row["status"] == "completed" and row["parent_ts"] == parent["ts"]
    # The copied outbox goes on numbering after its last message, and nothing is resent.
    flows.submit_form(after, flows.form_values(avatar, voice, "Made after the move"))
    wait_until(lambda: len(flows.job_rows(after)) == 2, message="the second job")
    wait_until(
        lambda: all(r["sent_at"] for r in flows.db_rows(after, "select sent_at from outbox")),
        timeout=30,
        message="every message sent",
    )
    assert len(flows.text_replies(slack, parent["ts"])) == 1


def test_help_names_migrate_db() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "bot", "--help"], cwd=ROOT, capture_output=True, text=True
    )
    assert "migrate-db" in shown.stdout
