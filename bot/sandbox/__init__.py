"""A local HeyGen-compatible API (think stripe-mock), speaking both v2 and v3.

Client code should not be able to tell it from HeyGen: the same paths, bodies, error objects
and HTTP statuses, presigned file links to real files, signed webhooks. What HeyGen cannot do
and tests need is under `/_sandbox/` (request log, video inspection and forcing, a clock to
jump forward, a fault plan).

By default (`render="real"`) every video is really rendered, off the request path: the
script spoken by espeak-ng in the voice's language and gender, over an animated portrait
card of the avatar at the requested size and background, plus GIF, thumbnail and captions
(`studio.py` runs the queue, `render.py` one render). `render="static"` serves the same tiny
files for every video instantly, for fast tests of client code.

Script markers choose an outcome:
- `[sandbox:fail]` ends the render `failed` (`[sandbox:fail:CODE]` picks the failure code,
  e.g. VIDEO_TOO_LONG, CONTENT_MODERATION, or any code of your own);
- `[sandbox:stall]` never finishes on its own (for job-timeout tests);
- `[sandbox:render:SECONDS]` sets the render time of that one video (for a real render, the
  shortest time to `completed`).

Markers shape the video's files, for download tests:
- `[sandbox:size:MB]` pads its mp4 to MB megabytes (with an mp4 `free` box, so it still plays);
- `[sandbox:throttle:BYTES]` serves its files at BYTES per second;
- `[sandbox:chunked]` serves them without a Content-Length (chunked transfer encoding).

Several accounts: each API key of `SANDBOX_API_KEY`, `SANDBOX_API_KEYS` or
`POST /_sandbox/accounts` is a HeyGen account of its own (private avatars and voice clones,
credit, render slots, videos, webhook endpoints); with no key configured every key is the one
default account (see `accounts.py`).

Embed it with `SandboxServer` (inside a running event loop) or `start_in_thread`.
"""

from .app import create_app
from .server import RunningSandbox, SandboxServer, serve_forever, start_in_thread
from .settings import SandboxSettings, settings_from_env

__all__ = [
    "RunningSandbox",
    "SandboxServer",
    "SandboxSettings",
    "create_app",
    "serve_forever",
    "settings_from_env",
    "start_in_thread",
]
