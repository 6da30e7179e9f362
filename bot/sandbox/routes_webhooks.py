"""v3 webhook endpoints: register, list, change, delete, rotate the signing secret.

The secret is shown only on create and on rotate-secret, as HeyGen does. Endpoints belong to
the account whose key registered them: another account's endpoint id is `not_found`.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from . import validate
from .accounts import Account
from .context import Sandbox, account_of, sandbox_of
from .errors import ApiError, invalid
from .pagination import page_request, v3_list
from .store import Endpoint

EVENT_TYPES = (
    "avatar_video.success", "avatar_video.fail", "avatar_video_gif.success",
    "avatar_video_gif.fail", "video_translate.success", "video_translate.fail",
    "personalized_video", "instant_avatar.success", "instant_avatar.fail",
    "photo_avatar_generation.success", "photo_avatar_generation.fail",
    "photo_avatar_train.success", "photo_avatar_train.fail",
    "photo_avatar_add_motion.success", "photo_avatar_add_motion.fail",
    "proofread_creation.success", "proofread_creation.fail", "live_avatar.success",
    "live_avatar.fail", "avatar_video_caption.success", "avatar_video_caption.fail",
    "video_agent.success", "video_agent.fail",
)  # fmt: skip


def endpoint_data(endpoint: Endpoint, show_secret: bool = False) -> dict[str, Any]:
    return {
        "endpoint_id": endpoint.endpoint_id,
        "url": endpoint.url,
        "status": endpoint.status,
        "events": endpoint.events,
        "created_at": endpoint.created_at,
        "secret": endpoint.secret if show_secret else None,
    }


def _events(raw: Any) -> list[str] | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or not all(isinstance(e, str) for e in raw):
        raise invalid("events", "events must be a list of event types")
    for event in raw:
        if event not in EVENT_TYPES:
            raise invalid("events", f"Unknown event type {event!r}")
    return list(dict.fromkeys(raw))


def _endpoint_or_404(sandbox: Sandbox, account: Account, endpoint_id: str) -> Endpoint:
    endpoint = sandbox.store.endpoint(endpoint_id)
    if endpoint is None or endpoint.account != account.name:
        raise ApiError(404, "not_found", f"Webhook endpoint {endpoint_id} not found")
    return endpoint


def _new_secret() -> str:
    return secrets.token_hex(24)


async def create_endpoint(request: Request) -> JSONResponse:
    sandbox = sandbox_of(request)
    body = await validate.json_object(request)
    created = datetime.fromtimestamp(sandbox.clock.now(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    endpoint = Endpoint(
        endpoint_id=uuid.uuid4().hex,
        url=validate.url(body.get("url"), "url", required=True) or "",
        events=_events(body.get("events")),
        secret=_new_secret(),
        status="enabled",
        created_at=created,
        account=account_of(request).name,
    )
    sandbox.store.add_endpoint(endpoint)
    return JSONResponse({"data": endpoint_data(endpoint, show_secret=True)})


async def list_endpoints(request: Request) -> JSONResponse:
    sandbox = sandbox_of(request)
    page = page_request(request.query_params, max_limit=100, default=10)
    rows, token = page.split(page.rows_from(sandbox.store.endpoints(account_of(request).name)))
    return JSONResponse(v3_list([endpoint_data(e) for e in rows], token))


async def update_endpoint(request: Request) -> JSONResponse:
    sandbox = sandbox_of(request)
    endpoint = _endpoint_or_404(sandbox, account_of(request), request.path_params["endpoint_id"])
    body = await validate.json_object(request)
    if "url" in body:
        endpoint = replace(endpoint, url=validate.url(body["url"], "url", required=True) or "")
    if "events" in body:
        endpoint = replace(endpoint, events=_events(body["events"]))
    if "status" in body:
        status = validate.choice(body["status"], "status", ("enabled", "disabled"))
        endpoint = replace(endpoint, status=status or endpoint.status)
    sandbox.store.save_endpoint(endpoint)
    return JSONResponse({"data": endpoint_data(endpoint)})


async def delete_endpoint(request: Request) -> JSONResponse:
    sandbox = sandbox_of(request)
    endpoint = _endpoint_or_404(sandbox, account_of(request), request.path_params["endpoint_id"])
    sandbox.store.remove_endpoint(endpoint.endpoint_id)
    return JSONResponse({"data": {}, "error": None})


async def rotate_secret(request: Request) -> JSONResponse:
    sandbox = sandbox_of(request)
    endpoint = replace(
        _endpoint_or_404(sandbox, account_of(request), request.path_params["endpoint_id"]),
        secret=_new_secret(),
    )
    sandbox.store.save_endpoint(endpoint)
    return JSONResponse({"data": {"endpoint_id": endpoint.endpoint_id, "secret": endpoint.secret}})


routes = [
    Route("/v3/webhooks/endpoints", create_endpoint, methods=["POST"]),
    Route("/v3/webhooks/endpoints", list_endpoints, methods=["GET"]),
    Route("/v3/webhooks/endpoints/{endpoint_id}", update_endpoint, methods=["PATCH"]),
    Route("/v3/webhooks/endpoints/{endpoint_id}", delete_endpoint, methods=["DELETE"]),
    Route("/v3/webhooks/endpoints/{endpoint_id}/rotate-secret", rotate_secret, methods=["POST"]),
]
