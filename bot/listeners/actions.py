"""Buttons on the bot's messages and App Home: Cancel, Retry, Make another, fresh links.

Each acks first. Cancel and Retry change or repeat a job, so only its requester may
press them; *Make another* starts the presser's own job from the same choices, and *Get
a fresh link* answers whoever asked. Answers are private (see `replies.tell`).
"""

from __future__ import annotations

import logging

from slack_bolt.async_app import AsyncAck, AsyncBoltContext, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from ..blocks import SHORT_STATUS, escape, fresh_link_blocks
from ..heygen import HeyGenError
from ..jobs import CANCELLED, COMPLETED, FAILED, TIMED_OUT, Job, new_job_id
from ..limits import OverLimit, explain, user_limits
from ..modal import ModalChoices
from . import prefill
from .replies import tell

log = logging.getLogger(__name__)


async def _job(body: dict, action: dict, context: AsyncBoltContext) -> Job | None:
    """The job a button names; another workspace's job is as unknown as a missing one."""
    services = context["services"]
    job = await services.store.job(action.get("value") or "")
    if job is None or not services.settings.distribution:
        return job
    same_org = bool(context.is_enterprise_install and job.enterprise_id == context.enterprise_id)
    return job if job.team_id == context.team_id or same_org else None


def _presser(body: dict) -> str:
    return (body.get("user") or {}).get("id") or ""


async def _requesters_job(
    body: dict,
    action: dict,
    respond: AsyncRespond,
    client: AsyncWebClient,
    context: AsyncBoltContext,
    verb: str,
) -> Job | None:
    """The job a button names, if the presser asked for it; else tell them why not."""
    job = await _job(body, action, context)
    if job is None:
        await tell(body, respond, client, "That video is no longer known to the bot.")
        return None
    if _presser(body) != job.user_id:
        text = f"Only the requester (<@{job.user_id}>) can {verb} this video."
        await tell(body, respond, client, text)
        return None
    return job


async def cancel_job(
    ack: AsyncAck,
    body: dict,
    action: dict,
    respond: AsyncRespond,
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    """Stop following the job, say so in the thread, and delete HeyGen's video if any."""
    await ack()
    services = context["services"]
    job = await _requesters_job(body, action, respond, client, context, "cancel")
    if job is None:
        return
    if not await services.store.record_status(job.id, CANCELLED):
        await tell(body, respond, client, f"Too late: this video is {SHORT_STATUS[job.status]}.")
        return
    services.notifier.wake()
    video_id = (await services.store.job(job.id) or job).video_id
    if video_id:
        try:
            await services.heygen.delete_video(video_id)
        except HeyGenError as error:
            log.info("job %s: HeyGen kept cancelled video %s: %s", job.id, video_id, error)


async def retry_job(
    ack: AsyncAck,
    body: dict,
    action: dict,
    respond: AsyncRespond,
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    """Resubmit a failed job's exact choices as a new job in the same thread."""
    await ack()
    services = context["services"]
    job = await _requesters_job(body, action, respond, client, context, "retry")
    if job is None:
        return
    if job.status not in (FAILED, TIMED_OUT):
        await tell(body, respond, client, "Only a failed or timed-out video can be retried.")
        return
    again = Job(
        id=new_job_id(job.team_id, "retry", job.id),
        api_version=services.heygen.version,
        thread_ts=job.reply_thread,
        enterprise_id=job.enterprise_id,
        account=job.account,
        **job.choices(),
    )
    try:
        added = await services.store.add_job(again, limits=user_limits(services.settings))
    except OverLimit as refused:
        await tell(body, respond, client, escape(explain(refused)))
        return
    if not added:
        await tell(body, respond, client, "This video was retried already: see the thread.")
        return
    services.job_added()


async def make_another(
    ack: AsyncAck, body: dict, action: dict, client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    """Open the modal with this job's choices, for whoever pressed (their own new job)."""
    await ack()
    services = context["services"]
    job = await _job(body, action, context)
    choices = prefill.from_job(services, job) if job else ModalChoices()
    await prefill.open_modal(client, services, body["trigger_id"], choices)


async def new_video(
    ack: AsyncAck, body: dict, client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    """App Home's *New video*: the modal with this person's last choices, nowhere preset."""
    await ack()
    services = context["services"]
    choices = await prefill.remembered(services, _presser(body), ModalChoices())
    await prefill.open_modal(client, services, body["trigger_id"], choices)


async def fresh_link(
    ack: AsyncAck,
    body: dict,
    action: dict,
    respond: AsyncRespond,
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    """Ask HeyGen again (it signs new links on every status call) and answer privately."""
    await ack()
    services = context["services"]
    job = await _job(body, action, context)
    if job is None or job.status != COMPLETED or not job.video_id:
        await tell(body, respond, client, "There is no finished video to link to.")
        return
    try:
        state = await services.heygen.video_state(job.video_id)
    except HeyGenError as error:
        text = f"HeyGen could not give a new link: {escape(error.message)}"
        await tell(body, respond, client, text)
        return
    url = state.link(captions=job.captions)
    if not url:
        await tell(body, respond, client, "HeyGen has no link for this video right now.")
        return
    await services.store.update_job(job.id, video_url=url)
    await tell(
        body, respond, client, f"A fresh link to your video: {url}", fresh_link_blocks(job, url)
    )
