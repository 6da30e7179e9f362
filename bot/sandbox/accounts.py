"""HeyGen accounts: one per API key, each with its own catalog, credit, slots and videos.

At HeyGen an API key belongs to one account, and everything it reaches is that account's:
its private avatars and voice clones (the public library is shared), its credit, how many
videos it may render at once, its videos and its webhook endpoints. The sandbox keeps that
split so a client serving several accounts can be tested against it.

The default account (named `default`) answers to `SANDBOX_API_KEY`; while no key at all is
configured, every key (or none) is the default account, as the sandbox always behaved. More
accounts come from `SANDBOX_API_KEYS` or `POST /_sandbox/accounts`; once any key is
configured, a key no account holds gets HeyGen's 401. Accounts added while running are kept
in the state file, so they survive a restart like the videos they own.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, replace

from .catalog import Catalog, with_private
from .settings import SandboxSettings
from .store import AccountRow, Store
from .videos import DEFAULT_ACCOUNT

QUOTA_SECONDS = 100 * 3600.0  # what a new account may render (100 hours: 6,000 credits)
SETTINGS_PRIVATE_AVATARS = 2  # private avatars of each account from SANDBOX_API_KEYS
MAX_PRIVATE_AVATARS = 1000
ACCOUNT_SCOPE_KEY = "sandbox.account"  # where ApiKeyMiddleware leaves a request's Account


@dataclass(frozen=True)
class Account:
    """One HeyGen account as the sandbox plays it."""

    name: str
    api_key: str | None  # None: the default account while no key is configured
    credit_seconds: float  # seconds of video it may render in all
    concurrency: int  # videos rendering at once before create answers 429
    private_avatars: int
    catalog: Catalog  # the public library plus its own avatars and voice clones

    @property
    def private_looks(self) -> list[str]:
        return [a.avatar_id for a in self.catalog.avatars if a.private]

    @property
    def private_voices(self) -> list[str]:
        return [v.voice_id for v in self.catalog.voices if v.private]


class Accounts:
    """Every account of one sandbox, found by name or by the key a request carries."""

    def __init__(self, store: Store, public: Catalog, settings: SandboxSettings) -> None:
        self._store = store
        self._public = public
        default = Account(
            DEFAULT_ACCOUNT, settings.api_key, QUOTA_SECONDS, settings.concurrency, 0, public
        )
        self._by_name: dict[str, Account] = {DEFAULT_ACCOUNT: default}
        for row in store.accounts():
            self._load(row)
        for n, key in enumerate(settings.api_keys, start=1):
            if self.holder_of(key) is None:
                row = AccountRow(
                    self.free_name(f"account-{n}"),
                    key,
                    QUOTA_SECONDS,
                    settings.concurrency,
                    SETTINGS_PRIVATE_AVATARS,
                )
                self.add(row)

    @property
    def default(self) -> Account:
        return self._by_name[DEFAULT_ACCOUNT]

    def all(self) -> list[Account]:
        return list(self._by_name.values())

    def get(self, name: str) -> Account | None:
        return self._by_name.get(name)

    def catalog_of(self, name: str) -> Catalog:
        """The catalog a video of this account renders from (the public one if it is gone)."""
        account = self._by_name.get(name)
        return account.catalog if account else self._public

    def knows(self, kind: str, item_id: str) -> bool:
        """Whether any account has this avatar (`kind="avatars"`) or voice, for preview files
        (links are not key-checked, so they need not say whose it is)."""
        for account in self._by_name.values():
            items = (
                account.catalog.avatar_by_id if kind == "avatars" else account.catalog.voice_by_id
            )
            if item_id in items:
                return True
        return False

    def keyed(self) -> bool:
        """Whether any key is configured (then only configured keys are accepted)."""
        return any(a.api_key for a in self._by_name.values())

    def holder_of(self, key: str) -> Account | None:
        """The account this key belongs to, compared in constant time."""
        given = key.encode()
        for account in self._by_name.values():
            if account.api_key and hmac.compare_digest(given, account.api_key.encode()):
                return account
        return None

    def for_request(self, key: str | None) -> Account | str:
        """The account a request's `X-Api-Key` reaches, or why it reaches none."""
        if not self.keyed():
            return self.default
        if not key:
            return "Missing API key: send it in the X-Api-Key header"
        return self.holder_of(key) or "Invalid API key"

    def free_name(self, wanted: str) -> str:
        """`wanted`, or `wanted-2`, `wanted-3`… when an account already has that name."""
        name, n = wanted, 1
        while name in self._by_name:
            n += 1
            name = f"{wanted}-{n}"
        return name

    def add(self, row: AccountRow) -> Account:
        """A new account, kept in the store (the caller checked its name and key are free)."""
        self._store.add_account(row)
        return self._load(row)

    def set_default_key(self, key: str | None) -> None:
        """What revoking the default account's key (and issuing another) looks like."""
        self._by_name[DEFAULT_ACCOUNT] = replace(self.default, api_key=key)

    def _load(self, row: AccountRow) -> Account:
        catalog = with_private(self._public, row.name, row.private_avatars)
        account = Account(
            row.name,
            row.api_key,
            row.credit_seconds,
            row.concurrency,
            row.private_avatars,
            catalog,
        )
        self._by_name[row.name] = account
        return account
