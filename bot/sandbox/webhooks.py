"""Signed webhook deliveries when a video finishes, sent from a background task with retries.

A finished video is announced once (the store remembers `notified`), to every enabled v3
endpoint of its account subscribed to the event (other accounts' endpoints never hear of
it) and to the `callback_url` given at create. Each delivery is
a POST of `{"event_type", "event_data"}` with `Heygen-Signature` (lowercase hex HMAC-SHA256 of
the raw body, keyed with the endpoint secret), `Heygen-Timestamp` and `Heygen-Event-Id`.
A `callback_url` has no endpoint secret, so it is signed with the account's callback secret
(the default account's in `GET /_sandbox/info`, every account's in `GET /_sandbox/accounts`).
Endpoints that take every event also get `avatar_video_gif.success`, which clients should
ignore.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
import uuid
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from .clock import Clock
from .links import LinkSigner, video_links
from .store import Store
from .videos import DEFAULT_ACCOUNT, Video

log = logging.getLogger(__name__)

SUCCESS = "avatar_video.success"
FAIL = "avatar_video.fail"
GIF_SUCCESS = "avatar_video_gif.success"
RETRY_DELAYS = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0)
IDLE_WAKE_SECONDS = 1.0
DELIVERY_TIMEOUT = 10.0


def sign(secret: str, body: bytes) -> str:
    """The `Heygen-Signature` value for this body."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class Delivery:
    """One event on its way to one URL; kept for `GET /_sandbox/webhooks`."""

    event_id: str
    event_type: str
    video_id: str
    url: str
    endpoint_id: str | None
    payload: dict[str, Any]
    account: str = DEFAULT_ACCOUNT
    attempts: int = 0
    state: str = "pending"  # pending | delivered | failed | dropped
    last_status: int | None = None
    last_error: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)


class WebhookDispatcher:
    """Watches for finished videos and delivers their events."""

    def __init__(
        self, store: Store, clock: Clock, signer: LinkSigner, public_url: str | None
    ) -> None:
        self.store = store
        self.clock = clock
        self.signer = signer
        self.public_url = public_url
        self.deliveries: deque[Delivery] = deque(maxlen=5000)
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None

    @property
    def callback_secret(self) -> str:
        """The default account's `callback_url` secret."""
        return self.callback_secret_of(DEFAULT_ACCOUNT)

    def callback_secret_of(self, account: str) -> str:
        """The secret `callback_url` deliveries of this account's videos are signed with."""
        if account == DEFAULT_ACCOUNT:
            return self.store.secret("callback_secret")  # the name from before accounts
        return self.store.secret(f"callback_secret:{account}")

    async def start(self) -> None:
        self._wake = asyncio.Event()
        self._client = httpx.AsyncClient(timeout=DELIVERY_TIMEOUT)
        self._loop_task = asyncio.create_task(self._watch(), name="sandbox-webhooks")

    async def stop(self) -> None:
        tasks = [t for t in (self._loop_task, *self._tasks) if t]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._client:
            await self._client.aclose()

    def wake(self) -> None:
        """Something changed (a video was created or forced, the clock moved): look again."""
        self._wake.set()

    async def _watch(self) -> None:
        while True:
            try:
                wait = self._announce_due()
            except Exception:  # one bad pass must not end all future deliveries
                log.exception("webhook watcher failed; retrying")
                wait = IDLE_WAKE_SECONDS
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=max(0.005, wait))
            self._wake.clear()

    def _announce_due(self) -> float:
        """Announce every newly finished video; return how long to sleep before looking again."""
        now = self.clock.now()
        for video in self.store.due_notices(now):
            self.store.mark_notified(video.id)
            self._announce(video, now)
        nxt = self.store.next_finish(now)
        return IDLE_WAKE_SECONDS if nxt is None else min(IDLE_WAKE_SECONDS, nxt - now)

    def _announce(self, video: Video, now: float) -> None:
        events = self._events(video, now)
        for endpoint in self.store.endpoints(video.account):
            if endpoint.status != "enabled":
                continue
            for event in events:
                if endpoint.events is None or event["event_type"] in endpoint.events:
                    self._send(video, endpoint.url, endpoint.endpoint_id, event)
        if video.callback_url:
            self._send(video, video.callback_url, None, events[0])

    def _events(self, video: Video, now: float) -> list[dict[str, Any]]:
        """The main event first; extras (the GIF event) after it."""
        data: dict[str, Any] = {"video_id": video.id, "callback_id": video.callback_id}
        if video.failure:
            return [{"event_type": FAIL, "event_data": {**data, "msg": video.failure.message}}]
        base = self.public_url or video.base_url
        links = video_links(self.signer, base, video, now)
        success = {
            **data,
            "url": links["video.mp4"],
            "gif_download_url": links["preview.gif"],
            "video_share_page_url": f"{base}/share/{video.id}",
            "folder_id": None,
        }
        gif = {**data, "url": links["preview.gif"]}
        return [
            {"event_type": SUCCESS, "event_data": success},
            {"event_type": GIF_SUCCESS, "event_data": gif},
        ]

    def _send(self, video: Video, url: str, endpoint_id: str | None, event: dict) -> None:
        delivery = Delivery(
            event_id=uuid.uuid4().hex,
            event_type=event["event_type"],
            video_id=video.id,
            url=url,
            endpoint_id=endpoint_id,
            payload=event,
            account=video.account,
        )
        self.deliveries.append(delivery)
        task = asyncio.create_task(self._deliver(delivery))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _secret_for(self, delivery: Delivery) -> str | None:
        """The current secret (it may rotate between retries); None if the endpoint is gone."""
        if delivery.endpoint_id is None:
            return self.callback_secret_of(delivery.account)
        endpoint = self.store.endpoint(delivery.endpoint_id)
        return endpoint.secret if endpoint and endpoint.status == "enabled" else None

    async def _deliver(self, delivery: Delivery) -> None:
        body = json.dumps(delivery.payload).encode()
        for delay in RETRY_DELAYS:
            await asyncio.sleep(delay)
            secret = self._secret_for(delivery)
            if secret is None:
                delivery.state = "dropped"
                return
            if await self._attempt(delivery, body, secret):
                delivery.state = "delivered"
                return
        delivery.state = "failed"
        log.warning("webhook %s to %s gave up", delivery.event_type, delivery.url)

    async def _attempt(self, delivery: Delivery, body: bytes, secret: str) -> bool:
        assert self._client is not None
        delivery.attempts += 1
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "HeyGen-Webhooks/1.0 (sandbox)",
            "Heygen-Signature": sign(secret, body),
            "Heygen-Timestamp": str(int(time.time())),  # wall time: receivers check skew
            "Heygen-Event-Id": delivery.event_id,
        }
        try:
            answer = await self._client.post(delivery.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            delivery.last_status, delivery.last_error = None, type(exc).__name__
        else:
            delivery.last_status, delivery.last_error = answer.status_code, None
        delivery.history.append({"status": delivery.last_status, "error": delivery.last_error})
        return delivery.last_status is not None and 200 <= delivery.last_status < 300

    def report(self) -> list[dict[str, Any]]:
        return [asdict(d) for d in self.deliveries]
