"""Streams a finished video from HeyGen into a Slack thread, a chunk at a time.

Slack's external upload flow: `files.getUploadURLExternal` (name and length) hands out a URL,
the bytes are POSTed there as they arrive from HeyGen, and `files.completeUploadExternal`
shares the file in the thread. One upload holds about one chunk in flight (plus the
sockets' buffers) whatever the file's size; a download without a Content-Length is spooled
to a temporary file on disk first, because Slack needs the length before the bytes. At most
`UploadLimits.concurrency` uploads run at once; the others wait their turn.

Failures come out typed, so the caller knows what to do and what to tell people:
- `UploadRetry(reason, retry_after)`: network trouble, a timeout, a 5xx or 429 from HeyGen
  or Slack. Nothing was shared: try the whole upload again later, not sooner than
  `retry_after` seconds.
- `UploadRefused(reason)`: Slack refused for good (`missing_scope`, `not_in_channel`, ...).
- `DownloadRefused(reason)`: HeyGen's file server refused for good (an expired link's 403).
- `TooLarge(size)`: over the upload limit (size None when the server did not say).
- `SlackApiError` for a rejected token (`invalid_auth`, `token_revoked`, ...) passes through
  untouched: the notifier holds every message until the token works again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import IO, Any

import aiohttp
import httpx
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from .config import Settings

log = logging.getLogger(__name__)
MB = 1024 * 1024
CHUNK = 256 * 1024
CREDENTIAL_ERRORS = frozenset({"invalid_auth", "not_authed", "account_inactive", "token_revoked"})
TRANSIENT_ERRORS = frozenset(
    {"internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited"}
)


class UploadRetry(Exception):
    """A passing failure (network, timeout, 5xx, 429): upload again after `retry_after` s."""

    def __init__(self, reason: str, retry_after: float = 0.0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class UploadRefused(Exception):
    """Slack refused the upload for good; `reason` is Slack's error code."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class DownloadRefused(Exception):
    """HeyGen's file server refused the video for good (e.g. 403 for an expired link)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TooLarge(Exception):
    """The video is bigger than the upload limit; carries its size when known."""

    def __init__(self, size: int | None) -> None:
        super().__init__(size)
        self.size = size


@dataclass(frozen=True)
class UploadLimits:
    """How big, how slow and how many: UPLOAD_MAX_MB, the two timeouts, UPLOAD_CONCURRENCY."""

    max_bytes: int = 50 * MB
    download_timeout: float = 120.0  # longest stall (no bytes) of a download from HeyGen
    slack_timeout: float = 30.0  # longest stall of the POST of the bytes to Slack
    concurrency: int = 2

    @classmethod
    def from_settings(cls, settings: Settings) -> UploadLimits:
        return cls(
            max_bytes=int(settings.upload_max_mb * MB),
            download_timeout=settings.download_timeout_seconds,
            slack_timeout=settings.slack_timeout_seconds,
            concurrency=settings.upload_concurrency,
        )


@dataclass(frozen=True)
class Share:
    """Where and how the file appears in Slack."""

    filename: str
    title: str
    channel_id: str
    thread_ts: str | None
    comment: str


class Uploader:
    """Moves videos from HeyGen to Slack; one per process, so the concurrency cap is global."""

    def __init__(self, slack: AsyncWebClient, limits: UploadLimits) -> None:
        self._slack = slack
        self.limits = limits
        self._turns = asyncio.Semaphore(limits.concurrency)
        # One client for every transfer: building one loads the CA certificates, tens of
        # milliseconds of the event loop each time, which every Slack ack would wait out.
        self._http = httpx.AsyncClient(follow_redirects=True)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def upload(self, video_url: str, share: Share) -> str:
        """Stream the video at `video_url` into Slack as `share`; Slack's file id."""
        async with self._turns:
            try:
                return await self._transfer(video_url, share)
            except (httpx.TimeoutException, TimeoutError) as error:
                raise UploadRetry(f"timed out ({type(error).__name__})") from error
            except (httpx.HTTPError, aiohttp.ClientError, OSError) as error:
                raise UploadRetry(f"network error ({type(error).__name__})") from error
            except SlackApiError as error:
                classified = _classified(error)
                if classified is error:
                    raise
                raise classified from error
            except SlackClientError as error:  # e.g. a connection slack_sdk could not make
                raise UploadRetry(f"Slack client error ({type(error).__name__})") from error

    async def _transfer(self, video_url: str, share: Share) -> str:
        limits = self.limits
        # Per-operation timeouts: each read, write or connect may take this long, so a slow
        # transfer that keeps moving is never cut off, only one that stalls.
        http = self._http
        async with http.stream(
            "GET",
            video_url,
            headers={"Accept-Encoding": "identity"},  # the length is the file's length
            timeout=httpx.Timeout(limits.download_timeout),
        ) as download:
            _check_download(download)
            declared = download.headers.get("Content-Length")
            if declared is not None:
                length = int(declared)
                if length > limits.max_bytes:
                    raise TooLarge(length)
                return await self._send(http, share, length, _counted(download, length))
            with tempfile.TemporaryFile(prefix="heygen-video-") as spool:
                length = await _spool(download, spool, limits.max_bytes)
                return await self._send(http, share, length, _from_spool(spool))

    async def _send(
        self, http: httpx.AsyncClient, share: Share, length: int, body: AsyncIterator[bytes]
    ) -> str:
        if length < 1:
            raise DownloadRefused("the file is empty")
        target = await self._slack.files_getUploadURLExternal(
            filename=share.filename, length=length
        )
        answer = await http.post(
            target["upload_url"],
            content=body,
            headers={"Content-Length": str(length), "Content-Type": "application/octet-stream"},
            timeout=httpx.Timeout(self.limits.slack_timeout),
        )
        if answer.status_code == 429 or answer.status_code >= 500:
            raise UploadRetry(f"Slack answered HTTP {answer.status_code}", _retry_after(answer))
        if answer.status_code != 200:
            raise UploadRefused(f"HTTP {answer.status_code}")
        done = await self._slack.files_completeUploadExternal(
            files=[{"id": target["file_id"], "title": share.title}],
            channel_id=share.channel_id,
            thread_ts=share.thread_ts,
            initial_comment=share.comment,
        )
        return str(done["files"][0]["id"])


def _check_download(response: httpx.Response) -> None:
    status = response.status_code
    if status == 429 or status >= 500:
        raise UploadRetry(f"HeyGen answered HTTP {status}", _retry_after(response))
    if status != 200:
        raise DownloadRefused(f"HTTP {status}")


async def _counted(download: httpx.Response, length: int) -> AsyncIterator[bytes]:
    """The download's bytes, refusing more than it declared (httpx refuses fewer)."""
    sent = 0
    async for chunk in download.aiter_bytes(CHUNK):
        sent += len(chunk)
        if sent > length:
            raise UploadRetry("HeyGen sent more bytes than it declared")
        yield chunk


async def _spool(download: httpx.Response, spool: IO[bytes], max_bytes: int) -> int:
    """Copy a download of unknown length to disk, up to `max_bytes`; its length."""
    length = 0
    async for chunk in download.aiter_bytes(CHUNK):
        length += len(chunk)
        if length > max_bytes:
            raise TooLarge(None)
        await asyncio.to_thread(spool.write, chunk)
    await asyncio.to_thread(spool.seek, 0)
    return length


async def _from_spool(spool: IO[bytes]) -> AsyncIterator[bytes]:
    while chunk := await asyncio.to_thread(spool.read, CHUNK):
        yield chunk


def _classified(error: SlackApiError) -> Exception:
    """What a Slack `ok: false` means for the upload: retry, refusal, or a bad token."""
    response = error.response
    code = str(response.get("error") or "unknown")
    if code in CREDENTIAL_ERRORS:
        return error  # the notifier's: it holds the message while the token is rejected
    if response.status_code == 429 or response.status_code >= 500 or code in TRANSIENT_ERRORS:
        return UploadRetry(code, _retry_after(response))
    return UploadRefused(code)


def _retry_after(response: Any) -> float:
    with contextlib.suppress(AttributeError, TypeError, ValueError):
        return float(response.headers.get("Retry-After") or 0)
    return 0.0
