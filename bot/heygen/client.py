"""One HeyGen client: connection reuse, rate cap, retries and error mapping.

The two API dialects (`v2.py`, `v3.py`) subclass it and only translate shapes; how a
call is sent, retried and turned into a typed error lives here once.
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import itertools
import json
import logging
import math
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import quote

import httpx

from .types import (
    Avatar,
    Credit,
    HeyGenError,
    HeyGenUnavailable,
    OutcomeUnknown,
    VideoSpec,
    VideoState,
    Voice,
)

log = logging.getLogger(__name__)

SHAPES = {"16:9": (16, 9), "9:16": (9, 16), "1:1": (1, 1)}
RESOLUTIONS = {"720p": 720, "1080p": 1080}
CAP_WINDOW = 1.05  # seconds in which at most HEYGEN_MAX_RPS requests leave (5 % margin)


class RateCap:
    """At most `rps` requests from this process in any one second, spaced evenly.

    Each request waits for its slot (1/rps after the previous one, plus a 5 % margin so
    network jitter cannot bunch arrivals at HeyGen past the cap) and, as a hard limit,
    until the request `rps` places back is that long ago, so late wake-ups can bunch
    requests but never past the cap. Waiters go first come, first served, except that
    `urgent` ones (a bulk status check, which serves up to 100 videos) go before the rest.
    """

    def __init__(self, rps: float) -> None:
        self._gap = CAP_WINDOW / rps
        self._sent: deque[float] = deque(maxlen=max(1, math.floor(rps)))
        self._queue: list[tuple[int, int, asyncio.Future[None]]] = []
        self._tickets = itertools.count()
        self._releaser: asyncio.Task[None] | None = None

    async def wait(self, *, urgent: bool = False) -> None:
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._queue, (0 if urgent else 1, next(self._tickets), ready))
        if self._releaser is None or self._releaser.done():
            self._releaser = asyncio.create_task(self._release())
        await ready

    async def _release(self) -> None:
        while self._queue:
            delay = self._delay(time.monotonic())
            if delay > 0:
                await asyncio.sleep(delay)
                continue
            *_, ready = heapq.heappop(self._queue)
            if not ready.done():  # a cancelled waiter gives its slot to the next one
                self._sent.append(time.monotonic())
                ready.set_result(None)

    def _delay(self, now: float) -> float:
        if not self._sent:
            return 0.0
        delay = self._sent[-1] + self._gap - now
        if len(self._sent) == self._sent.maxlen:
            delay = max(delay, self._sent[0] + CAP_WINDOW - now)
        return delay


# The shared cap spaces requests by 1.25/rps: what reaches HeyGen from several hosts jitters
# more than one process's requests do, and a 429 costs more than the 20 % margin.
SHARED_WINDOW = 1.25
SHARED_LATE = 0.1  # a request woken later than this after its slot takes a new one
SHARED_TRIES = 5


class SharedCap:
    """HEYGEN_MAX_RPS for every replica together: HeyGen's cap is per account.

    Each request takes the next free slot of its account from the database (one row per
    account, `Store.heygen_slot`), one per 1.25/rps seconds whoever asks, and waits for it.
    A request woken more than 100 ms after its slot takes another one, so in any second at
    most `rps` requests arrive even when the replicas' event loops and the network add up
    to 150 ms of jitter. Times are the hosts'
    clocks (kept in step by NTP). SQLite serves one process, whose `RateCap` suffices.
    """

    def __init__(
        self, take: Callable[[str, float], Awaitable[float]], account: str, rps: float
    ) -> None:
        self._take = take
        self._account = account
        self._gap = SHARED_WINDOW / rps

    async def wait(self) -> None:
        for _ in range(SHARED_TRIES):
            at = await self._take(self._account, self._gap)
            delay = at - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if time.time() - at <= SHARED_LATE:
                return
        log.warning("HeyGen rate cap: woken late %d times in a row; sending", SHARED_TRIES)


def account_key(base_url: str, api_key: str | None) -> str:
    """Names a HeyGen account in the database without storing its key."""
    return hashlib.sha256(f"{base_url}|{api_key or ''}".encode()).hexdigest()[:24]


class HeyGenClient:
    """Base of both dialects; subclasses set `version` and `script_limit`."""

    version = ""
    script_limit = 0
    bulk_status = False
    # Options only one dialect has; the modal hides what the configured API lacks.
    avatar_styles = False
    test_mode = False

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        *,
        max_rps: float = 20.0,
        timeout: float = 15.0,
        attempts: int = 4,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url,
            headers={"X-Api-Key": api_key or "sandbox", "Accept": "application/json"},
            timeout=timeout,
            transport=transport,
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=32),
        )
        self._cap = RateCap(max_rps)
        self.shared_cap: SharedCap | None = None  # set when replicas share the account
        self._attempts = attempts
        # Told of every request sent: (method, route template, HTTP status or why none).
        self.on_request: Callable[[str, str, str], None] = _ignore

    async def aclose(self) -> None:
        await self._http.aclose()

    # The interface every dialect implements.
    async def list_avatars(self) -> list[Avatar]:
        raise NotImplementedError

    async def list_voices(self) -> list[Voice]:
        raise NotImplementedError

    async def create_video(self, spec: VideoSpec, *, idempotency_key: str) -> str:
        """Start rendering; return HeyGen's video id."""
        raise NotImplementedError

    async def video_state(self, video_id: str) -> VideoState:
        raise NotImplementedError

    async def find_video(self, callback_id: str, *, since: float) -> str | None:
        """After a create whose answer was lost: the video it made, if HeyGen has one.

        `since` is when the job was recorded: no video older than that can be its. A
        dialect whose create is idempotent (v3's Idempotency-Key) simply resends, so the
        default looks nowhere.
        """
        return None

    async def video_statuses(self, video_ids: Iterable[str]) -> dict[str, str]:
        """Cheap status-only check of many videos; only v3 has one (`bulk_status`)."""
        raise NotImplementedError

    async def recent_videos(self, limit: int) -> list[VideoState] | None:
        """The account's newest videos, full records included; None where there is no such list.

        One call that carries the status *and* the links of every recent video: with few
        videos in flight it replaces a bulk status call plus one fetch per finished video.
        """
        return None

    async def remaining_credit(self) -> Credit:
        raise NotImplementedError

    async def delete_video(self, video_id: str) -> None:
        """Remove a video from the account (a cancelled job that HeyGen had started)."""
        raise NotImplementedError

    async def register_webhook(self, url: str) -> tuple[str, str]:
        """Register `url` for video events; return (endpoint id, signing secret)."""
        body = {"url": url, "events": ["avatar_video.success", "avatar_video.fail"]}
        data = (await self.call("POST", "/v3/webhooks/endpoints", json=body))["data"]
        return str(data["endpoint_id"]), str(data["secret"])

    async def webhooks(self) -> dict[str, str]:
        """Registered webhook endpoints (first 100): endpoint id → URL."""
        listed = await self.call("GET", "/v3/webhooks/endpoints", params={"limit": 100})
        return {str(e["endpoint_id"]): str(e["url"]) for e in listed.get("data") or []}

    async def delete_webhook(self, endpoint_id: str) -> None:
        await self.call("DELETE", "/v3/webhooks/endpoints/{id}", path_params={"id": endpoint_id})

    # Sending.
    async def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
        resend_safe: bool = True,
        queue_on_429: bool = False,
        urgent: bool = False,
        path_params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Send one call, retrying what is safe to retry, and return the JSON body.

        `resend_safe=False` marks a create that HeyGen cannot de-duplicate: once it may
        have reached HeyGen, it is never sent again and the caller gets OutcomeUnknown.
        `queue_on_429=True` hands a 429 straight back: for a create it means every render
        slot is busy, and the job should wait in the bot's visible queue, not in a sleep.
        `urgent` calls take the next free slot under the rate cap, ahead of the others.
        `path` is a route template such as `/v3/videos/{id}`, filled in from `path_params`
        (escaped), so that metrics name the route and never one video.
        """
        url = _fill(path, path_params)
        for attempt in range(1, self._attempts + 1):
            await self._cap.wait(urgent=urgent)
            if self.shared_cap is not None:
                await self.shared_cap.wait()
            try:
                return await self._send_once(method, path, url, params, json, headers)
            except HeyGenError as error:
                if not resend_safe and _may_have_arrived(error):
                    raise OutcomeUnknown(
                        f"HeyGen did not confirm the request: {error.message}",
                        code="outcome_unknown",
                    ) from error
                if not error.transient or attempt == self._attempts:
                    raise
                if queue_on_429 and error.concurrency_limited:
                    raise
                await asyncio.sleep(_backoff(attempt, error.retry_after))
        raise AssertionError("unreachable")

    async def _send_once(
        self,
        method: str,
        route: str,
        url: str,
        params: dict[str, Any] | None,
        body: Any,
        headers: dict[str, str] | None,
    ) -> dict[str, Any]:
        try:
            response = await self._http.request(
                method, url, params=params, json=body, headers=headers
            )
        except httpx.ConnectError as error:
            self.on_request(method, route, "unreachable")
            raise _NotSent(f"cannot reach HeyGen: {error}") from None
        except httpx.TransportError as error:
            self.on_request(method, route, "no_answer")
            raise HeyGenUnavailable(f"HeyGen did not answer: {type(error).__name__}") from None
        self.on_request(method, route, str(response.status_code))
        return _decode(response)


def _fill(route: str, path_params: dict[str, str] | None) -> str:
    """The request path of a route template, each id escaped into one path segment."""
    if not path_params:
        return route
    return route.format_map({name: quote(value, safe="") for name, value in path_params.items()})


def _ignore(method: str, route: str, outcome: str) -> None:
    """No one is counting requests."""


class _NotSent(HeyGenUnavailable):
    """The connection was never made, so the request certainly did not arrive."""


def _may_have_arrived(error: HeyGenError) -> bool:
    if isinstance(error, _NotSent):
        return False
    return isinstance(error, HeyGenUnavailable) or (error.status_code or 0) >= 500


def _backoff(attempt: int, retry_after: float | None) -> float:
    """Exponential backoff with full jitter, never shorter than HeyGen's Retry-After."""
    delay = random.uniform(0, min(8.0, 0.25 * 2**attempt))
    return max(delay, retry_after or 0.0)


def _decode(response: httpx.Response) -> dict[str, Any]:
    """Return the JSON body of a success, or raise HeyGen's error as a typed exception."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        if response.is_success:
            raise HeyGenUnavailable("HeyGen sent a malformed answer", status_code=None) from None
        body = {}
    if not isinstance(body, dict):
        raise HeyGenUnavailable("HeyGen sent an unexpected answer")
    if response.is_success and not _error_object(body):
        return body
    raise _error_from(response, body)


def _error_object(body: dict[str, Any]) -> dict[str, Any] | None:
    error = body.get("error")
    if isinstance(error, dict) and (error.get("code") or error.get("message")):
        return error
    return None


def _error_from(response: httpx.Response, body: dict[str, Any]) -> HeyGenError:
    error = _error_object(body) or {}
    retry_after = response.headers.get("Retry-After")
    status = response.status_code
    return HeyGenError(
        str(error.get("message") or body.get("message") or response.reason_phrase or "error"),
        code=str(error.get("code") or _code_for(status)),
        status_code=status if status >= 400 else 400,
        param=error.get("param"),
        retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None,
    )


def _code_for(status: int) -> str:
    return {
        401: "unauthorized",
        402: "insufficient_credit",
        403: "forbidden",
        404: "not_found",
        429: "rate_limit_exceeded",
    }.get(status, "internal_error" if status >= 500 else "error")


def dimension(shape: str, resolution: str) -> tuple[int, int]:
    """Pixel size for a shape and resolution: the short side is the resolution."""
    wide, tall = SHAPES[shape]
    short = RESOLUTIONS[resolution]
    if wide >= tall:
        return short * wide // tall, short
    return short, short * tall // wide
