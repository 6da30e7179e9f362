"""What follows a finished video's result: the mp4 in the thread, the opt-in DM, and a
fresh App Home for a requester who has opened it.

`notify` hands over outbox rows of kind `upload`, `dm` and `home`; each is sent here and
marked sent here. The upload keeps the outbox promise of "once" across restarts: the file is
named after its job, and a row that was already tried looks for that file in the thread
before uploading again; its Slack file id is recorded on the job.

An upload that fails for a passing reason raises `UploadRetry` (bot/upload.py) for the
notifier to schedule again, up to UPLOAD_ATTEMPTS tries; a note in the thread says why the
video is not attached only when it is too large, HeyGen or Slack refused it for good, or
every try failed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from . import blocks
from .jobs import DM, Job, OutboxItem
from .slack_calls import error_code, post_message
from .store import Store
from .upload import (
    MB,
    DownloadRefused,
    Share,
    TooLarge,
    Uploader,
    UploadLimits,
    UploadRefused,
    UploadRetry,
)

log = logging.getLogger(__name__)
UPLOAD_ATTEMPTS = 6  # tries of one upload before the note; below the notifier's MAX_ATTEMPTS


def file_name(job: Job) -> str:
    """Unique per job, so a retried upload can recognise its own file in the thread."""
    return f"heygen-video-{job.id[:16]}.mp4"


class FollowUps:
    def __init__(
        self,
        store: Store,
        slack: AsyncWebClient,
        *,
        uploads: UploadLimits,
        home: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self._store = store
        self._slack = slack
        self._uploader = Uploader(slack, uploads)
        self._home = home  # publishes a person's App Home

    async def aclose(self) -> None:
        await self._uploader.aclose()

    async def refresh_home(self, item: OutboxItem, job: Job) -> None:
        """Show the finished video on the requester's App Home (publishing is idempotent)."""
        if self._home is not None:
            await self._home(job.user_id)
        await self._store.mark_sent(item, None)

    async def upload(self, item: OutboxItem, job: Job) -> None:
        """Put the mp4 in the thread, or say there why it is not there.

        Raises `UploadRetry` when a try failed for a passing reason and tries are left.
        """
        if item.claimed_at is not None:
            found = await self._uploaded_before(job)
            if found:
                log.info("job %s: the video was uploaded before a restart", job.id)
                await self._store.mark_sent(item, found, video_file_id=found)
                return
        if not self._uploader.limits.max_bytes or not job.video_url:
            await self._store.mark_sent(item, None)  # uploads are off, or nothing to upload
            return
        try:
            file_id = await self._uploader.upload(job.video_url, _share(job))
        except UploadRetry as error:
            if item.attempts + 1 < UPLOAD_ATTEMPTS:
                log.warning("job %s: upload try %d failed: %s", job.id, item.attempts + 1, error)
                raise
            log.error("job %s: the upload failed %d times: %s", job.id, UPLOAD_ATTEMPTS, error)
            reason = f"Every try to upload it failed ({error.reason})"
            await self._note(item, job, reason, "failed")
            return
        except (TooLarge, DownloadRefused, UploadRefused) as error:
            await self._note(item, job, *self._not_attached(job, error))
            return
        await self._store.mark_sent(item, file_id, video_file_id=file_id)

    def _not_attached(self, job: Job, error: Exception) -> tuple[str, str]:
        """The note's reason for a video that cannot be uploaded, whatever the retries, and
        the outcome the metrics count it as."""
        if isinstance(error, TooLarge):
            size = f"The video is {_megabytes(error.size)}," if error.size else "The video is"
            limit = _megabytes(self._uploader.limits.max_bytes)
            return f"{size} over this bot's {limit} upload limit", "too_large"
        if isinstance(error, DownloadRefused):
            log.warning("job %s: HeyGen refused the video download: %s", job.id, error.reason)
            return "The bot could not download the video from HeyGen", "download_failed"
        log.warning("job %s: Slack refused the upload: %s", job.id, error)
        return f"Slack did not accept the upload ({error})", "refused"

    async def _note(self, item: OutboxItem, job: Job, reason: str, outcome: str) -> None:
        response = await self._slack.chat_postMessage(
            channel=job.channel_id,
            thread_ts=job.reply_thread,
            text=blocks.upload_fallback_text(reason),
            unfurl_links=False,
        )
        await self._store.mark_sent(item, response["ts"], outcome=outcome)

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


def _share(job: Job) -> Share:
    return Share(
        filename=file_name(job),
        title=job.title or "HeyGen avatar video",
        channel_id=job.channel_id,
        thread_ts=job.reply_thread,
        comment=blocks.UPLOAD_COMMENT,
    )


def _megabytes(size: int) -> str:
    return f"{size / MB:.3g} MB"
