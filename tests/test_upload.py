"""The finished mp4 is uploaded into the thread once, or a note says why it is not."""

from __future__ import annotations

import sqlite3

from tests import flows
from tests.flows import first_choices, job_rows, parent_message
from tests.harness import HTTP, wait_until


def _finish_one(bot, sandbox, slack, version: str = "v3", **form) -> dict:
    avatar, voice = first_choices(sandbox, version)
    flows.submit_form(bot, flows.form_values(avatar, voice, "Upload me", **form))
    parent = parent_message(slack)
    wait_until(lambda: flows.text_replies(slack, parent["ts"]), message="result")
    return parent


def _outbox(bot, kind: str) -> list[dict]:
    with sqlite3.connect(bot.settings.database_path) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("select * from outbox where kind = ?", [kind])]


def test_video_is_uploaded_into_the_thread(bot, sandbox, slack, api_version) -> None:
    parent = _finish_one(bot, sandbox, slack, api_version, title="Quarterly <!here> update")
    [share] = wait_until(lambda: flows.file_replies(slack, parent["ts"]), message="the upload")
    [result] = flows.text_replies(slack, parent["ts"])
    assert float(share["ts"]) > float(result["ts"])  # after the result, in order
    [shared] = share["files"]
    [record] = slack.files
    original = HTTP.get(job_rows(bot)[0]["video_url"]).content
    assert record["data"] == original and record["data"][4:8] == b"ftyp"
    assert record["completed"] and record["thread_ts"] == parent["ts"]
    assert record["title"] == "Quarterly <!here> update"  # a file title is never markup
    assert shared["name"].endswith(".mp4")
    row = job_rows(bot)[0]
    assert row["video_file_id"] == shared["id"]
    [upload] = _outbox(bot, "upload")
    assert upload["slack_ts"] == shared["id"] and upload["sent_at"]


def test_too_large_video_falls_back_to_the_link(make_bot, sandbox, slack) -> None:
    bot = make_bot(UPLOAD_MAX_MB="0.01")  # the sandbox's mp4 is about 20 KB
    parent = _finish_one(bot, sandbox, slack)
    note = wait_until(
        lambda: [m for m in flows.text_replies(slack, parent["ts"]) if "not attached" in m["text"]],
        message="the note",
    )[0]
    assert "over this bot's 0.01 MB upload limit" in note["text"]
    assert "Watch / download" in note["text"]
    assert slack.calls_to("files.getUploadURLExternal") == []
    assert flows.file_replies(slack, parent["ts"]) == []
    assert job_rows(bot)[0]["video_file_id"] is None


def test_failed_upload_falls_back_to_the_link(make_bot, sandbox, slack) -> None:
    bot = make_bot()
    slack.fail_next("files.getUploadURLExternal", "missing_scope")
    parent = _finish_one(bot, sandbox, slack)
    note = wait_until(
        lambda: [m for m in flows.text_replies(slack, parent["ts"]) if "not attached" in m["text"]],
        message="the note",
    )[0]
    assert "Slack did not accept the upload (missing_scope)" in note["text"]
    assert flows.file_replies(slack, parent["ts"]) == []
    assert len(_outbox(bot, "upload")) == 1


def test_upload_stays_exactly_once_across_a_restart(make_bot, sandbox, slack) -> None:
    """A crash after Slack shared the file but before the bot recorded it: no second copy."""
    first = make_bot()
    parent = _finish_one(first, sandbox, slack)
    [share] = wait_until(lambda: flows.file_replies(slack, parent["ts"]), message="the upload")
    first.stop()
    with sqlite3.connect(first.settings.database_path) as conn:  # as if killed mid-delivery
        conn.execute("update outbox set sent_at = null, slack_ts = null where kind = 'upload'")
        conn.execute("update jobs set video_file_id = null")
    second = make_bot()
    wait_until(lambda: _outbox(second, "upload")[0]["sent_at"], message="row marked sent")
    file_id = share["files"][0]["id"]
    assert _outbox(second, "upload")[0]["slack_ts"] == file_id
    assert job_rows(second)[0]["video_file_id"] == file_id
    assert len(flows.file_replies(slack, parent["ts"])) == 1
    assert len(slack.calls_to("files.getUploadURLExternal")) == 1
