"""Link buttons (`open_*`: "Watch / download", "Play sample", previews): Slack opens the URL
itself but still sends the click.

Unacknowledged, Bolt answers 404 and Slack shows a warning on the button the user just
clicked; an ack is all the click needs.
"""

from __future__ import annotations

from slack_bolt.async_app import AsyncAck


async def open_video(ack: AsyncAck) -> None:
    await ack()
