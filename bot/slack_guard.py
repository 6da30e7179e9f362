"""The gate in front of Bolt on `POST /slack/events`: signed and well-formed, or refused.

Bolt parses the body while it builds its request object, before it checks the signature,
and its argument injection indexes into payloads (`body["view"]["type"]`, ...). So an
unsigned body of broken JSON, bytes that are not UTF-8, or a payload missing `user` or
`view.state` would end in a 500 and a traceback. Here the signature is checked first
(401, Bolt's own answer), then the body must parse into the fields Bolt and our listeners
rely on (400). Bolt still verifies again; what it gets is only ever well-formed.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from slack_bolt.request.internals import parse_body
from slack_sdk.signature import SignatureVerifier
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

# Per payload type: dotted paths that must hold a non-empty string (or, as CONTAINERS says,
# a dict or a non-empty list).
REQUIRED: dict[str, tuple[str, ...]] = {
    "view_submission": ("user.id", "view.id", "view.type", "view.state.values"),
    "view_closed": ("user.id", "view.id", "view.type"),
    "block_actions": ("user.id", "actions"),
    "block_suggestion": ("user.id", "action_id"),
    "shortcut": ("user.id", "callback_id"),
    "message_action": ("user.id", "callback_id", "channel.id"),
    "event_callback": ("event.type",),
}
SLASH_COMMAND = ("command", "user_id", "trigger_id")
CONTAINERS: dict[str, type] = {"view.state.values": dict, "actions": list}


async def rejection(request: Request, signing_secret: str) -> Response | None:
    """A 401/400 answer for a request Bolt must not see, or None to let it through."""
    body = await request.body()
    if _is_ssl_check(body):
        return None  # Bolt answers Slack's SSL probe before its own signature check too
    if not _signed(body, request, signing_secret):
        return JSONResponse({"error": "invalid request"}, status_code=401)
    try:
        payload = parse_body(body.decode("utf-8"), request.headers.get("content-type"))
    except (UnicodeDecodeError, ValueError):
        return _bad("the body is neither Slack form data nor JSON")
    if not isinstance(payload, dict):
        return _bad("the payload is not a JSON object")
    problem = malformed_field(payload)
    return _bad(f"missing or malformed field: {problem}") if problem else None


def malformed_field(payload: dict[str, Any]) -> str | None:
    """The first required field that is missing or of the wrong kind, if any."""
    kind = payload.get("type")
    if "command" in payload and kind is None:
        paths: tuple[str, ...] = SLASH_COMMAND
    elif isinstance(kind, str):
        paths = REQUIRED.get(kind, ())
    else:
        return None  # nothing we handle: Bolt answers it (404, ssl_check, ...)
    for path in paths:
        if not _present(_dig(payload, path), CONTAINERS.get(path, str)):
            return path
    if kind == "view_submission" and not _form_shaped(payload["view"]["state"]["values"]):
        return "view.state.values"
    if kind == "block_actions" and not all(isinstance(a, dict) for a in payload["actions"]):
        return "actions"
    return None


def _signed(body: bytes, request: Request, secret: str) -> bool:
    try:
        return SignatureVerifier(secret).is_valid_request(body, dict(request.headers))
    except ValueError:  # a timestamp that is not a number
        return False


def _is_ssl_check(body: bytes) -> bool:
    return body.startswith((b"ssl_check=", b"token=")) and parse_qs(
        body.decode("utf-8", "replace")
    ).get("ssl_check") == ["1"]


def _dig(payload: dict[str, Any], path: str) -> Any:
    node: Any = payload
    for key in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def _present(value: Any, kind: type) -> bool:
    """Of the right kind, and not empty unless it is a dict (a modal may have no inputs)."""
    return isinstance(value, kind) and (kind is dict or bool(value))


def _form_shaped(values: dict[str, Any]) -> bool:
    """Slack's `view.state.values`: block id → action id → element state (all objects)."""
    return all(
        isinstance(actions, dict) and all(isinstance(state, dict) for state in actions.values())
        for actions in values.values()
    )


def _bad(reason: str) -> Response:
    return JSONResponse({"error": "malformed request", "detail": reason}, status_code=400)
