"""`python -m bot.healthcheck`: exit 0 when the bot's own /healthz answers 200.

The container's HEALTHCHECK: a slim image has no curl, so this asks with the standard
library alone (and imports nothing else of the bot, to stay quick). It asks where the bot
serves /healthz: on METRICS_PORT in Socket Mode, else on PORT.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping

TIMEOUT_SECONDS = 4.0


def healthz_url(env: Mapping[str, str]) -> str:
    """The local /healthz of a bot configured by `env`."""
    socket_mode = bool(env.get("SLACK_APP_TOKEN", "").strip())
    metrics_port = env.get("METRICS_PORT", "").strip() if socket_mode else ""
    port = metrics_port or env.get("PORT", "").strip() or "3000"
    return f"http://127.0.0.1:{port}/healthz"


def check(url: str) -> str | None:
    """None when healthy, else why not in one line."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:
            return None if response.status == 200 else f"{url} answered {response.status}"
    except urllib.error.HTTPError as error:
        detail = error.read(300).decode("utf-8", "replace").strip()
        return f"{url} answered {error.code}: {detail}"
    except (urllib.error.URLError, OSError) as error:
        return f"{url} did not answer: {getattr(error, 'reason', error)}"


def main() -> int:
    problem = check(healthz_url(os.environ))
    if problem is None:
        return 0
    print(f"unhealthy: {problem}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
