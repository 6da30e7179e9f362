"""A local Slack stand-in: the Web API, signed inbound requests, Socket Mode and a web page.

The tests drive the bot through it, and `python -m bot playground` shows the whole product
through it in a browser: one stand-in, as strict as Slack, for both.
"""

from .block_kit import validate_blocks, validate_options, validate_view
from .inbound import BOT_TOKEN, SIGNING_SECRET, SignedRequest, send, sign
from .web_api import SlackCall, SlackStandIn

__all__ = [
    "BOT_TOKEN",
    "SIGNING_SECRET",
    "SignedRequest",
    "SlackCall",
    "SlackStandIn",
    "send",
    "sign",
    "validate_blocks",
    "validate_options",
    "validate_view",
]
