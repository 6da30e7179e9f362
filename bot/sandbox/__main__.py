"""`python -m bot.sandbox`: serve the sandbox alone on SANDBOX_PORT (default 4010).

`python -m bot sandbox` is the documented command; this is the same thing without the bot.
"""

from __future__ import annotations

import os
import sys

from .server import serve_forever
from .settings import settings_from_env

DEFAULT_PORT = 4010


def main() -> int:
    try:
        settings = settings_from_env(os.environ)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    raw_port = os.environ.get("SANDBOX_PORT", "").strip() or str(DEFAULT_PORT)
    if not raw_port.isdigit() or int(raw_port) > 65535:
        print(f"error: SANDBOX_PORT must be a port number, got {raw_port!r}", file=sys.stderr)
        return 2
    port = int(raw_port)
    host = os.environ.get("SANDBOX_HOST", "").strip() or "127.0.0.1"
    serve_forever(settings, host=host, port=port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
