"""Sandbox mode: subscribe the bot to its embedded sandbox's video events.

Without this, someone trying the bot with no HeyGen key waits for the next poll; with it,
the sandbox calls `/heygen/webhook` the moment a render ends, as HeyGen does once
`webhook register` was run. HTTP mode only (the sandbox needs a URL to call), with a
fixed PORT, and never when the operator set HEYGEN_WEBHOOK_SECRET.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from .heygen import HeyGenError
from .services import Services

log = logging.getLogger(__name__)


async def subscribe_to_sandbox(services: Services) -> None:
    """Register this bot's webhook URL with the sandbox and adopt the secret it returns."""
    settings = services.settings
    if not services.uses_sandbox or settings.heygen_webhook_secret or not settings.port:
        return
    url = f"http://127.0.0.1:{settings.port}/heygen/webhook"
    try:
        for endpoint_id, registered in (await services.heygen.webhooks()).items():
            if _ours(registered):  # left by an earlier run; its secret died with it
                await services.heygen.delete_webhook(endpoint_id)
        _, secret = await services.heygen.register_webhook(url)
    except HeyGenError as error:
        log.warning("sandbox webhooks unavailable, replies wait for the poller: %s", error)
        return
    services.settings = replace(settings, heygen_webhook_secret=secret)
    log.info("sandbox sends video events to %s", url)


def _ours(url: str) -> bool:
    """An endpoint this bot registered on an earlier start (perhaps on another PORT)."""
    return url.startswith("http://127.0.0.1:") and url.endswith("/heygen/webhook")
