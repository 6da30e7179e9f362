"""The one record every layer and route shares: what a running sandbox knows and does.

Routes reach it with `sandbox_of(request)`, and the account the request's key belongs to
with `account_of(request)`; `create_app` builds it.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from .accounts import ACCOUNT_SCOPE_KEY, Account, Accounts
from .clock import Clock
from .errors import ApiError
from .faults import FaultPlan, HeldRequests
from .links import LinkSigner
from .requestlog import RequestLog
from .settings import SandboxSettings
from .store import Store
from .studio import Studio
from .videos import Video, plan_from_script
from .webhooks import WebhookDispatcher


@dataclass
class Sandbox:
    """Everything one running sandbox knows; routes reach it as `request.app.state.sandbox`."""

    settings: SandboxSettings
    accounts: Accounts
    store: Store
    clock: Clock
    signer: LinkSigner
    requests: RequestLog
    webhooks: WebhookDispatcher
    faults: FaultPlan | None = None
    studio: Studio | None = None  # None: static files for every video (`render="static"`)
    abort_connection: Callable[[Any], bool] | None = None  # set by SandboxServer
    held: HeldRequests = field(default_factory=HeldRequests)  # calls stopped by `hang`

    def base_url(self, request: Request) -> str:
        """Where file links point: `public_url`, else the address the client used."""
        return self.settings.public_url or str(request.base_url).rstrip("/")

    def remaining_seconds(self, account: Account) -> float:
        used = self.store.used_seconds(self.clock.now(), account.name)
        return max(0.0, account.credit_seconds - used)

    def video(self, account: Account, video_id: str) -> Video | None:
        """The account's own video; another account's id is as unknown as a made-up one."""
        video = self.store.video(video_id)
        return video if video is not None and video.account == account.name else None

    def start_video(
        self, request: Request, account: Account, body: dict[str, Any], **fields: Any
    ) -> Video:
        """Queue a render for the account: 402 when its credit is spent, 429 when its
        `concurrency` videos are already rendering (other accounts' renders never count)."""
        now = self.clock.now()
        if self.remaining_seconds(account) <= 0:
            raise ApiError(402, "insufficient_credit", "Not enough credit to render this video")
        busy, soonest = self.store.rendering(now, account.name)
        if busy >= account.concurrency:
            wait = max(1, math.ceil(soonest - now)) if soonest else 5
            raise ApiError(
                429,
                "rate_limit_exceeded",
                f"Too many videos rendering at once (limit {account.concurrency}); "
                f"retry after {wait} seconds",
                headers={"Retry-After": str(wait)},
            )
        plan = plan_from_script(fields["script"])
        seconds = (
            self.settings.render_seconds if plan.render_seconds is None else plan.render_seconds
        )
        # Videos meant to fail or stall have nothing to show, so only the rest are rendered.
        real = self.studio is not None and not plan.failure and not plan.stall
        video = Video(
            id=uuid.uuid4().hex,
            created_at=now,
            render_seconds=seconds,
            finish_at=None if plan.stall or real else now + seconds,
            base_url=self.base_url(request),
            failure=plan.failure,
            request=body,
            renderer="real" if real else "static",
            stage="queued" if real else None,
            account=account.name,
            **fields,
        )
        self.store.add_video(video)
        if real and self.studio is not None:
            self.studio.submit(video)
        self.webhooks.wake()
        return video

    def delete_video(self, video: Video) -> None:
        """Delete a video and its rendered files (links to it answer 404 from now on)."""
        self.store.delete(video.id, self.clock.now())
        if self.studio is not None:
            self.studio.discard(video.id)


def sandbox_of(request: Request) -> Sandbox:
    return request.app.state.sandbox


def account_of(request: Request) -> Account:
    """The account whose key this API request carries (the key layer has checked it)."""
    return request.scope[ACCOUNT_SCOPE_KEY]
