"""List pages: `limit` and an opaque `token`, answered with `has_more` and `next_token`.

A page is fetched with one extra row: its presence is what says more rows follow.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from starlette.datastructures import QueryParams

from .errors import invalid

Item = TypeVar("Item")

DEFAULT_LIMIT = 20


@dataclass(frozen=True)
class Page:
    offset: int
    limit: int

    def rows_from(self, items: Sequence[Item]) -> Sequence[Item]:
        """This page's rows of an in-memory list, plus the one extra."""
        return items[self.offset : self.offset + self.limit + 1]

    def split(self, rows: Sequence[Item]) -> tuple[Sequence[Item], str | None]:
        """Drop the extra row; the token for the next page when there was one."""
        more = len(rows) > self.limit
        return rows[: self.limit], (_token(self.offset + self.limit) if more else None)


def page_request(query: QueryParams, max_limit: int, default: int = DEFAULT_LIMIT) -> Page:
    """Read `limit` (1..max_limit) and `token`; a bad one is a 400 naming it."""
    raw = query.get("limit")
    limit = default if raw in (None, "") else _int(raw)
    if limit is None or not 1 <= limit <= max_limit:
        raise invalid("limit", f"limit must be an integer between 1 and {max_limit}")
    token = query.get("token")
    return Page(offset=_offset(token) if token else 0, limit=limit)


def v3_list(rows: list[Any], next_token: str | None) -> dict[str, Any]:
    return {"data": rows, "has_more": next_token is not None, "next_token": next_token}


def _int(raw: str) -> int | None:
    try:
        return int(raw)
    except ValueError:
        return None


def _token(offset: int) -> str:
    raw = json.dumps({"o": offset}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _offset(token: str) -> int:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        offset = int(data["o"])
    except (ValueError, KeyError, TypeError):
        raise invalid("token", "token is not a valid pagination token") from None
    if offset < 0:
        raise invalid("token", "token is not a valid pagination token")
    return offset
