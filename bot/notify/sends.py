"""What each outbox kind sends to Slack, and how a restarted bot finds what it sent.

Exactly once rests on reading back: a message Slack posted but whose answer was lost (or a
crash between Slack's `ok` and our record of it) carries metadata naming its job and kind,
so the thread, channel or DM shows whether it went out. Slack lets the bot read only the
conversations it is a member of (`not_in_channel` in a public channel it posts to with
`chat:write.public`), so before its first post in a public channel the bot joins it
(`channels:join`); then the read-back works there too.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from .. import blocks
from ..followups import FollowUps
from ..health import SLACK_AUTH_ERRORS
from ..jobs import (
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
from ..slack_calls import error_code, post_message, rate_limited
from ..store import Store

log = logging.getLogger(__name__)
# Kinds a retry looks for in Slack before sending again, and kinds posted in the job's channel.
READ_BACK = (PARENT, RESULT, DM, KEY_REJECTED)
JOIN_FIRST = (PARENT, RESULT, KEY_REJECTED)
IN_REPLY_THREAD = (RESULT, KEY_REJECTED)


def call_for(item: OutboxItem, job: Job) -> tuple[str, str]:
    """The Slack method `item` calls and the conversation it counts against (for limits)."""
    if item.kind == PARENT_UPDATE:
        return "chat.update", job.channel_id
    if item.kind == EPHEMERAL:
        return "chat.postEphemeral", job.channel_id
    if item.kind == UPLOAD:
        return "files.upload", job.channel_id
    if item.kind == HOME:
        return "views.publish", job.user_id
    if item.kind == DM:
        return "chat.postMessage", job.user_id
    return "chat.postMessage", job.channel_id


class Sends:
    """One send per outbox kind; each marks its row sent with Slack's `ts`."""

    def __init__(
        self, store: Store, slack: AsyncWebClient, followups: FollowUps, *, timeout_seconds: float
    ) -> None:
        self._store = store
        self._slack = slack
        self._followups = followups
        self._timeout = timeout_seconds
        self._joined: set[str] = set()  # public channels joined (or tried) by this process

    async def send(self, item: OutboxItem, job: Job) -> None:
        if item.kind in JOIN_FIRST:
            await self._join(job.channel_id)
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

    async def _join(self, channel: str) -> None:
        """Be a member of a public channel before posting there, so it can be read back.

        Joining is idempotent (`already_in_channel`); without `channels:join` the bot still
        posts (chat:write.public) but then cannot check a lost answer there.
        """
        if not channel.startswith("C") or channel in self._joined:
            return
        try:
            await self._slack.conversations_join(channel=channel)
        except SlackApiError as error:
            code = error_code(error)
            if code in SLACK_AUTH_ERRORS or rate_limited(error):
                raise
            log.warning(
                "cannot join %s (%s): posting without joining; after a lost answer the bot "
                "cannot check there whether its message went out",
                channel,
                code,
            )
        self._joined.add(channel)

    async def already_posted(self, item: OutboxItem, job: Job) -> bool:
        """A lost answer or a crash may have cut in between Slack's `ok` and our record of
        it: look first. If Slack refuses the look (no scope, not a member), send again."""
        if item.kind not in READ_BACK:
            return False
        if item.kind in JOIN_FIRST:
            await self._join(job.channel_id)
        found = await self._find_posted(item, job)
        if found is None:
            return False
        log.info("job %s: %s was posted already; not posting again", job.id, item.kind)
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
            code = error_code(error)
            if code in SLACK_AUTH_ERRORS or rate_limited(error):
                raise
            log.warning("job %s: cannot check Slack for %s (%s)", job.id, item.kind, code)
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
        thread = _thread_of(item, job)
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

    async def _post_parent(self, item: OutboxItem, job: Job) -> None:
        response = await post_message(
            self._slack,
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
        """The announcement as the job is now (so one edit stands for all queued before it).

        The job is read again here, after the row was claimed: a change recorded before the
        claim joined this row and must be in what is sent; one recorded after it queued a
        row of its own.
        """
        job = await self._store.job(job.id) or job
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
        response = await post_message(
            self._slack,
            channel=job.channel_id,
            thread_ts=job.reply_thread,
            text=blocks.result_text(job),
            blocks=blocks.result_blocks(job, timeout_seconds=self._timeout),
            unfurl_links=False,
            unfurl_media=False,
            metadata=blocks.message_metadata(job, RESULT),
        )
        await self._store.mark_sent(item, response["ts"])

    async def _post_key_rejected(self, item: OutboxItem, job: Job) -> None:
        """Tell the requester, in the thread, that the video waits for a working HeyGen key."""
        response = await post_message(
            self._slack,
            channel=job.channel_id,
            thread_ts=job.reply_thread,
            text=blocks.key_rejected_text(job),
            metadata=blocks.message_metadata(job, KEY_REJECTED),
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


def _thread_of(item: OutboxItem, job: Job) -> str | None:
    """The thread `item` is posted in (None: the conversation itself)."""
    if item.kind == DM:
        return None
    return job.reply_thread if item.kind in IN_REPLY_THREAD else job.thread_ts
