"""Small checks for request fields; each failure is HeyGen's 400 naming the parameter."""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from typing import Any

from starlette.requests import Request

from .errors import invalid

HEX_COLOR = re.compile(r"^#[0-9A-Fa-f]{6}$")
LOCALE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,4})?$")


async def json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object, or 400 (HeyGen never accepts a bare array or form)."""
    raw = await request.body()
    try:
        body = json.loads(raw) if raw else None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise invalid("body", "Request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise invalid("body", "Request body must be a JSON object")
    return body


def mapping(value: Any, param: str, required: bool = False) -> dict[str, Any]:
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise invalid(param, f"{param} must be an object")
    return value


def text(value: Any, param: str, required: bool = False, max_len: int | None = None) -> str | None:
    """A string field; empty counts as missing when required."""
    if value is None or (required and value == ""):
        if required:
            raise invalid(param, f"{param} is required")
        return None
    if not isinstance(value, str):
        raise invalid(param, f"{param} must be a string")
    if max_len is not None and len(value) > max_len:
        raise invalid(param, f"{param} must be at most {max_len:,} characters (got {len(value):,})")
    return value


def number(value: Any, param: str, low: float, high: float) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise invalid(param, f"{param} must be a number")
    if not low <= value <= high:
        raise invalid(param, f"{param} must be between {low:g} and {high:g}")
    return float(value)


def choice(value: Any, param: str, choices: Collection[str]) -> str | None:
    if value is None:
        return None
    if value not in choices:
        raise invalid(param, f"{param} must be one of: {', '.join(choices)}")
    return value


def boolean(value: Any, param: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise invalid(param, f"{param} must be true or false")
    return value


def background(value: Any, param: str) -> dict[str, Any]:
    """`{"type": "color", "value": "#RRGGBB"}` or an image by url/asset_id."""
    bg = mapping(value, param)
    if not bg:
        return bg
    kind = choice(bg.get("type"), f"{param}.type", ("color", "image"))
    if kind is None:
        raise invalid(f"{param}.type", f"{param}.type is required")
    if kind == "color":
        color = text(bg.get("value"), f"{param}.value", required=True) or ""
        if not HEX_COLOR.match(color):
            raise invalid(f"{param}.value", f"{param}.value must be a hex color like #FFFFFF")
    elif not (bg.get("url") or bg.get("asset_id") or bg.get("image_asset_id")):
        raise invalid(f"{param}.url", f"{param} of type image needs a url or asset_id")
    return bg


def locale(value: Any, param: str) -> str | None:
    code = text(value, param)
    if code is not None and not LOCALE.match(code):
        raise invalid(param, f"{param} must be a locale like en-US")
    return code


def url(value: Any, param: str, required: bool = False) -> str | None:
    link = text(value, param, required=required)
    if link is not None and not link.startswith(("http://", "https://")):
        raise invalid(param, f"{param} must be an http(s) URL")
    return link
