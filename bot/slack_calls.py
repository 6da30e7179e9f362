"""Slack's answers read the same way everywhere: error codes, rate limits, and the one
retry a message gets when Slack cannot load its images."""

from __future__ import annotations

from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from .blocks import without_images


def error_code(error: BaseException) -> str:
    """Slack's `error` field (e.g. `not_in_channel`), or the exception's type name."""
    response = getattr(error, "response", None)
    try:
        code = response.get("error") if response is not None else None
    except AttributeError:
        code = None
    return str(code) if code else type(error).__name__


def rate_limited(error: SlackApiError) -> bool:
    response = getattr(error, "response", None)
    status = getattr(response, "status_code", None)
    return status == 429 or error_code(error) in ("ratelimited", "rate_limited")


def retry_after(error: SlackApiError) -> float:
    """Slack's Retry-After in seconds (0 when it gave none)."""
    try:
        return max(0.0, float(error.response.headers.get("Retry-After", 0)))
    except (AttributeError, TypeError, ValueError):
        return 0.0


def method_of(error: SlackApiError) -> str:
    """The Web API method a refused call was for (`chat.postMessage`), from its URL."""
    url = str(getattr(error.response, "api_url", "") or "")
    return url.rstrip("/").rsplit("/", 1)[-1]


async def post_message(slack: AsyncWebClient, **message: Any) -> AsyncSlackResponse:
    """chat.postMessage; if Slack cannot load an image in the blocks (a sandbox URL on
    localhost), the same message once more without the images."""
    try:
        return await slack.chat_postMessage(**message)
    except SlackApiError as error:
        content = message.get("blocks")
        if error_code(error) != "invalid_blocks" or not content:
            raise
        trimmed = without_images(content)
        if trimmed == content:
            raise
        return await slack.chat_postMessage(**{**message, "blocks": trimmed})
