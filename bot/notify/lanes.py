"""Delivers the outbox to Slack in independent lanes: each job's messages in order, no
job ever waiting on another's. Each message is sent under its lease in the database
(`Store.take`), so with several replicas exactly one sends it.

One dispatcher picks each job's next due message and hands it to a lane: a bounded pool
for messages and a smaller one for video uploads, so a 60 s transfer holds one upload slot
and no one's replies. Nothing in a lane sleeps: a message Slack (or our own pacing) says
to send later is rescheduled in the database and its slot freed, and the dispatcher sleeps
until the next message is due or a lane finishes, so waiting burns no CPU.

A rejected token is the whole bot's problem, not a message's: every message is kept, the
Slack credential record says so (`/healthz`, one log line), and the dispatcher checks the
token again with backoff (auth.test) until it works; then everything goes out, once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from ..followups import FollowUps
from ..health import SLACK_AUTH_ERRORS, Credential
from ..jobs import PARENT, RESULT, UPLOAD, Job, OutboxItem
from ..slack_calls import error_code, method_of, rate_limited, retry_after
from ..store import Store, renewing
from ..upload import UploadLimits, UploadRetry
from ..workspaces import CURRENT, Installations, WorkspaceRef
from .pacing import Pacer
from .sends import Sends, call_for

log = logging.getLogger(__name__)
NO_ACCESS = {"not_in_channel", "channel_not_found", "is_archived", "restricted_action"}
PERMANENT = {
    "msg_too_long",
    "no_text",
    "invalid_arguments",
    "message_not_found",
    "cant_update_message",
    "user_not_in_channel",
    "invalid_blocks",
    "too_many_attachments",
}
MAX_ATTEMPTS = 8  # failed attempts; rate limits and a rejected token are not attempts
IDLE = 5.0  # longest sleep with nothing due (keeps `last_tick` fresh for /healthz)
TOKEN_CHECK_FIRST, TOKEN_CHECK_LONGEST = 0.5, 20.0


class Notifier:
    """Sends outbox rows; one instance per process."""

    def __init__(
        self,
        store: Store,
        slack: AsyncWebClient,
        *,
        timeout_seconds: float,
        concurrency: int = 8,
        uploads: UploadLimits | None = None,
        home: Callable[[str], Awaitable[None]] | None = None,
        slack_auth: Credential | None = None,
        workspaces: Installations | None = None,
    ) -> None:
        self._store = store
        self._workspaces = workspaces
        self._slack = slack
        uploads = uploads or UploadLimits()
        self._followups = FollowUps(store, slack, uploads=uploads, home=home)
        self._sends = Sends(store, slack, self._followups, timeout_seconds=timeout_seconds)
        self._pacer = Pacer()
        self._auth = slack_auth or Credential("Slack")
        # Free slots: messages, and uploads (each lane's transfer also waits its turn there).
        self._room = {False: concurrency, True: uploads.concurrency}
        self._busy: dict[str, asyncio.Task] = {}  # job id -> the lane sending its message
        self._token_check = TOKEN_CHECK_FIRST
        self.wake_event = asyncio.Event()
        self.last_tick = time.time()
        self._stopping = False

    def wake(self) -> None:
        self.wake_event.set()

    def stop(self) -> None:
        """Finish the Slack calls under way, then leave the loop (SIGTERM drain)."""
        self._stopping = True
        self.wake()

    async def aclose(self) -> None:
        """Close the connections the uploads keep open (after the loop has ended)."""
        await self._followups.aclose()

    async def run(self) -> None:
        while not self._stopping:
            self.wake_event.clear()
            self.last_tick = time.time()
            try:
                if self._auth.rejected:
                    await self._check_token()
                else:
                    await self._dispatch()
                if not self._stopping:
                    await self._sleep()
            except Exception:  # a bad row or a locked database must never stop delivery
                log.exception("notify pass failed")
                await asyncio.sleep(1.0)
        await asyncio.gather(*self._busy.values(), return_exceptions=True)

    async def _dispatch(self) -> None:
        """Start the next due message of every idle job, as far as the lanes have room."""
        heads = await self._store.due_heads(time.time(), busy=list(self._busy), limit=200)
        for item in heads:
            upload = item.kind == UPLOAD
            if item.job_id in self._busy:
                continue
            if self._room[upload] <= 0:
                continue  # a lane finishing wakes the dispatcher
            self._room[upload] -= 1
            task = asyncio.create_task(self._deliver_leased(item), name=f"notify-{item.id}")
            self._busy[item.job_id] = task
            task.add_done_callback(lambda _, i=item, u=upload: self._lane_done(i, u))

    def _lane_done(self, item: OutboxItem, upload: bool) -> None:
        self._busy.pop(item.job_id, None)
        self._room[upload] += 1
        self.wake()  # the job's next message, or one waiting for room

    async def _sleep(self) -> None:
        """Until a lane finishes, something new is recorded, or the next message is due."""
        if self._auth.rejected:
            delay = self._token_check
        else:
            due = await self._store.next_head_at(time.time(), busy=list(self._busy))
            delay = IDLE if due is None else min(IDLE, max(0.0, due - time.time()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wake_event.wait(), timeout=delay)

    async def _check_token(self) -> None:
        """While Slack rejects the token, ask it again (auth.test), less and less often."""
        try:
            await self._slack.auth_test()
        except SlackApiError as error:
            code = error_code(error)
            if code in SLACK_AUTH_ERRORS:
                self._auth.reject(code)
            self._token_check = min(self._token_check * 2, TOKEN_CHECK_LONGEST)
            return
        except Exception:  # Slack unreachable: not a verdict on the token
            self._token_check = min(self._token_check * 2, TOKEN_CHECK_LONGEST)
            return
        self._auth.accept()
        self._token_check = TOKEN_CHECK_FIRST

    async def _deliver_leased(self, item: OutboxItem) -> None:
        """Deliver `item` if this process wins its lease, renewed while the delivery lasts
        (an upload can outlast it); another replica reading the same head skips it."""
        if not await self._store.take(item.id):
            return
        async with renewing(self._store, "outbox", [item.id]):
            await self._deliver(item)

    async def _deliver(self, item: OutboxItem) -> None:
        job = await self._store.job(item.job_id)
        if job is None:
            await self._store.give_up(item, "job vanished")
            return
        if self._auth.rejected:
            return  # kept as it is; sent when the token works again
        if self._workspaces is not None and not await self._enter_workspace(item, job):
            return
        method, conversation = call_for(item, job)
        not_before = self._pacer.admit(method, conversation, item.id)
        if not_before is not None:
            await self._store.retry_later(item, not_before, "paced", failed=False)
            return
        try:
            if item.claimed_at is not None and await self._sends.already_posted(item, job):
                return
            await self._store.claim(item.id)
            await self._sends.send(item, job)
        except SlackApiError as error:
            await self._failed(item, job, error, conversation)
        except UploadRetry as error:  # a passing fault of the download or of Slack's upload
            await self._retry(item, job, error.reason, not_before=error.retry_after)
        except Exception as error:  # network trouble: Slack may or may not have acted
            await self._retry(item, job, type(error).__name__)

    async def _enter_workspace(self, item: OutboxItem, job: Job) -> bool:
        """Distribution mode: send this lane's calls with the job's workspace token; a
        workspace with no installation any more gets nothing (the message is dropped)."""
        assert self._workspaces is not None
        ref = WorkspaceRef.of_job(job)
        if await self._workspaces.find(ref) is None:
            await self._store.give_up(item, "uninstalled")
            return False
        CURRENT.set(ref)  # this lane's task only
        return True

    async def _failed(
        self, item: OutboxItem, job: Job, error: SlackApiError, conversation: str
    ) -> None:
        code = error_code(error)
        if code in SLACK_AUTH_ERRORS and self._workspaces is not None:
            # One workspace's token, not the bot's: it left (another replica may know).
            log.warning("job %s: Slack refuses its workspace's token (%s)", job.id, code)
            self._workspaces.forget(WorkspaceRef.of_job(job).key)
            await self._store.give_up(item, code)
            return
        if code in SLACK_AUTH_ERRORS:
            self._auth.reject(code)  # logs once for the whole bot, not per message
            self._token_check = TOKEN_CHECK_FIRST
            await self._store.retry_later(item, time.time(), code, failed=False)
            return
        if rate_limited(error):
            until = self._pacer.limited(method_of(error), conversation, retry_after(error))
            log.info("job %s: Slack asks to wait %.1fs (%s)", job.id, until - time.time(), code)
            await self._store.retry_later(item, until, code, failed=False)
            return
        movable = item.kind in (PARENT, RESULT) and job.channel_id != job.user_id
        if code in NO_ACCESS and movable:
            await self._fall_back_to_dm(item, job, code)
        elif code in PERMANENT or code in NO_ACCESS:
            log.error("job %s: Slack refused %s for good: %s", job.id, item.kind, code)
            await self._store.give_up(item, code)
        else:
            await self._retry(item, job, code)

    async def _retry(
        self, item: OutboxItem, job: Job, code: str, *, not_before: float = 0.0
    ) -> None:
        """Back off exponentially with jitter (never sooner than `not_before` seconds); give
        up after MAX_ATTEMPTS failures."""
        if item.attempts + 1 >= MAX_ATTEMPTS:
            log.error(
                "job %s: giving up on %s after %d tries: %s",
                job.id,
                item.kind,
                item.attempts + 1,
                code,
            )
            await self._store.give_up(item, code)
            return
        delay = max(not_before, random.uniform(0.5, 2.0) * 2 ** min(item.attempts, 6))
        log.warning("job %s: Slack %s failed (%s), retry in %.1fs", job.id, item.kind, code, delay)
        await self._store.retry_later(item, time.time() + delay, code)

    async def _fall_back_to_dm(self, item: OutboxItem, job: Job, code: str) -> None:
        """The bot may not post where asked: tell the requester in a DM instead."""
        log.warning("job %s: cannot post in %s (%s); using a DM", job.id, job.channel_id, code)
        changes: dict[str, Any] = {
            "channel_id": job.user_id,
            "thread_ts": None,
            "redirected_from": job.channel_id,
        }
        if item.kind == RESULT:
            changes["parent_ts"] = None  # the thread is out of reach: reply in the DM itself
        await self._store.update_job(job.id, **changes)
        await self._store.retry_later(item, time.time(), code, failed=False)
