"""SQLite and PostgreSQL answer every store call the same way (each case runs on both).

The PostgreSQL cases need a server (`tests/pg.py` starts a throwaway one); without one
they are skipped with the reason, and the SQLite cases still run.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from bot.jobs import (
    COMPLETED,
    NEW,
    PARENT,
    PARENT_UPDATE,
    PENDING,
    PROCESSING,
    QUEUED,
    RESULT,
    SUBMITTING,
    Job,
)
from bot.store import READS, WRITES, migrations, open_store
from bot.store.postgres import PostgresStore
from bot.store.quota import OverLimit, UserLimits
from tests import flows
from tests.harness import wait_until

Scenario = Callable[[Any], Awaitable[None]]


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path) -> Callable[[Scenario], None]:
    """Runs a scenario against a fresh store of this backend, in its own event loop."""
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    path = str(tmp_path / "bot.db")

    def run(scenario: Scenario) -> None:
        async def main() -> None:
            store = await open_store(path, url)
            try:
                await scenario(store)
            finally:
                await store.aclose()

        asyncio.run(main())

    run.url, run.path = url, path  # type: ignore[attr-defined]
    return run


def make_job(number: int = 1, **fields: Any) -> Job:
    values: dict[str, Any] = {
        "id": f"job{number}",
        "team_id": "T1",
        "channel_id": "C1",
        "user_id": "U1",
        "api_version": "v3",
        "avatar_id": "a",
        "avatar_name": "Avatar",
        "voice_id": "v",
        "voice_name": "Voice",
        "script": f"Script {number}",
        "created_at": 1000.0 + number,
    }
    return Job(**(values | fields))


def test_postgres_store_has_every_store_method() -> None:
    missing = {name for name in READS | WRITES if not hasattr(PostgresStore, name)}
    assert not missing


def test_schema_is_at_the_latest_step_and_reopening_changes_nothing(backend) -> None:
    async def scenario(store) -> None:
        assert await store.add_job(make_job())

    backend(scenario)
    backend(_expect_job_kept)  # opened again: nothing to upgrade, nothing lost
    assert _version(backend) == migrations.LATEST


async def _expect_job_kept(store) -> None:
    assert (await store.job("job1")).script == "Script 1"


def _version(backend) -> int:
    if backend.url:
        import psycopg

        with psycopg.connect(backend.url) as conn:
            return conn.execute("select version from schema_version").fetchone()[0]
    import sqlite3

    return sqlite3.connect(backend.path).execute("select version from schema_version").fetchone()[0]


def test_jobs_round_trip_and_a_replayed_job_is_refused(backend) -> None:
    async def scenario(store) -> None:
        job = make_job(captions=True, pitch=2.5, background="#112233")
        assert await store.add_job(job)
        assert not await store.add_job(make_job(script="again"))
        got = await store.job("job1")
        assert got == job
        assert got.captions is True and got.next_check_at == job.created_at
        assert await store.job("nope") is None
        assert [i.kind for i in await store.pending_outbox(time.time())] == [PARENT]
        assert await store.count_unfinished() == 1
        assert await store.recent_jobs("U1") == [job]
        assert await store.requested_since("U1", 0) == [job.created_at]
        assert await store.running_count("U1") == 1
        assert await store.jobs_by_status() == {NEW: 1}
        backlog, oldest = await store.outbox_backlog()
        assert backlog == 1 and oldest is not None

    backend(scenario)


def test_many_adds_at_once_never_pass_a_persons_limit(backend) -> None:
    """The count and the insert are one step: racing adds leave exactly the limit's worth."""

    async def scenario(store) -> None:
        async def attempt(job: Job, limits: UserLimits) -> bool | str:
            try:
                return await store.add_job(job, limits=limits)
            except OverLimit as refused:
                return f"running={refused.running} per_day={refused.per_day}"

        running = UserLimits(running=3)
        tries = [attempt(make_job(n), running) for n in range(1, 21)]
        daily = UserLimits(per_day=2)
        tries += [attempt(make_job(n, user_id="U2"), daily) for n in range(21, 41)]
        results = await asyncio.gather(*tries)
        assert results[:20].count(True) == 3
        assert results[:20].count("running=3 per_day=0") == 17
        assert results[20:].count(True) == 2
        assert results[20:].count("running=0 per_day=2") == 18
        assert await store.running_count("U1") == 3
        assert len(await store.requested_since("U2", 0)) == 2
        replay = make_job(results.index(True) + 1)
        assert await store.add_job(replay, limits=running) is False  # not an over-limit

    backend(scenario)


def test_queue_order_positions_and_due_jobs(backend) -> None:
    async def scenario(store) -> None:
        for n in (3, 1, 2):
            await store.add_job(make_job(n))
        assert [j.id for j in await store.unsubmitted()] == ["job1", "job2", "job3"]
        assert await store.queue_position(await store.job("job3")) == 3
        await store.update_job("job2", status=PENDING, next_check_at=50.0, video_id="v2")
        await store.update_job("job3", status=PENDING, next_check_at=90.0, video_id="v3")
        assert [j.id for j in await store.due_jobs([PENDING], 60.0)] == ["job2"]
        assert [j.id for j in await store.upcoming_jobs([PENDING], 60.0, 5)] == ["job3"]
        assert await store.next_check_at([PENDING]) == 50.0
        assert (await store.job_by_video("v3")).id == "job3"
        await store.reschedule([("job2", 70.0, 20.0, 4)])
        job2 = await store.job("job2")
        assert (job2.next_check_at, job2.check_interval, job2.checks) == (70.0, 20.0, 4)
        assert await store.start_submitting("job1")
        assert (await store.job("job1")).status == SUBMITTING
        assert not await store.start_submitting("job2")  # has a video already

    backend(scenario)


def test_status_changes_queue_their_messages_once(backend) -> None:
    async def scenario(store) -> None:
        await store.add_job(make_job(1))
        await store.add_job(make_job(2))
        assert await store.record_status("job1", QUEUED)
        assert not await store.record_status("job1", PENDING, only_from=(NEW,))
        assert await store.record_status("job1", PENDING, video_id="v1", only_from=(QUEUED,))
        assert await store.record_status("job1", COMPLETED, video_url="https://x/v.mp4")
        assert not await store.record_status("job1", PROCESSING)  # finished stays finished
        assert not await store.update_job("job1", status=PENDING)
        job = await store.job("job1")
        assert job.status == COMPLETED and job.finished_at and job.next_check_at is None
        kinds = [i.kind for i in await store.pending_outbox(time.time(), limit=50)]
        assert kinds.count(PARENT) == 2 and kinds.count(RESULT) == 1

    backend(scenario)


def test_outbox_heads_claims_and_delivery(backend) -> None:
    async def scenario(store) -> None:
        await store.add_job(make_job(1))
        await store.queue_messages([("job1", PARENT_UPDATE, None), ("job1", RESULT, "job1:r")])
        await store.queue_messages([("job1", PARENT_UPDATE, None), ("job1", RESULT, "job1:r")])
        now = time.time()
        [head] = await store.due_heads(now)
        assert head.kind == PARENT
        assert await store.due_heads(now, busy=["job1"]) == []
        await store.claim(head.id)
        await store.retry_later(head, now + 30, "boom")
        assert await store.next_head_at(now) == now + 30
        [again] = await store.pending_outbox(now + 31, limit=1)
        assert again.attempts == 1 and again.claimed_at is not None
        await store.mark_sent(again, "111.222", parent_ts="111.222")
        assert (await store.job("job1")).parent_ts == "111.222"
        heads = await store.due_heads(time.time())
        assert [h.kind for h in heads] == [PARENT_UPDATE]
        assert await store.count_unsent() == 2  # one update (the second joined it), one result
        await store.give_up(heads[0], "cant_update_message")
        assert [h.kind for h in await store.due_heads(time.time())] == [RESULT]

    backend(scenario)


def test_rendering_parents_are_refreshed_and_held_time_is_added(backend) -> None:
    async def scenario(store) -> None:
        await store.add_job(make_job(1))
        [parent] = await store.pending_outbox(time.time())
        await store.mark_sent(parent, "1.1", parent_ts="1.1")
        await store.record_status("job1", PENDING, video_id="v1")
        for item in await store.pending_outbox(time.time()):
            await store.mark_sent(item, "1.2")
        assert await store.refresh_rendering_parents(older_than=time.time() + 1) == 1
        assert await store.refresh_rendering_parents(older_than=time.time() + 1) == 0
        await store.add_held_time(since=1000.0, until=1010.0)
        assert (await store.job("job1")).held_seconds == pytest.approx(9.0)

    backend(scenario)


def test_preferences_catalog_and_webhook_events(backend) -> None:
    async def scenario(store) -> None:
        assert await store.last_choices("U1") is None
        await store.remember_choices("U1", "a1", "v1", "9:16")
        await store.remember_choices("U1", "a2", "v2", "1:1")
        choices = await store.last_choices("U1")
        assert (choices["avatar_id"], choices["voice_id"], choices["shape"]) == ("a2", "v2", "1:1")
        await store.saw_home("U1")
        assert await store.load_catalog("avatars", "v3") == ([], 0.0)
        records = [{"id": "b", "name": "B"}, {"id": "a", "name": "A"}]
        await store.save_catalog("avatars", "v3", records)
        loaded, at = await store.load_catalog("avatars", "v3")
        assert loaded == records and at > 0
        assert await store.first_delivery("evt1")
        assert not await store.first_delivery("evt1")
        assert await store.ping()
        assert await store.recent_renders(5) == []

    backend(scenario)


def test_replicas_starting_together_migrate_once(pg_url) -> None:
    """Three stores opening one empty database at once: one migrates, all work."""

    async def main() -> None:
        stores = await asyncio.gather(*(PostgresStore.open(pg_url) for _ in range(3)))
        try:
            assert await stores[0].add_job(make_job())
            assert (await stores[2].job("job1")).id == "job1"
        finally:
            for store in stores:
                await store.aclose()

    asyncio.run(main())


@pytest.mark.parametrize("api_version", ["v3", "v2"])
def test_bot_on_postgres_replies_once(make_bot, sandbox, slack, pg_url, api_version) -> None:
    """The whole way, slash command to thread reply and upload, with DATABASE_URL set."""
    bot = make_bot(DATABASE_URL=pg_url, HEYGEN_API_VERSION=api_version)
    avatar, voice = flows.first_choices(sandbox, api_version)
    flows.submit_form(bot, flows.form_values(avatar, voice, "Hello from PostgreSQL"))
    parent = flows.parent_message(slack)
    [reply] = wait_until(lambda: flows.text_replies(slack, parent["ts"]), message="the reply")
    assert f"<@{flows.USER}>" in reply["text"]
    wait_until(lambda: flows.file_replies(slack, parent["ts"]), message="the upload")
    [row] = flows.job_rows(bot)
    assert row["status"] == COMPLETED and row["parent_ts"] == parent["ts"]
    assert len(flows.creates(sandbox)) == 1


def _replicas(url: str, count: int, scenario, lease_seconds: float = 30.0) -> None:
    """Run `scenario(stores)` with `count` replicas' stores on one PostgreSQL database."""

    async def main() -> None:
        opened = [PostgresStore.open(url, lease_seconds=lease_seconds) for _ in range(count)]
        stores = await asyncio.gather(*opened)
        try:
            await scenario(stores)
        finally:
            for store in stores:
                await store.aclose()

    asyncio.run(main())


def test_replicas_never_take_the_same_work(pg_url) -> None:
    async def scenario(stores) -> None:
        a, b, c = stores
        for n in range(1, 41):
            await a.add_job(make_job(n))
        # Submits: each job is started by exactly one replica.
        wins = await asyncio.gather(
            *(s.start_submitting(f"job{n}") for n in range(1, 41) for s in stores)
        )
        assert sum(wins) == 40
        for n in range(1, 41):
            await a.record_status(f"job{n}", PENDING, video_id=f"v{n}", next_check_at=0.0)
        # Status checks: the due jobs are split, never shared.
        claimed = await asyncio.gather(*(s.claim_due([PENDING], time.time(), 15) for s in stores))
        ids = [job.id for jobs in claimed for job in jobs]
        assert len(ids) == len(set(ids)) == 40
        again = await c.claim_due([PENDING], time.time(), 100)  # only what it holds already
        assert {job.id for job in again} == {job.id for job in claimed[2]}
        # Messages: one replica sends each.
        items = await a.pending_outbox(time.time(), limit=500)
        taken = await asyncio.gather(*(s.take(i.id) for i in items for s in stores))
        assert sum(taken) == len(items)
        mine = {i.id for i in items if await b.take(i.id)}
        assert {h.id for h in await b.due_heads(time.time())} <= mine
        # Singletons: one holder; it keeps it, the others do not get it.
        held = await asyncio.gather(*(s.hold_singleton("heartbeat", 30) for s in stores))
        assert sum(held) == 1
        holder = stores[held.index(True)]
        assert await holder.hold_singleton("heartbeat", 30)

    _replicas(pg_url, 3, scenario)


def test_a_dead_replicas_lease_passes_to_another_when_it_expires(pg_url) -> None:
    async def scenario(stores) -> None:
        dead, alive = stores
        await dead.add_job(make_job(1))
        assert await dead.start_submitting("job1")
        assert not await alive.start_submitting("job1")
        [item] = await alive.pending_outbox(time.time())
        assert await dead.take(item.id) and not await alive.take(item.id)
        assert await alive.due_heads(time.time()) == []
        assert await dead.hold_singleton("catalog:v3", 0.5)
        deadline = time.time() + 30
        while not await alive.start_submitting("job1"):  # the dead one's lease runs out
            assert time.time() < deadline
            await asyncio.sleep(0.1)
        assert await alive.take(item.id)
        assert await alive.hold_singleton("catalog:v3", 0.5)
        await alive.mark_sent(item, "1.1")
        assert (await alive.job("job1")).lease_owner == alive.owner

    _replicas(pg_url, 2, scenario, lease_seconds=0.5)


def test_heygen_slots_are_spaced_across_replicas(pg_url) -> None:
    async def scenario(stores) -> None:
        slots = await asyncio.gather(*(s.heygen_slot("acct", 0.1) for s in stores * 10))
        slots = sorted(slots)
        gaps = [b - a for a, b in itertools.pairwise(slots)]
        assert min(gaps) >= 0.1 - 1e-6
        assert await stores[0].heygen_slot("other", 0.1) <= time.time()  # its own account

    _replicas(pg_url, 3, scenario)
