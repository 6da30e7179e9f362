"""Presigned-looking file links, as HeyGen's CDN hands them out.

Every status call signs links afresh (`Expires`, `Signature`, `Key-Pair-Id`; seven days, as
the guide says), so a client that keeps a link past its expiry must ask again.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from .videos import Video

LINK_SECONDS = 7 * 24 * 3600
KEY_PAIR_ID = "APKASANDBOXHEYGEN000"


class LinkSigner:
    """Signs and checks file links with a secret kept in the store."""

    def __init__(self, secret: str) -> None:
        self._key = secret.encode()

    def signature(self, path: str, expires: int) -> str:
        mac = hmac.new(self._key, f"{path}\n{expires}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def url(self, base: str, path: str, now: float) -> str:
        expires = int(now) + LINK_SECONDS
        sig = self.signature(path, expires)
        return f"{base}{path}?Expires={expires}&Signature={sig}&Key-Pair-Id={KEY_PAIR_ID}"

    def problem(self, path: str, expires: str | None, signature: str | None, now: float) -> str:
        """Why a link is refused, or "" when it is good."""
        if not expires or not signature:
            return "Missing Key-Pair-Id query parameter or cookie value"
        if not expires.isdigit() or not hmac.compare_digest(
            self.signature(path, int(expires)), signature
        ):
            return "Invalid signature"
        if int(expires) < now:
            return "Request has expired"
        return ""


def video_path(video_id: str, name: str) -> str:
    return f"/files/videos/{video_id}/{name}"


def static_url(base: str, kind: str, item_id: str, name: str) -> str:
    """Public preview links (avatars, voices): unsigned, like HeyGen's static CDN."""
    return f"{base}/files/static/{kind}/{item_id}/{name}"


def video_links(signer: LinkSigner, base: str, video: Video, now: float) -> dict[str, str]:
    """Freshly signed links for a completed video, keyed by what they are."""
    links = {
        name: signer.url(base, video_path(video.id, name), now)
        for name in ("video.mp4", "thumbnail.jpg", "preview.gif", "caption.srt", "caption.ass")
    }
    if video.caption:
        links["captioned.mp4"] = signer.url(base, video_path(video.id, "captioned.mp4"), now)
    return links
