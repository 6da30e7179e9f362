"""Distribution mode: one installation per workspace (or Grid org), kept in our database.

Bolt's OAuth flow saves each installation through `Installations`, an
`AsyncInstallationStore` on the bot's own Store (SQLite or PostgreSQL): the whole record,
bot token included, is stored as one SecretBox token under ENCRYPTION_KEY, so a dump of the
database hands out no Slack token. Requests are authorized from it by Bolt itself.

Work that runs outside a Slack request (the notifier's messages and uploads, App Home
refreshes) names its workspace in `CURRENT`; `WorkspaceClient` then sends each Web API call
with that workspace's bot token, looked up once per process and cached until the workspace
uninstalls. With no workspace named, the client is the plain single-workspace client.
"""

from __future__ import annotations

import json
import logging
import time
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.oauth.installation_store import Bot, Installation
from slack_sdk.oauth.installation_store.async_installation_store import (
    AsyncInstallationStore,
)
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from .jobs import Job
from .secret_box import SecretBox, UndecryptableSecret

log = logging.getLogger(__name__)
TOKEN_CACHE_SECONDS = 300.0  # another replica's uninstall reaches this one within this


@dataclass(frozen=True)
class WorkspaceRef:
    """Which installation a piece of work belongs to: a workspace, or a whole Grid org."""

    team_id: str | None
    enterprise_id: str | None = None
    is_enterprise_install: bool = False

    @property
    def key(self) -> str:
        """The installation's id: the org's for an org-wide install, else the team's."""
        if self.is_enterprise_install or not self.team_id:
            return self.enterprise_id or ""
        return self.team_id

    @classmethod
    def of_job(cls, job: Job) -> WorkspaceRef:
        return cls(job.team_id or None, job.enterprise_id)


CURRENT: ContextVar[WorkspaceRef | None] = ContextVar("slack_workspace", default=None)


class WorkspaceGone(Exception):
    """The workspace has no installation (any more): nothing may be sent there."""


class Installations(AsyncInstallationStore):
    """Bolt's installation store, on our Store; bot-level installs, org installs by org id."""

    def __init__(self, store: Any, box: SecretBox) -> None:
        self._store = store
        self._box = box
        self._cache: dict[str, tuple[float, Installation | None]] = {}

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_save(self, installation: Installation) -> None:
        org = bool(installation.is_enterprise_install)
        key = (installation.enterprise_id if org else installation.team_id) or ""
        await self._store.save_installation(
            {
                "install_key": key,
                "enterprise_id": installation.enterprise_id,
                "team_id": None if org else installation.team_id,
                "is_enterprise_install": int(org),
                "installer_user_id": installation.user_id,
                "installed_at": installation.installed_at,
                "record": self._box.encrypt(json.dumps(_plain(installation))),
            }
        )
        self._cache.pop(key, None)
        log.info("installed in %s %s", "org" if org else "workspace", key)

    async def async_save_bot(self, bot: Bot) -> None:
        """`async_save` keeps the bot with the installation: nothing more to store."""

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        """The workspace's own installation, else its org's org-wide one."""
        if team_id and not is_enterprise_install:
            found = await self._load(team_id)
            if found is not None:
                return found
        if enterprise_id:
            found = await self._load(enterprise_id)
            if found is not None and found.is_enterprise_install:
                return found
        return None

    async def async_find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        found = await self.async_find_installation(
            enterprise_id=enterprise_id,
            team_id=team_id,
            is_enterprise_install=is_enterprise_install,
        )
        return found.to_bot() if found is not None and found.bot_token else None

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await self.async_delete_installation(enterprise_id=enterprise_id, team_id=team_id)

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        key = team_id or enterprise_id or ""
        await self._store.delete_installation(key)
        self.forget(key)

    async def find(self, ref: WorkspaceRef) -> Installation | None:
        return await self.async_find_installation(
            enterprise_id=ref.enterprise_id,
            team_id=ref.team_id,
            is_enterprise_install=ref.is_enterprise_install,
        )

    async def bot_token(self, ref: WorkspaceRef) -> str | None:
        found = await self.find(ref)
        return found.bot_token if found is not None else None

    async def may_manage(self, client: AsyncWebClient, ref: WorkspaceRef, user: str) -> bool:
        """May `user` change the workspace's settings: its installer, an admin or owner."""
        installation = await self.find(ref)
        if installation is not None and installation.user_id == user:
            return True
        try:
            person = (await client.users_info(user=user)).get("user") or {}
        except SlackApiError as error:
            log.info("users.info for %s failed: %s", user, error.response.get("error"))
            return False
        return bool(person.get("is_admin") or person.get("is_owner"))

    def forget(self, key: str) -> None:
        """Drop the cached installation (uninstalled, or its token refused)."""
        self._cache.pop(key, None)

    async def _load(self, key: str) -> Installation | None:
        cached = self._cache.get(key)
        if cached is not None and time.monotonic() - cached[0] < TOKEN_CACHE_SECONDS:
            return cached[1]
        row = await self._store.installation(key)
        found = None
        if row is not None:
            try:
                found = Installation(**json.loads(self._box.decrypt(row["record"])))
            except UndecryptableSecret:
                log.error("the installation of %s does not open with ENCRYPTION_KEY", key)
        self._cache[key] = (time.monotonic(), found)
        return found


def _plain(installation: Installation) -> dict[str, Any]:
    """The installation as JSON-ready values (times as epoch seconds)."""
    values = installation.to_dict_for_copying()
    return {k: v.timestamp() if isinstance(v, datetime) else v for k, v in values.items()}


class WorkspaceClient(AsyncWebClient):
    """A Web API client that sends each call with the token of the workspace in `CURRENT`.

    `installations` unset (single-workspace mode), or no workspace named: the client's
    own token, as any AsyncWebClient.
    """

    installations: Installations | None = None

    async def api_call(  # type: ignore[override]
        self, api_method: str, *, headers: dict | None = None, **kwargs: Any
    ) -> AsyncSlackResponse:
        ref = CURRENT.get()
        if self.installations is not None and ref is not None:
            token = await self.installations.bot_token(ref)
            if token is None:
                raise WorkspaceGone(ref.key)
            headers = {**(headers or {}), "Authorization": f"Bearer {token}"}
        return await super().api_call(api_method, headers=headers, **kwargs)
