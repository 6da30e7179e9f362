"""Distribution mode: the HeyGen account each workspace works with.

A workspace with its own key (set in App Home) gets its own HeyGen client, catalog and
credit: its avatars, voices, render slots and request cap (HEYGEN_MAX_RPS per account,
shared by replicas through the store) are its account's. A workspace without one runs on
the bot's account when SHARE_HEYGEN_API_KEY is on, else on the embedded sandbox.

Each job records its account (`Job.account`: `heygen.client.account_key` of the key, never
the key), so the poller, a cancel or an uninstall reaches the same account later, even on
another replica: the key is found again by that id in the store and decrypted there.

While a Slack request is handled, `ACCOUNT` holds the requesting workspace's account, so
`Services.heygen`, `.catalog` and `.credit` are that account's for every listener.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from .blocks import SANDBOX_ACCOUNT
from .catalog import Catalog
from .credit import CreditCache
from .heygen import HeyGenClient, HeyGenError, make_client
from .heygen.client import SharedCap, account_key
from .jobs import Job
from .secret_box import SecretBox, UndecryptableSecret, last4

log = logging.getLogger(__name__)
SANDBOX = SANDBOX_ACCOUNT  # Job.account of videos a workspace makes on the sandbox

CACHE_SECONDS = 60.0  # how soon a key set or removed on another replica is seen here


@dataclass
class Account:
    """One HeyGen account as the bot uses it."""

    id: str | None  # None: the bot's own (HEYGEN_API_KEY, or the sandbox without one)
    heygen: HeyGenClient
    catalog: Catalog
    credit: CreditCache
    sandbox: bool
    last4: str | None = None  # a workspace's own key: its last four characters
    tasks: list[asyncio.Task] = field(default_factory=list)
    server: Any = None  # the embedded sandbox this account runs on, if started for it

    @property
    def label(self) -> str:
        """How App Home names the account: never more of a key than its last four."""
        if self.last4 is not None:
            return f"…{self.last4}" if self.last4 else "this workspace's key"
        return "sandbox" if self.sandbox else "the app's shared account"


ACCOUNT: ContextVar[Account | None] = ContextVar("heygen_account", default=None)


class KeyRefused(Exception):
    """HeyGen does not accept a key offered for a workspace; `answer` is what it said."""

    def __init__(self, answer: str) -> None:
        super().__init__(answer)
        self.answer = answer


class Accounts:
    """Each account's client and catalog, made on first use and kept per process."""

    def __init__(
        self,
        settings: Any,
        store: Any,
        box: SecretBox,
        default: Account,
        sandbox: Account | None,
        metrics: Any = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self._box = box
        self.default = default
        self._sandbox = sandbox  # None: the default account is the sandbox itself
        self._metrics = metrics
        self._own: dict[str, Account] = {}  # account id -> account
        self._chosen: dict[str, tuple[float, Account]] = {}  # workspace key -> its account

    @property
    def sandbox(self) -> Account:
        return self._sandbox or self.default

    async def for_workspace(self, key: str) -> Account:
        """The account a workspace's new work goes to."""
        chosen = self._chosen.get(key)
        if chosen is not None and time.monotonic() - chosen[0] < CACHE_SECONDS:
            return chosen[1]
        row = await self._store.heygen_key(key)
        account = self._from_row(row) if row else None
        if account is None:
            account = self.default if self._settings.share_heygen_api_key else self.sandbox
        self._chosen[key] = (time.monotonic(), account)
        return account

    async def for_job(self, job: Job) -> HeyGenClient | None:
        """The client of the account the job runs on; None when its key is gone."""
        if job.account is None:
            return self.default.heygen
        if job.account == SANDBOX:
            return self.sandbox.heygen
        if job.account in self._own:
            return self._own[job.account].heygen
        for row in await self._store.heygen_keys_of_account(job.account):
            account = self._from_row(row)
            if account is not None:
                return account.heygen
        return None

    async def check(self, api_key: str) -> None:
        """Ask HeyGen whether it accepts `api_key` (GET /v3/users/me; v2: remaining quota)."""
        client = self._client(api_key)
        try:
            await client.remaining_credit()
        except HeyGenError as error:
            raise KeyRefused(error.message or error.code or "refused") from None
        finally:
            await client.aclose()

    async def save(self, workspace: str, api_key: str) -> Account:
        """Keep a checked key for a workspace, encrypted; only its last four are shown.

        With PUBLIC_URL set, the account's video events are subscribed to as well: its own
        endpoint (`?account=<id>`) and signing secret, kept encrypted beside the key.
        """
        old = await self._store.heygen_key(workspace)
        if old is not None:
            await self._unsubscribe(old)
        account_id = account_key(self._settings.heygen_api_url, api_key)
        webhook_id, webhook_secret = await self._subscribe(api_key, account_id)
        await self._store.save_heygen_key(
            {
                "install_key": workspace,
                "secret": self._box.encrypt(api_key),
                "last4": last4(api_key),
                "account": account_id,
                "webhook_id": webhook_id,
                "webhook_secret": self._box.encrypt(webhook_secret) if webhook_secret else None,
                "updated_at": time.time(),
            }
        )
        self._chosen.pop(workspace, None)
        return await self.for_workspace(workspace)

    async def remove(self, workspace: str) -> None:
        """Forget a workspace's key (an admin removed it, or the workspace left)."""
        row = await self._store.heygen_key(workspace)
        if row is not None:
            await self._unsubscribe(row)
        await self._store.delete_heygen_key(workspace)
        self.forget(workspace)

    async def webhook_secrets(self, account_id: str) -> list[str]:
        """The signing secrets HeyGen uses for this account's events (one per key row)."""
        secrets = []
        for row in await self._store.heygen_keys_of_account(account_id):
            if row.get("webhook_secret"):
                with contextlib.suppress(UndecryptableSecret):
                    secrets.append(self._box.decrypt(row["webhook_secret"]))
        return secrets

    async def _subscribe(self, api_key: str, account_id: str) -> tuple[str | None, str | None]:
        public = self._settings.public_url
        if not public:
            return None, None
        client = self._client(api_key)
        try:
            return await client.register_webhook(f"{public}/heygen/webhook?account={account_id}")
        except HeyGenError as error:
            log.warning("could not subscribe to a workspace's HeyGen events: %s", error)
            return None, None
        finally:
            await client.aclose()

    async def _unsubscribe(self, row: dict[str, Any]) -> None:
        """Best effort: the endpoint registered for a key that is going away."""
        if not row.get("webhook_id"):
            return
        try:
            api_key = self._box.decrypt(row["secret"])
        except UndecryptableSecret:
            return
        client = self._client(api_key)
        try:
            await client.delete_webhook(row["webhook_id"])
        except HeyGenError as error:
            log.info("HeyGen kept a workspace's webhook endpoint: %s", error)
        finally:
            await client.aclose()

    def forget(self, workspace: str) -> None:
        """The workspace's key changed or it left: choose its account again next time."""
        self._chosen.pop(workspace, None)

    async def aclose(self) -> None:
        for account in [*self._own.values(), *filter(None, [self._sandbox])]:
            for task in account.tasks:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*account.tasks, return_exceptions=True)
            await account.heygen.aclose()
            if account.server is not None:
                await account.server.stop()

    def _from_row(self, row: dict[str, Any]) -> Account | None:
        if row["account"] in self._own:
            account = self._own[row["account"]]
            account.last4 = row.get("last4")
            return account
        try:
            api_key = self._box.decrypt(row["secret"])
        except UndecryptableSecret:
            log.error("a workspace's HeyGen key does not open with ENCRYPTION_KEY")
            return None
        heygen = self._client(api_key)
        account_id = row["account"]
        if self._store.shared:  # replicas: the account's cap counts every replica's requests
            heygen.shared_cap = SharedCap(
                self._store.heygen_slot, account_id, self._settings.heygen_max_rps
            )
        if self._metrics is not None:
            self._metrics.watch_heygen(heygen)
        catalog = Catalog(self._store, heygen, scope=account_id)
        account = Account(account_id, heygen, catalog, CreditCache(heygen), False, row.get("last4"))
        account.tasks.append(asyncio.create_task(catalog.run(), name=f"catalog-{account_id}"))
        self._own[account_id] = account
        return account

    def _client(self, api_key: str) -> HeyGenClient:
        settings = self._settings
        return make_client(
            settings.heygen_api_version,
            settings.heygen_api_url,
            api_key,
            max_rps=settings.heygen_max_rps,
            timeout=settings.heygen_timeout_seconds,
        )
