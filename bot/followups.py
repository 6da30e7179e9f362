"""What follows a finished video's result: the mp4 in the thread, the opt-in DM, and a
fresh App Home for a requester who has opened it.

`notify` hands over outbox rows of kind `upload`, `dm` and `home`; each is sent here and
marked sent here. The upload keeps the outbox promise of "once" across restarts: the file is
named after its job, and a row that was already tried looks for that file in the thread
before uploading again; its Slack file id is recorded on the job.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import aiohttp
import httpx
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from . import blocks
from .jobs import DM, Job, OutboxItem
from .slack_calls import error_code, post_message
from .store import Store

log = logging.getLogger(__name__)
MB = 1024 * 1024
DOWNLOAD_TIMEOUT = 120.0


class TooLarge(Exception):
    """The video is bigger than the upload limit; carries its size when known."""

    def __init__(self, size: int | None) -> None:
        super().__init__(size)
        self.size = size


async def download(url: str, max_bytes: int) -> bytes:
    """The file at `url`, read only as far as `max_bytes` (TooLarge beyond it)."""
    async with (
        httpx.AsyncClient(timeout=DOWNLOAD_TIMEOUT, follow_redirects=True) as client,
        client.stream("GET", url) as response,
    ):
        response.raise_for_status()
        declared = int(response.headers.get("Content-Length") or 0)
        if declared > max_bytes:
            raise TooLarge(declared)
        data = bytearray()
        async for chunk in response.aiter_bytes():
            data += chunk
            if len(data) > max_bytes:
                raise TooLarge(declared or None)
        return bytes(data)


def file_name(job: Job) -> str:
    """Unique per job, so a retried upload can recognise its own file in the thread."""
    return f"heygen-video-{job.id[:16]}.mp4"


class FollowUps:
    def __init__(
        self,
        store: Store,
        slack: AsyncWebClient,
        *,
        upload_max_bytes: int,
        home: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self._store = store
        self._slack = slack
        self._max_bytes = upload_max_bytes
        self._home = home  # publishes a person's App Home

    async def refresh_home(self, item: OutboxItem, job: Job) -> None:
        """Show the finished video on the requester's App Home (publishing is idempotent)."""
        if self._home is not None:
            await self._home(job.user_id)
        await self._store.mark_sent(item, None)

    async def upload(self, item: OutboxItem, job: Job) -> None:
        """Put the mp4 in the thread, or say there why it is not there."""
        if item.claimed_at is not None:
            found = await self._uploaded_before(job)
            if found:
                log.info("job %s: the video was uploaded before a restart", job.id)
                await self._store.mark_sent(item, found, video_file_id=found)
                return
        if not self._max_bytes or not job.video_url:
            await self._store.mark_sent(item, None)  # uploads are off, or nothing to upload
            return
        try:
            data = await download(job.video_url, self._max_bytes)
        except TooLarge as error:
            size = f"The video is {_megabytes(error.size)}," if error.size else "The video is"
            limit = _megabytes(self._max_bytes)
            await self._note(item, job, f"{size} over this bot's {limit} upload limit")
            return
        except (httpx.HTTPError, OSError) as error:
            log.warning("job %s: could not download the video: %s", job.id, error)
            await self._note(item, job, "The bot could not download the video from HeyGen")
            return
        try:
            response = await self._slack.files_upload_v2(
                file=data,
                filename=file_name(job),
                title=job.title or "HeyGen avatar video",
                channel=job.channel_id,
                thread_ts=job.reply_thread,
                initial_comment=blocks.UPLOAD_COMMENT,
            )
        except (SlackClientError, aiohttp.ClientError, OSError) as error:
            code = error_code(error)
            log.warning("job %s: Slack refused the upload: %s", job.id, code)
            await self._note(item, job, f"Slack did not accept the upload ({code})")
            return
        file_id = str(response["file"]["id"])
        await self._store.mark_sent(item, file_id, video_file_id=file_id)

    async def _note(self, item: OutboxItem, job: Job, reason: str) -> None:
        response = await self._slack.chat_postMessage(
            channel=job.channel_id,
            thread_ts=job.reply_thread,
            text=blocks.upload_fallback_text(reason),
            unfurl_links=False,
        )
        await self._store.mark_sent(item, response["ts"])

    async def _uploaded_before(self, job: Job) -> str | None:
        """The id of this job's file if a crash cut in after Slack had shared it."""
        if not job.reply_thread:
            return None
        try:
            response = await self._slack.conversations_replies(
                channel=job.channel_id, ts=job.reply_thread, limit=200
            )
        except SlackApiError as error:
            log.info("job %s: cannot look for an earlier upload: %s", job.id, error_code(error))
            return None
        for message in response.get("messages") or []:
            for shared in message.get("files") or []:
                if shared.get("name") == file_name(job):
                    return str(shared["id"])
        return None

    async def direct_message(self, item: OutboxItem, job: Job) -> None:
        """The opt-in DM: the video is finished, and where to find it."""
        permalink = None
        if job.parent_ts:
            try:
                found = await self._slack.chat_getPermalink(
                    channel=job.channel_id, message_ts=job.parent_ts
                )
                permalink = found.get("permalink")
            except SlackApiError as error:
                log.info("job %s: no permalink for the DM: %s", job.id, error_code(error))
        response = await post_message(
            self._slack,
            channel=job.user_id,
            text=blocks.dm_text(job),
            blocks=blocks.dm_blocks(job, permalink),
            unfurl_links=False,
            unfurl_media=False,
            metadata=blocks.message_metadata(job, DM),
        )
        await self._store.mark_sent(item, response["ts"])


def _megabytes(size: int) -> str:
    return f"{size / MB:.3g} MB"
