"""Another process holding SQLite's write lock delays only what needs to write.

The bot's database calls run off the event loop, so Slack's acks, typeahead and slash
commands go on while a backup, a migration or a stray `sqlite3` shell holds the lock;
the submission waits in its thread and is recorded once the lock clears.
"""

from __future__ import annotations

import subprocess
import sys

import httpx

from bot.playground import inbound as sr
from bot.store import READS, WRITES, SqliteStore
from tests import flows
from tests.harness import wait_until

HOLD_LOCK = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()  # hold the write lock until the test says so
conn.execute("COMMIT")
"""


def test_every_store_method_is_a_read_or_a_write() -> None:
    public = {
        n for n in vars(SqliteStore) if not n.startswith("_") and callable(vars(SqliteStore)[n])
    }
    public -= {"close", "transaction"}
    assert public == READS | WRITES
    assert not READS & WRITES


def test_acks_go_on_while_another_process_holds_the_write_lock(make_bot, slack, sandbox) -> None:
    bot = make_bot(HEYGEN_API_VERSION="v3")
    avatar, voice = flows.first_choices(sandbox, "v3")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, bot.settings.database_path],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        submitted = flows.submit_form(bot, flows.form_values(avatar, voice, "Held up"))
        assert submitted.status_code == 200
        # The job's INSERT now waits for the lock in the store's writer thread; the loop
        # must still answer Slack. A blocked loop would leave these unanswered until the
        # lock clears, which only happens below.
        for request in (sr.slash_command("Another one"), sr.slash_command("help")):
            assert bot.send(request).status_code == 200
        options = bot.send(sr.block_suggestion("avatar", "avatar", ""))
        assert options.status_code == 200 and options.json()["options"]
        assert httpx.get(bot.url + "/healthz", timeout=10).status_code == 200
        assert flows.job_rows(bot) == []  # not recorded while the lock is held
    finally:
        holder.stdin.write("release\n")
        holder.stdin.flush()
        holder.wait(10)
    rows = wait_until(lambda: flows.job_rows(bot), message="the job recorded after the lock")
    assert [r["script"] for r in rows] == ["Held up"]
    parent = flows.parent_message(slack)
    assert parent["channel"] == flows.CHANNEL
