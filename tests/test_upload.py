"""The finished mp4 is uploaded into the thread once, or a note says why it is not.

The mp4 streams from HeyGen to Slack (files.getUploadURLExternal, the upload_url POST,
files.completeUploadExternal) without being held in memory; network errors, timeouts and
5xx are retried; only Slack's permanent refusals and a too-large video leave a note.
"""

from __future__ import annotations

import sqlite3
import threading
import time

import psutil
import pytest

from tests import flows
from tests.flows import first_choices, job_rows, parent_message
from tests.harness import HTTP, ProcessBot, bot_env, wait_until

MB = 1024 * 1024


def _finish_one(
    bot, sandbox, slack, version: str = "v3", script: str = "Upload me", **form
) -> dict:
    avatar, voice = first_choices(sandbox, version)
    flows.submit_form(bot, flows.form_values(avatar, voice, script, **form))
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


def _notes(slack, parent_ts: str) -> list[dict]:
    return [m for m in flows.text_replies(slack, parent_ts) if "not attached" in m["text"]]


def _completed(slack) -> list[dict]:
    return [f for f in slack.files if f["completed"]]


def _uploaded_once(bot, slack, parent: dict) -> dict:
    """The one file shared in the thread, with its bytes as HeyGen served them, and no note."""
    [share] = wait_until(lambda: flows.file_replies(slack, parent["ts"]), message="the upload")
    wait_until(lambda: _outbox(bot, "upload")[0]["sent_at"], message="upload row marked sent")
    [record] = _completed(slack)
    assert record["id"] == share["files"][0]["id"] == job_rows(bot)[0]["video_file_id"]
    assert record["data"] == HTTP.get(job_rows(bot)[0]["video_url"]).content
    assert _notes(slack, parent["ts"]) == []
    return record


def test_failed_upload_post_is_retried(make_bot, sandbox, slack) -> None:
    """A 5xx, then a reset, on the bytes' POST: tried again, one upload, no note."""
    bot = make_bot()
    slack.fail_next("upload", status=500)
    slack.fail_next("upload", drop_connection=True)
    parent = _finish_one(bot, sandbox, slack)
    _uploaded_once(bot, slack, parent)
    assert [c.status for c in slack.calls_to("upload")][:2] == [500, 0]
    assert len(slack.calls_to("files.getUploadURLExternal")) == 3
    assert len(slack.calls_to("files.completeUploadExternal")) == 1


def test_slack_timeout_is_retried_and_the_file_shared_once(make_bot, sandbox, slack) -> None:
    """Slack kept the bytes but answered after SLACK_TIMEOUT_SECONDS: a new upload, one share."""
    bot = make_bot(SLACK_TIMEOUT_SECONDS="1")
    slack.slow_next("upload", 3)
    parent = _finish_one(bot, sandbox, slack)
    _uploaded_once(bot, slack, parent)
    assert len(slack.calls_to("upload")) == 2


def test_lost_completion_answer_does_not_share_twice(make_bot, sandbox, slack) -> None:
    """Slack shared the file but the answer was lost: the retry finds it in the thread."""
    bot = make_bot()
    slack.fail_next("files.completeUploadExternal", drop_connection=True, after_handling=True)
    parent = _finish_one(bot, sandbox, slack)
    record = _uploaded_once(bot, slack, parent)
    assert _outbox(bot, "upload")[0]["slack_ts"] == record["id"]
    assert len(slack.calls_to("files.getUploadURLExternal")) == 1


@pytest.mark.parametrize("fault", ["timeout", "reset", "503"])
def test_failed_download_is_retried(make_bot, sandbox, slack, fault: str) -> None:
    """HeyGen's file server stalls (past DOWNLOAD_TIMEOUT_SECONDS), drops or fails: try again."""
    bot = make_bot(DOWNLOAD_TIMEOUT_SECONDS="1")
    rule = {"path_prefix": "/files/videos/", "method": "GET", "fault": fault}
    HTTP.post(sandbox.url + "/_sandbox/faults", json={"timeout_seconds": 5, "next": [rule]})
    parent = _finish_one(bot, sandbox, slack)
    wait_until(lambda: flows.file_replies(slack, parent["ts"]), message="the upload")
    downloads = flows.heygen_requests(sandbox, "GET", "/files/videos/")
    assert len([d for d in downloads if d["path"].endswith("video.mp4")]) == 2
    _uploaded_once(bot, slack, parent)


def test_slow_download_that_keeps_moving_is_not_cut_off(make_bot, sandbox, slack) -> None:
    """DOWNLOAD_TIMEOUT_SECONDS is how long the transfer may stall, not how long it may take."""
    bot = make_bot(DOWNLOAD_TIMEOUT_SECONDS="1")
    parent = _finish_one(bot, sandbox, slack, script="[sandbox:size:0.6] [sandbox:throttle:200000]")
    started = time.monotonic()
    record = _uploaded_once(bot, slack, parent)
    assert record["size"] == int(0.6 * MB)
    assert time.monotonic() - started > 1.5  # slower than the timeout, and still one try
    assert len(slack.calls_to("files.getUploadURLExternal")) == 1


def test_video_without_a_length_is_spooled_then_uploaded(make_bot, sandbox, slack) -> None:
    bot = make_bot()
    parent = _finish_one(bot, sandbox, slack, script="No length [sandbox:chunked]")
    record = _uploaded_once(bot, slack, parent)
    assert record["length"] == record["size"] == len(record["data"])


def test_too_large_video_without_a_length_leaves_the_size_note(make_bot, sandbox, slack) -> None:
    bot = make_bot(UPLOAD_MAX_MB="0.5")
    parent = _finish_one(bot, sandbox, slack, script="[sandbox:size:1] [sandbox:chunked]")
    [note] = wait_until(lambda: _notes(slack, parent["ts"]), message="the note")
    assert "over this bot's 0.5 MB upload limit" in note["text"]
    assert slack.calls_to("files.getUploadURLExternal") == []


def test_scope_removed_mid_upload_leaves_one_note(make_bot, sandbox, slack) -> None:
    """A permanent refusal on completion (missing_scope): one note naming it, no retry."""
    bot = make_bot()
    parent = _finish_one(bot, sandbox, slack, script="[sandbox:size:1] [sandbox:throttle:400000]")
    slack.wait_for("files.getUploadURLExternal", timeout=15)
    slack.scopes.discard("files:write")  # while the bytes are still on their way
    [note] = wait_until(lambda: _notes(slack, parent["ts"]), message="the note")
    assert "Slack did not accept the upload (missing_scope)" in note["text"]
    assert flows.file_replies(slack, parent["ts"]) == []
    assert len(slack.calls_to("files.completeUploadExternal")) == 1
    assert len(slack.calls_to("files.getUploadURLExternal")) == 1
    assert job_rows(bot)[0]["video_file_id"] is None


def test_large_video_streams_through_in_bounded_memory(slack, sandbox, tmp_path) -> None:
    """A 20 MB video reaches Slack whole while the bot's memory grows by far less than that."""
    env = bot_env(slack.url, sandbox.url, str(tmp_path / "bot.db"))
    bot = ProcessBot(env, tmp_path / "bot.log").start()
    try:
        warm = _finish_one(bot, sandbox, slack)  # every code path loaded before measuring
        wait_until(lambda: flows.file_replies(slack, warm["ts"]), message="the first upload")
        process = psutil.Process(bot.proc.pid)
        before = process.memory_info().rss
        peak = _peak_rss_while(
            process,
            lambda: len(_completed(slack)) == 2,
            lambda: _submit(bot, sandbox, "Big [sandbox:size:20] [sandbox:throttle:10000000]"),
        )
        big = _completed(slack)[-1]
        assert big["size"] == 20 * MB and big["data"][4:8] == b"ftyp"
        assert peak - before < 8 * MB, f"grew {(peak - before) / MB:.1f} MB for a 20 MB video"
    finally:
        bot.terminate()


def _submit(bot, sandbox, script: str) -> None:
    avatar, voice = first_choices(sandbox, "v3")
    flows.submit_form(bot, flows.form_values(avatar, voice, script))


def _peak_rss_while(process: psutil.Process, done, start) -> int:
    """The highest RSS seen (sampled every few ms) from `start()` until `done()`."""
    peak, stop = [process.memory_info().rss], threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], process.memory_info().rss)
            time.sleep(0.002)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        start()
        wait_until(done, timeout=60, message="the big upload")
    finally:
        stop.set()
        sampler.join()
    return peak[0]
