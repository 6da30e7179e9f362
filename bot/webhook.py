"""`POST /heygen/webhook`: HeyGen's video events, verified, used as a signal to look now.

A delivery is never trusted for the video's state: it only tells the bot which video
to fetch at once, so a forged or replayed event can at worst cause one extra GET.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .blocks import SANDBOX_ACCOUNT as SANDBOX
from .heygen import HeyGenError

if TYPE_CHECKING:
    from .services import Services

log = logging.getLogger(__name__)
HANDLED = {"avatar_video.success", "avatar_video.fail"}
MAX_SKEW = 300
MAX_BODY = 256 * 1024
_background: set[asyncio.Task] = set()


def signature_ok(secret: str, body: bytes, headers: Any, now: float | None = None) -> bool:
    """HMAC-SHA256 of the raw body, hex, in `Heygen-Signature` (v1: `Signature`)."""
    given = headers.get("heygen-signature") or headers.get("signature") or ""
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not given or not hmac.compare_digest(given.strip().lower(), expected):
        return False
    stamp = headers.get("heygen-timestamp")
    if stamp is None:
        return True
    try:
        return abs((now or time.time()) - float(stamp)) <= MAX_SKEW
    except ValueError:
        return False


async def handle_webhook(request: Request, services: Services) -> Response:
    if request.method == "OPTIONS":
        return Response(status_code=200)
    account = request.query_params.get("account")  # distribution: a workspace's account
    if account and services.accounts is not None:
        secrets = await services.accounts.webhook_secrets(account)
    else:
        account = None
        secrets = [s for s in [services.settings.heygen_webhook_secret] if s]
        if not secrets:
            return JSONResponse({"error": "webhooks are not configured"}, status_code=404)
    body = await request.body()
    if len(body) > MAX_BODY:
        return JSONResponse({"error": "payload too large"}, status_code=413)
    if not any(signature_ok(secret, body, request.headers) for secret in secrets):
        return JSONResponse({"error": "invalid signature"}, status_code=401)
    try:
        event = json.loads(body)
        event_type = event["event_type"]
        video_id = str(event.get("event_data", {})["video_id"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return JSONResponse({"error": "not a HeyGen event"}, status_code=400)
    event_id = request.headers.get("heygen-event-id") or f"{event_type}:{video_id}"
    if event_type in HANDLED and await services.store.first_delivery(event_id):
        task = asyncio.create_task(_refresh(services, video_id, account))
        _background.add(task)
        task.add_done_callback(_background.discard)
    return JSONResponse({"ok": True})


async def _refresh(services: Services, video_id: str, account: str | None) -> None:
    """Fetch the true state and record it; the poller remains the safety net.

    An event verified with one account's secret only ever refreshes that account's jobs,
    asked of that account.
    """
    job = await services.store.job_by_video(video_id)
    # The bot's own secret speaks for the bot's own account (and its embedded sandbox).
    ours = {account} if account else {None, SANDBOX if services.sandbox is not None else None}
    if job is None or job.account not in ours:
        return
    heygen = await services.heygen_for(job)
    try:
        state = await heygen.video_state(video_id)
    except HeyGenError as error:
        log.warning("webhook for %s: status fetch failed, poller will retry: %s", video_id, error)
        services.poller.call_failed(error)
        return
    await services.poller.apply_state(state)
