"""The HeyGen client: one interface, the v2 and v3 dialects behind it."""

from __future__ import annotations

from .client import HeyGenClient
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
from .v2 import V2Client
from .v3 import V3Client

__all__ = [
    "Avatar",
    "Credit",
    "HeyGenClient",
    "HeyGenError",
    "HeyGenUnavailable",
    "OutcomeUnknown",
    "VideoSpec",
    "VideoState",
    "Voice",
    "make_client",
]


def make_client(version: str, base_url: str, api_key: str | None, **options) -> HeyGenClient:
    """The client for `version` ("v3" or "v2"); nothing else branches on the version."""
    cls = {"v3": V3Client, "v2": V2Client}[version]
    return cls(base_url, api_key, **options)
