"""The submitted modal: validate, then record the job unless its person is at a limit.

Nothing here calls HeyGen: the poller submits the recorded job, so a refused form or a
person over their limit costs nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

from slack_bolt.async_app import AsyncAck, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from ..blocks import escape
from ..jobs import new_job_id
from ..limits import OverLimit, explain, user_limits
from ..store import StoreBusy
from . import form, replies

log = logging.getLogger(__name__)

# Slack waits 3 s for the ack. The job is recorded first, so a process killed right after
# the modal closed has lost nothing; a database slower than this gets the ack anyway and
# the write goes on (a failure then reaches the person as a message).
RECORD_BEFORE_ACK_SECONDS = 2.0
BUSY = (
    "Sorry, your video was not started: the bot's database was busy for too long. "
    "Nothing was sent to HeyGen; please submit it again."
)


async def create_video_submission(
    ack: AsyncAck, body: dict, view: dict, context: AsyncBoltContext, client: AsyncWebClient
) -> None:
    services = context["services"]
    answers = form.read_form(view)
    await services.catalog.ready()  # a fresh install checks choices against a real catalog
    errors = form.errors(answers, services)
    user_id = body["user"]["id"]
    if errors:
        await ack(response_action="errors", errors=errors)
        return
    team_id = (body.get("team") or {}).get("id") or view.get("team_id") or ""
    job_id = new_job_id(team_id, view["id"]) if view.get("id") else new_job_id()
    job = form.job(answers, job_id, user_id, team_id, form.metadata(view), services)
    try:
        limits = user_limits(services.settings)
        added = await _record_then_ack(services.store.add_job(job, limits=limits), ack)
    except StoreBusy as error:  # the modal is closed already: say so where they will see it
        log.error("job %s: not recorded: %s", job.id, error)
        await replies.tell(body, None, client, BUSY)
        return
    except OverLimit as refused:  # counted after the ack went out: the modal is closed
        await replies.tell(body, None, client, escape(explain(refused)))
        return
    if added:
        services.job_added()
        await services.store.remember_choices(user_id, job.avatar_id, job.voice_id, job.shape)


async def _record_then_ack(write: Awaitable[bool], ack: AsyncAck) -> bool:
    """Acks once the job is recorded, or after RECORD_BEFORE_ACK_SECONDS, whichever first.

    A person at a limit (the store counts in the same step as the insert) is told inline,
    on the modal, and False is returned; if that answer comes after the ack, OverLimit
    is raised for the caller to say so in a message.
    """
    recording = asyncio.ensure_future(write)
    acked = False
    try:
        await asyncio.wait_for(asyncio.shield(recording), RECORD_BEFORE_ACK_SECONDS)
    except OverLimit as refused:
        acked = True
        await ack(response_action="errors", errors={"script": explain(refused)})
        return False
    except (TimeoutError, StoreBusy):
        pass  # answered by awaiting `recording` below
    finally:
        if not acked:
            await ack()
    return await recording
