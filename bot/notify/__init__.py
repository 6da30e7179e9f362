"""Turns recorded transitions into Slack messages, each exactly once.

`lanes` decides when each outbox row is sent (per-job order, independent lanes, the token's
health); `sends` what each kind of row sends; `pacing` keeps within Slack's rate limits.
"""

from .lanes import Notifier

__all__ = ["Notifier"]
