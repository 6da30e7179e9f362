"""The long-lived parts of one bot process, started and stopped together.

Both entry points (HTTP and Socket Mode) build the same `Services`, so the poller,
notifier and catalog behave identically whichever way Slack reaches the bot.

Several replicas (DATABASE_URL): any replica answers any Slack request or HeyGen
webhook, and in Socket Mode each opens its own connection (Slack hands each event to one).
What must agree lives in the database: jobs, the outbox, each piece of work's lease
(a submit, a status check, a message or upload: LEASE_SECONDS), per-person limits and
queue positions (counted from the jobs), webhook event ids, the HeyGen request slots
(HEYGEN_MAX_RPS per account) and the singletons (catalog refresh, status heartbeat).
What stays per process is safe there: the catalog's in-memory copy (reloaded from the
database), modal previews (each update carries Slack's view hash, so a stale one is
refused), the credit cache, the Slack pacing (a 429 from several replicas is waited out
like any other, and costs no attempt), the key watch and /healthz (each replica reports
on itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from .accounts import ACCOUNT, SANDBOX, Account, Accounts
from .catalog import Catalog
from .config import Settings
from .credit import CreditCache
from .health import Credential
from .heartbeat import keep_elapsed_fresh
from .heygen import HeyGenClient, make_client
from .heygen.client import SharedCap, account_key
from .home import publish_home
from .jobs import Job
from .metrics import Metrics
from .notify import Notifier
from .poller import Poller
from .schedule import Schedule
from .secret_box import SecretBox
from .startup import SlackIdentity, verify_slack
from .store import Store, open_store
from .upload import UploadLimits
from .workspaces import CURRENT, Installations, WorkspaceClient

log = logging.getLogger(__name__)
HEALTH_DB_SECONDS = 2.0  # a database slower than this to count rows is not answering


@dataclass
class Services:
    settings: Settings
    store: Store
    base_heygen: HeyGenClient  # the bot's own account (HEYGEN_API_KEY, or the sandbox)
    slack: AsyncWebClient
    base_catalog: Catalog
    poller: Poller
    notifier: Notifier
    base_credit: CreditCache
    sandbox: object | None = None
    identity: SlackIdentity | None = None
    slack_auth: Credential = field(default_factory=lambda: Credential("Slack"))
    heygen_auth: Credential = field(default_factory=lambda: Credential("HeyGen"))
    tasks: list[asyncio.Task] = field(default_factory=list)
    metrics: Metrics | None = None
    installations: Installations | None = None  # distribution mode only
    accounts: Accounts | None = None  # distribution mode only

    # The HeyGen account of the request being handled (distribution mode: the requesting
    # workspace's, see `accounts.ACCOUNT`), else the bot's own.
    @property
    def heygen(self) -> HeyGenClient:
        account = ACCOUNT.get()
        return account.heygen if account else self.base_heygen

    @property
    def catalog(self) -> Catalog:
        account = ACCOUNT.get()
        return account.catalog if account else self.base_catalog

    @property
    def credit(self) -> CreditCache:
        account = ACCOUNT.get()
        return account.credit if account else self.base_credit

    async def heygen_for(self, job: Job) -> HeyGenClient:
        """The HeyGen client of the account the job runs on (its key may be gone: then
        the bot's own, which answers "not found" for another account's video)."""
        if self.accounts is None:
            return self.base_heygen
        return await self.accounts.for_job(job) or self.base_heygen

    def forget_workspace(self, key: str) -> None:
        """Drop what this process caches of a workspace that left."""
        if self.installations is not None:
            self.installations.forget(key)
        if self.accounts is not None:
            self.accounts.forget(key)

    @property
    def uses_sandbox(self) -> bool:
        account = ACCOUNT.get()
        return account.sandbox if account else self.sandbox is not None

    def job_added(self) -> None:
        """A listener recorded a job: submit it and announce it now, not at the next tick."""
        self.poller.wake()
        self.notifier.wake()

    async def health(self) -> dict[str, object]:
        """What /healthz reports; never a setting's value. Cheap: two tiny queries."""
        alive = (
            all(not t.done() for t in self.tasks)
            and time.time() - min(self.poller.last_tick, self.notifier.last_tick) < 30
        )
        unfinished = await self._unfinished_jobs()
        database = unfinished is not None
        slack, heygen = self.slack_auth, self.heygen_auth
        return {
            "ok": database and alive and not slack.rejected and not heygen.rejected,
            "database": "ok" if database else "unavailable",
            "poller": "alive" if alive else "stopped",
            "slack": slack.report(),
            "heygen": {
                **heygen.report(),
                "target": "sandbox" if self.sandbox is not None else "api",
                "api_version": self.base_heygen.version,
            },
            "unfinished_jobs": unfinished,
        }

    async def _unfinished_jobs(self) -> int | None:
        """None when the database does not answer (locked, gone, closed)."""
        try:
            async with asyncio.timeout(HEALTH_DB_SECONDS):
                return await self.store.count_unfinished() if await self.store.ping() else None
        except Exception as error:  # any failure here means "unavailable", not a 500
            log.warning("database does not answer the health check: %s", error)
            return None


def slack_client(
    settings: Settings,
    session: aiohttp.ClientSession | None = None,
    *,
    resend_safe: bool = True,
    observer: AsyncRetryHandler | None = None,
) -> AsyncWebClient:
    """A Web API client with slack_sdk's retry handlers, on one long-lived `session`.

    Sharing the session reuses connections; without it slack_sdk opens (and tears down)
    a connection for every call. `resend_safe=False` (the notifier's client) retries
    nothing itself: the notifier reschedules a 429 for after Retry-After without holding a
    lane (and without counting it as a failure), and after a 5xx or a reset the message
    may have been posted, so the outbox decides, reading the conversation back first.
    `observer` goes first among the handlers, to see every request (the metrics).
    """
    handlers: list = [*filter(None, [observer])]
    if resend_safe:
        handlers += [
            AsyncRateLimitErrorRetryHandler(max_retry_count=2),
            AsyncServerErrorRetryHandler(max_retry_count=2),
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
        ]
    return WorkspaceClient(
        token=settings.slack_bot_token or None,
        base_url=settings.slack_api_url,
        session=session,
        timeout=settings.slack_timeout_seconds,
        retry_handlers=handlers,
    )


async def start_services(settings: Settings, identity: SlackIdentity | None = None) -> Services:
    """Ask Slack who the bot is, open the store, reach HeyGen (or start the sandbox), and
    start the loops. `identity` is `auth.test`'s answer when the caller already asked."""
    if not settings.distribution:  # distribution: each request names its workspace
        identity = identity or await verify_slack(settings)
    sandbox, heygen_url = await _heygen_backend(settings)
    heygen_auth = Credential("HeyGen")  # the poller records HeyGen's verdict; /healthz shows it
    heygen = make_client(
        settings.heygen_api_version,
        heygen_url,
        settings.heygen_api_key,
        max_rps=settings.heygen_max_rps,
        timeout=settings.heygen_timeout_seconds,
    )
    store = await open_store(
        settings.database_path, settings.database_url, lease_seconds=settings.lease_seconds
    )
    if store.shared:  # replicas: HEYGEN_MAX_RPS counts every replica's requests together
        account = account_key(heygen_url, settings.heygen_api_key)
        heygen.shared_cap = SharedCap(store.heygen_slot, account, settings.heygen_max_rps)
    metrics = Metrics(store, settings.slack_api_url)
    metrics.watch_heygen(heygen)
    session = _slack_session()
    slack = slack_client(settings, session, observer=metrics.slack_observer)
    installations = None
    if settings.distribution:
        installations = Installations(store, SecretBox.from_setting(settings.encryption_key))
    credit = CreditCache(heygen)
    notifier_slack = slack_client(
        settings, session, resend_safe=False, observer=metrics.slack_observer
    )
    slack.installations = notifier_slack.installations = installations

    parts: dict[str, Any] = {}  # distribution mode's accounts, made once the poller is

    async def refresh_home(user_id: str) -> None:
        account = await _workspace_account(parts.get("accounts"))
        await publish_home(
            notifier_slack,
            store,
            account.credit if account else credit,
            user_id,
            sandbox=account.sandbox if account else settings.uses_sandbox,
            heygen_key=account.label if account else None,
            manage_key=await _may_manage(installations, notifier_slack, user_id),
        )

    async def job_client(job: Job) -> HeyGenClient | None:
        return await parts["accounts"].for_job(job)

    slack_auth = Credential("Slack")
    notifier = Notifier(
        store,
        notifier_slack,
        timeout_seconds=settings.job_timeout_seconds,
        uploads=UploadLimits.from_settings(settings),
        home=refresh_home,
        slack_auth=slack_auth,
        workspaces=installations,
    )
    poller = Poller(
        store,
        heygen,
        _schedule(settings),
        auth=heygen_auth,
        on_change=notifier.wake_event,
        clients=job_client if settings.distribution else None,
    )
    catalog = Catalog(store, heygen, on_error=poller.key.refused)
    services = Services(
        settings,
        store,
        heygen,
        slack,
        catalog,
        poller,
        notifier,
        credit,
        sandbox,
        identity,
        metrics=metrics,
        heygen_auth=heygen_auth,
        slack_auth=slack_auth,
        installations=installations,
    )
    if settings.distribution:
        default = Account(
            SANDBOX if settings.uses_sandbox else None,
            heygen,
            catalog,
            credit,
            settings.uses_sandbox,
        )
        services.accounts = parts["accounts"] = await _accounts(settings, store, metrics, default)
    loops = [
        ("catalog", catalog.run()),
        ("poller", poller.run()),
        ("notifier", notifier.run()),
    ]
    if settings.status_refresh_seconds:
        every = settings.status_refresh_seconds
        loops.append(("heartbeat", keep_elapsed_fresh(store, notifier, every)))
    services.tasks = [asyncio.create_task(c, name=n) for n, c in loops]
    return services


def _slack_session() -> aiohttp.ClientSession:
    """Connections to Slack kept open between calls. No total timeout of its own: each
    call's limit is SLACK_TIMEOUT_SECONDS, which slack_sdk sets per request."""
    return aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=None),
        connector=aiohttp.TCPConnector(limit=32, keepalive_timeout=60),
    )


def _schedule(settings: Settings) -> Schedule:
    """The poll schedule; the embedded sandbox renders every script in the same time."""
    return Schedule(
        shortest=settings.poll_interval_seconds,
        longest=settings.poll_max_interval_seconds,
        timeout=settings.job_timeout_seconds,
        estimate=(
            settings.sandbox_render_seconds
            if settings.uses_sandbox
            else settings.heygen_render_estimate_seconds
        ),
        by_length=not settings.uses_sandbox,
        webhooks=bool(settings.heygen_webhook_secret),
    )


async def stop_services(services: Services, deadline: float | None = None) -> None:
    """Stop taking work, let the Slack calls under way finish, then close everything.

    The drain ends at `deadline` (time.monotonic()), by default SHUTDOWN_GRACE_SECONDS
    from now. Whatever is cut short stays in the database and is picked up by the next
    start; the one line logged says how much that is.
    """
    if deadline is None:
        deadline = time.monotonic() + services.settings.shutdown_grace_seconds
    services.notifier.stop()
    notifier = next(t for t in services.tasks if t.get_name() == "notifier")
    with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
        await asyncio.wait_for(asyncio.shield(notifier), max(0.0, deadline - time.monotonic()))
    for task in services.tasks:
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.gather(*services.tasks, return_exceptions=True)
    await services.base_heygen.aclose()
    if services.accounts is not None:
        await services.accounts.aclose()
    await services.notifier.aclose()
    if services.slack.session is not None:
        await services.slack.session.close()
    if services.sandbox is not None:
        await services.sandbox.stop()
    await _say_stopped(services.store)
    await services.store.aclose()


async def _say_stopped(store: Store) -> None:
    try:
        left = await store.count_unsent()
    except Exception as error:  # the line must still be written
        log.info("stopped (messages left unknown: %s)", error)
        return
    if left:
        log.info("stopped: %d Slack message%s left for the next start", left, "s"[: left != 1])
    else:
        log.info("stopped: every Slack message sent")


async def _accounts(settings: Settings, store: Any, metrics: Metrics, default: Account) -> Accounts:
    """Distribution mode: each workspace's HeyGen account. Workspaces without a key of their
    own use the embedded sandbox: started here when the bot's own account is a real one
    (HEYGEN_API_KEY) that SHARE_HEYGEN_API_KEY does not share."""
    box = SecretBox.from_setting(settings.encryption_key)
    sandbox = None
    if not settings.uses_sandbox and not settings.share_heygen_api_key:
        server, url = await _heygen_backend(settings, embedded=True)
        client = make_client(
            settings.heygen_api_version, url, None, max_rps=settings.heygen_max_rps
        )
        catalog = Catalog(store, client, scope=SANDBOX)
        sandbox = Account(SANDBOX, client, catalog, CreditCache(client), True, server=server)
        sandbox.tasks.append(asyncio.create_task(catalog.run(), name="catalog-sandbox"))
    return Accounts(settings, store, box, default, sandbox, metrics)


async def _may_manage(
    installations: Installations | None, client: AsyncWebClient, user: str
) -> bool:
    ref = CURRENT.get()
    if installations is None or ref is None:
        return False
    return await installations.may_manage(client, ref, user)


async def _workspace_account(accounts: Accounts | None) -> Account | None:
    """The account of the workspace the current work is for (distribution mode)."""
    ref = CURRENT.get()
    if accounts is None or ref is None:
        return None
    return await accounts.for_workspace(ref.key)


async def _heygen_backend(
    settings: Settings, *, embedded: bool = False
) -> tuple[object | None, str]:
    if not settings.uses_sandbox and not embedded:
        return None, settings.heygen_api_url
    from .sandbox import SandboxServer, SandboxSettings

    state = None
    if settings.database_path != ":memory:":
        state = str(Path(settings.database_path).with_suffix(".sandbox.db"))
    sandbox_settings = SandboxSettings(
        render=settings.sandbox_render,
        render_seconds=settings.sandbox_render_seconds,
        state_path=state,
    )
    server = SandboxServer(sandbox_settings, port=settings.sandbox_port)
    try:
        url = await server.start()
    except OSError:
        log.warning("SANDBOX_PORT %d is busy; the sandbox takes a free port", settings.sandbox_port)
        server = SandboxServer(sandbox_settings, port=0)
        url = await server.start()
    return server, url
