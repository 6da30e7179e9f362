"""Test doubles for Slack: a loopback Web API server and signed inbound requests."""

from .block_kit import validate_blocks, validate_options, validate_view
from .slack_api import FakeSlack, SlackCall
from .slack_requests import BOT_TOKEN, SIGNING_SECRET, SignedRequest, send, sign

__all__ = [
    "BOT_TOKEN",
    "SIGNING_SECRET",
    "FakeSlack",
    "SignedRequest",
    "SlackCall",
    "send",
    "sign",
    "validate_blocks",
    "validate_options",
    "validate_view",
]
