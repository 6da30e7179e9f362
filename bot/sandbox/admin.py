"""`/_sandbox/...`: what tests use to look inside the sandbox and steer it.

Plain JSON (not HeyGen's shapes), no API key, never logged in the request log.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .accounts import MAX_PRIVATE_AVATARS, QUOTA_SECONDS, Account
from .context import Sandbox, sandbox_of
from .faults import FaultPlan
from .store import AccountRow
from .videos import Video, failure_for

ACCOUNT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.\-]{0,63}$")
NEW_ACCOUNT_PRIVATE_AVATARS = 2


def _problem(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _optional_json(request: Request) -> dict[str, Any] | None:
    raw = await request.body()
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except json.JSONDecodeError:
        return None
    return body if isinstance(body, dict) else None


def video_summary(video: Video, now: float) -> dict[str, Any]:
    return {
        "id": video.id,
        "api": video.api,
        "account": video.account,
        "status": video.status_at(now),
        "created_at": video.created_at,
        "finish_at": video.finish_at,
        "deleted": video.deleted_at is not None,
        "notified": video.notified,
        "avatar_id": video.avatar_id,
        "voice_id": video.voice_id,
        "script": video.script,
        "title": video.title,
        "callback_id": video.callback_id,
        "callback_url": video.callback_url,
        "failure_code": video.failure.code if video.failure else None,
        "renderer": video.renderer,
        "stage": video.stage,
        "media_duration": video.media_duration,
        "request": video.request,
    }


async def info(request: Request) -> JSONResponse:
    sandbox = sandbox_of(request)
    s = sandbox.settings
    return JSONResponse(
        {
            "api_key_required": sandbox.accounts.keyed(),
            "accounts": len(sandbox.accounts.all()),
            "render": s.render,
            "render_seconds": s.render_seconds,
            "render_workers": sandbox.studio.workers if sandbox.studio else None,
            "speech_engine": sandbox.studio.speech_engine if sandbox.studio else None,
            "files_path": str(sandbox.studio.root) if sandbox.studio else None,
            "concurrency": s.concurrency,
            "avatars": len(sandbox.accounts.default.catalog.avatars),
            "voices": len(sandbox.accounts.default.catalog.voices),
            "state_path": s.state_path,
            "public_url": s.public_url,
            "callback_secret": sandbox.webhooks.callback_secret,
            "now": sandbox.clock.now(),
        }
    )


async def list_requests(request: Request) -> JSONResponse:
    """Every logged request, or with `?after=SEQ` only the newer ones (for incremental reads)."""
    entries = sandbox_of(request).requests.entries
    after = request.query_params.get("after", "")
    if after.isdigit():
        return JSONResponse({"requests": [e for e in entries if e["seq"] > int(after)]})
    return JSONResponse({"requests": list(entries)})


async def clear_requests(request: Request) -> JSONResponse:
    return JSONResponse({"cleared": sandbox_of(request).requests.clear()})


async def list_videos(request: Request) -> JSONResponse:
    """Every video of every account, or with `?account=NAME` one account's."""
    sandbox = sandbox_of(request)
    now = sandbox.clock.now()
    account = request.query_params.get("account")
    videos = [v for v in sandbox.store.all_videos() if account in (None, v.account)]
    return JSONResponse({"videos": [video_summary(v, now) for v in videos]})


async def force_video(request: Request) -> JSONResponse:
    """Finish a video now: `complete`, or `fail` with an optional {"code", "message"}."""
    sandbox = sandbox_of(request)
    video = sandbox.store.video(request.path_params["video_id"])
    now = sandbox.clock.now()
    if video is None or request.path_params["outcome"] not in ("complete", "fail"):
        return _problem(404, "no such video")
    if video.is_final(now):
        return _problem(409, f"video is already {video.status_at(now)}")
    body = await _optional_json(request)
    if body is None:
        return _problem(400, "body must be a JSON object")
    failure = None
    if request.path_params["outcome"] == "fail":
        failure = failure_for(body.get("code"), body.get("message"))
    sandbox.store.finish(video.id, now, failure)
    sandbox.webhooks.wake()
    return JSONResponse(video_summary(sandbox.store.video(video.id) or video, now))


async def get_faults(request: Request) -> JSONResponse:
    plan = sandbox_of(request).faults
    held = sandbox_of(request).held.count
    return JSONResponse({"faults": plan.describe() if plan else None, "held": held})


async def set_faults(request: Request) -> JSONResponse:
    sandbox = sandbox_of(request)
    body = await _optional_json(request)
    if body is None:
        return _problem(400, "a fault plan must be a JSON object")
    try:
        sandbox.faults = FaultPlan(body)
    except (ValueError, TypeError) as exc:
        return _problem(400, str(exc))
    return JSONResponse({"faults": sandbox.faults.describe()})


async def clear_faults(request: Request) -> JSONResponse:
    """No more faults; requests held by a `hang` go on."""
    sandbox_of(request).faults = None
    sandbox_of(request).held.release()
    return JSONResponse({"faults": None})


async def release_held(request: Request) -> JSONResponse:
    """Let every request stopped by a `hang` fault go on (it is handled now)."""
    return JSONResponse({"released": sandbox_of(request).held.release()})


async def set_api_key(request: Request) -> JSONResponse:
    """{"api_key": "..."} becomes the default account's key, the only one API calls reach it
    with (null: with no other account, any key is accepted again).

    Revoking the bot's key at HeyGen looks like this; the key itself is never echoed.
    """
    body = await _optional_json(request)
    key = (body or {}).get("api_key")
    if body is None or not (key is None or (isinstance(key, str) and key)):
        return _problem(400, "api_key must be a non-empty string or null")
    accounts = sandbox_of(request).accounts
    holder = accounts.holder_of(key) if key else None
    if holder is not None and holder is not accounts.default:
        return _problem(409, f"that key belongs to account {holder.name!r}")
    accounts.set_default_key(key)
    return JSONResponse({"api_key_required": accounts.keyed()})


def account_summary(sandbox: Sandbox, account: Account) -> dict[str, Any]:
    """What a test needs to know of an account; never its key."""
    now = sandbox.clock.now()
    remaining = sandbox.remaining_seconds(account)
    return {
        "name": account.name,
        "credit": round(remaining / 60, 2),
        "remaining_seconds": remaining,
        "concurrency": account.concurrency,
        "rendering": sandbox.store.rendering(now, account.name)[0],
        "private_avatars": account.private_looks,
        "private_voices": account.private_voices,
        "callback_secret": sandbox.webhooks.callback_secret_of(account.name),
    }


async def list_accounts(request: Request) -> JSONResponse:
    sandbox = sandbox_of(request)
    return JSONResponse({"accounts": [account_summary(sandbox, a) for a in sandbox.accounts.all()]})


def _count(body: dict[str, Any], name: str, low: int, high: int, default: int) -> int:
    value = body.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer from {low} to {high}")
    return value


def _new_account(sandbox: Sandbox, body: dict[str, Any]) -> AccountRow:
    """The account a `POST /_sandbox/accounts` body asks for; ValueError says what is wrong."""
    key, name = body.get("api_key"), body.get("name")
    if not isinstance(key, str) or not key or "," in key or any(c.isspace() for c in key):
        raise ValueError("api_key must be a non-empty string without spaces or commas")
    if name is not None and not (isinstance(name, str) and ACCOUNT_NAME.match(name)):
        raise ValueError("name must be 1-64 letters, digits, spaces, _ . or -")
    credit = body.get("credit", QUOTA_SECONDS / 60)
    if not isinstance(credit, int | float) or isinstance(credit, bool) or not credit >= 0:
        raise ValueError("credit must be a number >= 0 (credits: minutes of video)")
    accounts = sandbox.accounts
    return AccountRow(
        name=name or accounts.free_name(f"account-{len(accounts.all())}"),
        api_key=key,
        credit_seconds=float(credit) * 60,
        concurrency=_count(body, "concurrency", 1, 100_000, sandbox.settings.concurrency),
        private_avatars=_count(
            body, "private_avatars", 0, MAX_PRIVATE_AVATARS, NEW_ACCOUNT_PRIVATE_AVATARS
        ),
    )


async def create_account(request: Request) -> JSONResponse:
    """{"api_key", "name"?, "credit"?, "concurrency"?, "private_avatars"?}: another HeyGen
    account. From now on only configured keys are accepted (see auth.py)."""
    sandbox = sandbox_of(request)
    body = await _optional_json(request)
    if body is None:
        return _problem(400, "body must be a JSON object")
    try:
        row = _new_account(sandbox, body)
    except ValueError as exc:
        return _problem(400, str(exc))
    holder = sandbox.accounts.holder_of(row.api_key)
    if holder is not None:
        return _problem(409, f"that key already belongs to account {holder.name!r}")
    if sandbox.accounts.get(row.name) is not None:
        return _problem(409, f"an account named {row.name!r} already exists")
    account = sandbox.accounts.add(row)
    return JSONResponse(account_summary(sandbox, account), status_code=201)


async def get_clock(request: Request) -> JSONResponse:
    clock = sandbox_of(request).clock
    return JSONResponse({"now": clock.now(), "offset": clock.offset})


async def advance_clock(request: Request) -> JSONResponse:
    """Jump forward, e.g. {"advance_seconds": 8} to finish renders or expire links."""
    sandbox = sandbox_of(request)
    body = await _optional_json(request)
    seconds = (body or {}).get("advance_seconds")
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
        return _problem(400, "advance_seconds must be a number >= 0")
    sandbox.clock.advance(float(seconds))
    sandbox.webhooks.wake()
    return JSONResponse({"now": sandbox.clock.now(), "offset": sandbox.clock.offset})


async def webhook_deliveries(request: Request) -> JSONResponse:
    return JSONResponse({"deliveries": sandbox_of(request).webhooks.report()})


routes = [
    Route("/_sandbox/info", info, methods=["GET"]),
    Route("/_sandbox/requests", list_requests, methods=["GET"]),
    Route("/_sandbox/requests", clear_requests, methods=["DELETE"]),
    Route("/_sandbox/videos", list_videos, methods=["GET"]),
    Route("/_sandbox/videos/{video_id}/{outcome}", force_video, methods=["POST"]),
    Route("/_sandbox/faults", get_faults, methods=["GET"]),
    Route("/_sandbox/faults", set_faults, methods=["POST"]),
    Route("/_sandbox/faults", clear_faults, methods=["DELETE"]),
    Route("/_sandbox/faults/release", release_held, methods=["POST"]),
    Route("/_sandbox/api_key", set_api_key, methods=["POST"]),
    Route("/_sandbox/accounts", list_accounts, methods=["GET"]),
    Route("/_sandbox/accounts", create_account, methods=["POST"]),
    Route("/_sandbox/clock", get_clock, methods=["GET"]),
    Route("/_sandbox/clock", advance_clock, methods=["POST"]),
    Route("/_sandbox/webhooks", webhook_deliveries, methods=["GET"]),
]
