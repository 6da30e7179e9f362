"""Delivers the outbox to Slack: each recorded message is sent once, in order per job.

A row is claimed before its Slack call and marked sent (with Slack's `ts`) only after
Slack said `ok`; failures are retried with backoff, and a conversation the bot cannot
post in falls back to a DM to the requester that says why.
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

from . import blocks
from .followups import FollowUps
from .jobs import (
    DM,
    EPHEMERAL,
    HOME,
    KEY_REJECTED,
    PARENT,
    PARENT_UPDATE,
    QUEUED,
    RESULT,
    UPLOAD,
    Job,
    OutboxItem,
)
from .store import Store
from .upload import UploadLimits

log = logging.getLogger(__name__)
NO_ACCESS = {"not_in_channel", "channel_not_found", "is_archived", "restricted_action"}
PERMANENT = {
    "invalid_auth",
    "not_authed",
    "account_inactive",
    "token_revoked",
    "msg_too_long",
    "no_text",
    "invalid_arguments",
    "message_not_found",
    "cant_update_message",
    "user_not_in_channel",
    "invalid_blocks",
    "too_many_attachments",
}
MAX_ATTEMPTS = 8
READ_BACK = (PARENT, RESULT, DM)  # kinds a restarted bot looks for before sending again


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
    ) -> None:
        self._store = store
        self._slack = slack
        self._followups = FollowUps(store, slack, uploads=uploads or UploadLimits(), home=home)
        self._timeout = timeout_seconds
        self._limit = asyncio.Semaphore(concurrency)
        self.wake_event = asyncio.Event()
        self.last_tick = time.time()
        self._stopping = False

    def wake(self) -> None:
        self.wake_event.set()

    def stop(self) -> None:
        """Finish the Slack calls under way, then leave the loop (SIGTERM drain)."""
        self._stopping = True
        self.wake()

    async def run(self) -> None:
        while not self._stopping:
            self.wake_event.clear()
            self.last_tick = time.time()
            try:
                await self.deliver_due()
            except Exception:  # a bad row must never stop delivery of the others
                log.exception("notify pass failed")
            if not self._stopping:
                await self._sleep()

    async def _sleep(self) -> None:
        due = await self._store.next_outbox_at()
        delay = 5.0 if due is None else min(5.0, max(0.01, due - time.time()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wake_event.wait(), timeout=delay)

    async def deliver_due(self) -> None:
        """Send every due row whose job has nothing older still unsent."""
        items = await self._store.pending_outbox(time.time(), limit=200)
        first_per_job: dict[str, OutboxItem] = {}
        for item in items:
            if item.job_id not in first_per_job and not await self._store.has_unsent_earlier(item):
                first_per_job[item.job_id] = item
        await asyncio.gather(*(self._deliver(item) for item in first_per_job.values()))
        if len(first_per_job) < len(items) or len(items) == 200:
            self.wake()  # the next message of those jobs is due at once

    async def _deliver(self, item: OutboxItem) -> None:
        async with self._limit:
            job = await self._store.job(item.job_id)
            if job is None:
                await self._store.give_up(item, "job vanished")
                return
            try:
                if item.claimed_at is not None and await self._already_posted(item, job):
                    return
                await self._store.claim(item.id)
                await self._send(item, job)
            except SlackApiError as error:
                await self._failed(item, job, error)
            except Exception as error:  # network trouble past slack_sdk's own retries
                await self._retry(item, job, type(error).__name__, 0.0)

    async def _already_posted(self, item: OutboxItem, job: Job) -> bool:
        """A crash may have cut in between Slack's `ok` and our record of it: look first.

        Our messages carry metadata naming their job and kind, so the thread (or channel,
        or the requester's DM) tells whether this one went out. If Slack cannot be asked,
        send again; if Slack cannot be reached, the caller tries again later.
        """
        if item.kind not in READ_BACK:
            return False
        found = await self._find_posted(item, job)
        if found is None:
            return False
        log.info("job %s: %s was posted before a restart; not posting again", job.id, item.kind)
        if item.kind == PARENT:
            ts = found["ts"]
            await self._store.mark_sent(item, ts, parent_ts=ts, channel_id=found["channel"])
        else:
            await self._store.mark_sent(item, found["ts"])
        return True

    async def _find_posted(self, item: OutboxItem, job: Job) -> dict[str, Any] | None:
        try:
            channel, response = await self._read_back(item, job)
        except SlackApiError as error:
            log.info(
                "job %s: cannot check Slack for %s (%s)", job.id, item.kind, _error_code(error)
            )
            return None
        for message in response.get("messages") or []:
            meta = message.get("metadata") or {}
            payload = meta.get("event_payload") or {}
            if meta.get("event_type") == blocks.METADATA_TYPE and payload == {
                "job_id": job.id,
                "kind": item.kind,
            }:
                return {**message, "channel": channel}
        return None

    async def _read_back(self, item: OutboxItem, job: Job) -> tuple[str, Any]:
        """The conversation where `item` would be, and its messages (thread or latest)."""
        channel = job.channel_id
        if item.kind == DM or channel == job.user_id:  # sent to the user id: Slack names the DM
            opened = await self._slack.conversations_open(users=job.user_id)
            channel = opened["channel"]["id"]
        thread = {DM: None, RESULT: job.reply_thread}.get(item.kind, job.thread_ts)
        if thread:
            replies = await self._slack.conversations_replies(
                channel=channel, ts=thread, include_all_metadata=True, limit=200
            )
            return channel, replies
        history = await self._slack.conversations_history(
            channel=channel,
            oldest=str((item.claimed_at or 0) - 600),
            include_all_metadata=True,
            limit=200,
        )
        return channel, history

    async def _send(self, item: OutboxItem, job: Job) -> None:
        if item.kind == PARENT:
            await self._post_parent(item, job)
        elif item.kind == PARENT_UPDATE:
            await self._update_parent(item, job)
        elif item.kind == RESULT:
            await self._post_result(item, job)
        elif item.kind == EPHEMERAL:
            await self._post_ephemeral(item, job)
        elif item.kind == UPLOAD:
            await self._followups.upload(item, job)
        elif item.kind == DM:
            await self._followups.direct_message(item, job)
        elif item.kind == HOME:
            await self._followups.refresh_home(item, job)
        elif item.kind == KEY_REJECTED:
            await self._post_key_rejected(item, job)
        else:
            await self._store.give_up(item, f"unknown kind {item.kind}")

    async def _post_parent(self, item: OutboxItem, job: Job) -> None:
        response = await self._slack.chat_postMessage(
            channel=job.channel_id,
            thread_ts=job.thread_ts,
            text=blocks.parent_text(job),
            blocks=await self._parent_blocks(job),
            unfurl_links=False,
            unfurl_media=False,
            metadata=blocks.message_metadata(job, item.kind),
        )
        await self._store.mark_sent(
            item, response["ts"], parent_ts=response["ts"], channel_id=response["channel"]
        )

    async def _parent_blocks(self, job: Job) -> list[dict[str, Any]]:
        position = await self._store.queue_position(job) if job.status == QUEUED else None
        return blocks.parent_blocks(job, now=time.time(), queue_position=position)

    async def _update_parent(self, item: OutboxItem, job: Job) -> None:
        if not job.parent_ts:
            await self._store.give_up(item, "no parent message to update")
            return
        await self._slack.chat_update(
            channel=job.channel_id,
            ts=job.parent_ts,
            text=blocks.parent_text(job),
            blocks=await self._parent_blocks(job),
        )
        await self._store.mark_sent(item, job.parent_ts)

    async def _post_result(self, item: OutboxItem, job: Job) -> None:
        content = blocks.result_blocks(job, timeout_seconds=self._timeout)
        try:
            response = await self._post_reply(job, content)
        except SlackApiError as error:
            if _error_code(error) != "invalid_blocks":
                raise
            # Slack could not fetch an image (e.g. a sandbox URL on localhost).
            log.warning("job %s: Slack refused the image blocks; sending without them", job.id)
            response = await self._post_reply(job, [b for b in content if b["type"] != "image"])
        await self._store.mark_sent(item, response["ts"])

    async def _post_reply(self, job: Job, content: list[dict[str, Any]]) -> Any:
        return await self._slack.chat_postMessage(
            channel=job.channel_id,
            thread_ts=job.reply_thread,
            text=blocks.result_text(job),
            blocks=content,
            unfurl_links=False,
            unfurl_media=False,
            metadata=blocks.message_metadata(job, RESULT),
        )

    async def _post_key_rejected(self, item: OutboxItem, job: Job) -> None:
        """Tell the requester, in the thread, that the video waits for a working HeyGen key."""
        response = await self._slack.chat_postMessage(
            channel=job.channel_id, thread_ts=job.reply_thread, text=blocks.key_rejected_text(job)
        )
        await self._store.mark_sent(item, response["ts"])

    async def _post_ephemeral(self, item: OutboxItem, job: Job) -> None:
        text = blocks.rejection_text(job)
        if job.sandbox:
            text += " _(HeyGen sandbox)_"
        response = await self._slack.chat_postEphemeral(
            channel=job.channel_id, user=job.user_id, text=text
        )
        await self._store.mark_sent(item, response.get("message_ts"))

    async def _failed(self, item: OutboxItem, job: Job, error: SlackApiError) -> None:
        code = _error_code(error)
        movable = item.kind in (PARENT, RESULT) and job.channel_id != job.user_id
        if code in NO_ACCESS and movable:
            await self._fall_back_to_dm(item, job, code)
        elif code in PERMANENT or code in NO_ACCESS:
            log.error("job %s: Slack refused %s for good: %s", job.id, item.kind, code)
            await self._store.give_up(item, code)
        else:
            await self._retry(item, job, code, _retry_after(error))
        self.wake()

    async def _retry(self, item: OutboxItem, job: Job, code: str, retry_after: float) -> None:
        """Back off exponentially with jitter, never sooner than Slack's Retry-After."""
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
        delay = max(retry_after, random.uniform(0.5, 2.0) * 2 ** min(item.attempts, 6))
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
        await self._store.retry_later(item, time.time(), code)


def _error_code(error: SlackApiError) -> str:
    try:
        return str(error.response.get("error") or "unknown")
    except AttributeError:
        return "unknown"


def _retry_after(error: SlackApiError) -> float:
    try:
        return float(error.response.headers.get("Retry-After", 0))
    except (AttributeError, TypeError, ValueError):
        return 0.0
