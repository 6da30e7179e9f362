"""Installs of the app in SlackStandIn: several workspaces and Grid orgs, OAuth v2, uninstall.

A distributed Slack app is installed once per workspace (or once for a whole Enterprise Grid
org) through OAuth v2: the person's browser goes to ``/oauth/v2/authorize``, Slack redirects
back to the app's redirect URL with a one-time ``code``, and the app trades the code for a bot
token with ``oauth.v2.access``. This mixin gives SlackStandIn that flow over real HTTP, plus
the bookkeeping behind it: which token belongs to which workspace, which workspace owns an id,
and what a token answers once the app is uninstalled.

What it follows (docs.slack.dev: installing-with-oauth, oauth.v2.access, the org-wide apps
reference, bolt-python's org-app tests) and what it assumes where the docs are silent is
listed in the SlackStandIn docs of ``add_team``, ``authorize``, ``install`` and ``uninstall``.
"""

from __future__ import annotations

import base64
import re
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from ..app_manifest import BOT_SCOPES
from .inbound import (
    API_APP_ID,
    BOT_NAME,
    BOT_TOKEN,
    CHANNEL_NAMES,
    DEFAULT_TEAM,
    TEAM_ID,
    USER_ID,
    USER_NAMES,
    SignedRequest,
    Team,
    add_person,
    app_uninstalled,
    tokens_revoked,
)
from .workspace import ApiError, Workspace, as_str

CODE_TTL = 600.0  # Slack's authorization codes are good for ten minutes
OWNER_KEYS = ("channel", "channel_id", "user", "user_id", "users")
TEAM_RE = re.compile(r"^T[A-Z0-9]{2,}$")
ENTERPRISE_RE = re.compile(r"^E[A-Z0-9]{2,}$")


@dataclass(frozen=True)
class AppConfig:
    """What the app's settings page at api.slack.com holds for OAuth."""

    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]
    scopes: frozenset[str]
    user_scopes: frozenset[str] = frozenset()


@dataclass
class Token:
    """One token Slack issued; `revoked` is the error every call answers once it is gone."""

    token: str
    kind: str  # "bot" or "user"
    team_id: str | None  # None: an org-wide install
    enterprise_id: str | None
    user_id: str  # the bot user, or the person a user token acts for
    scopes: frozenset[str]
    revoked: str | None = None

    @property
    def install_key(self) -> str:
        """The installation the token belongs to: a workspace, or a whole org."""
        return self.team_id or self.enterprise_id or ""


@dataclass(frozen=True)
class _Grant:
    """An authorization code handed to the redirect URL, waiting for oauth.v2.access."""

    client_id: str
    redirect_uri: str | None  # as sent to /oauth/v2/authorize, if it was
    team_id: str | None
    enterprise_id: str | None
    user_id: str
    scopes: frozenset[str]
    user_scopes: frozenset[str]
    issued: float


@dataclass(frozen=True)
class Uninstalled:
    """What `SlackStandIn.uninstall` removed, with the events Slack then sends the app."""

    team: Team  # the installation's identity before it went (org-wide: org_install=True)
    bot: tuple[str, ...]  # bot user ids whose tokens were revoked
    oauth: tuple[str, ...]  # user ids whose user tokens were revoked

    def app_uninstalled(self, **kwargs: Any) -> SignedRequest:
        return app_uninstalled(self.team, **kwargs)

    def tokens_revoked(self, **kwargs: Any) -> SignedRequest:
        return tokens_revoked(self.team, bot=list(self.bot), oauth=list(self.oauth), **kwargs)


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "workspace"


def _basic_auth(headers: dict[str, str]) -> tuple[str, str] | None:
    value = headers.get("authorization", "")
    if not value.lower().startswith("basic "):
        return None
    try:
        client_id, _, secret = base64.b64decode(value[6:].strip()).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return client_id, secret


def _scope_set(value: Any) -> frozenset[str]:
    return frozenset(s.strip() for s in as_str(value).replace(" ", ",").split(",") if s.strip())


class MultiTeam:
    """SlackStandIn's workspaces, apps, grants and tokens (mixed into SlackStandIn)."""

    _lock: threading.RLock
    root_url: str
    workspace: Workspace
    oauth_code_ttl: float

    def _init_teams(self) -> None:
        """Start with the one default workspace, installed with the tests' BOT_TOKEN."""
        self._teams: dict[str, Workspace] = {TEAM_ID: self.workspace}
        self._base_teams: dict[str, Team] = {TEAM_ID: DEFAULT_TEAM}
        self._enterprises: dict[str, dict[str, str]] = {}
        self._owners: dict[str, str] = {}
        self._apps: dict[str, AppConfig] = {}
        self._grants: dict[str, _Grant] = {}
        default_bot = Token(
            BOT_TOKEN, "bot", TEAM_ID, None, DEFAULT_TEAM.bot_user_id, frozenset(BOT_SCOPES)
        )
        self._tokens: dict[str, Token] = {BOT_TOKEN: default_bot}
        self.new_token_on_reinstall = False
        self._adopt(self.workspace)

    # ----------------------------------------------------------------- teams

    def add_team(
        self,
        team_id: str,
        name: str,
        domain: str | None = None,
        *,
        enterprise_id: str | None = None,
        enterprise_name: str | None = None,
    ) -> Workspace:
        """Another workspace (of Grid org `enterprise_id`, if given) with no install yet:
        its own people, channels, messages and views; install with `install` or OAuth."""
        if not TEAM_RE.match(team_id) or (enterprise_id and not ENTERPRISE_RE.match(enterprise_id)):
            raise ValueError("team ids look like T0002, enterprise ids like E0001")
        with self._lock:
            if team_id in self._teams:
                raise ValueError(f"team {team_id} exists")
            if enterprise_id:
                org = self._enterprises.setdefault(
                    enterprise_id, {"name": enterprise_name or f"{name} Org"}
                )
                enterprise_name = org["name"]
            team = Team(
                id=team_id,
                name=name,
                domain=domain or _slug(name),
                enterprise_id=enterprise_id,
                enterprise_name=enterprise_name,
                bot_user_id=f"U{team_id[1:]}BOT",
                bot_id=f"B{team_id[1:]}",
            )
            self._base_teams[team_id] = team
            workspace = Workspace(self.root_url, trigger_ttl=self.workspace.trigger_ttl, team=team)
            workspace.tokens = set()
            workspace.scopes = set()
            self._teams[team_id] = workspace
            self._adopt(workspace)
            org_token = self._active_org_token(enterprise_id)
            if org_token is not None:
                self._join_org(workspace, org_token)
            return workspace

    def add_person(self, team_id: str, user_id: str, name: str) -> None:
        """A person of `team_id`: users.info there knows them, other teams do not."""
        with self._lock:
            workspace = self._teams[team_id]
            add_person(user_id, name)  # the inbound builders' user names
            workspace.users.setdefault(user_id, {})["name"] = name
            self._owners[user_id] = team_id

    def add_channel(self, team_id: str, channel_id: str, name: str) -> None:
        """A channel of `team_id`; another team's token naming it gets channel_not_found."""
        with self._lock:
            self._teams[team_id].channels[channel_id] = {"name": name, "name_normalized": name}
            self._owners[channel_id] = team_id

    def team(self, team_id: str = TEAM_ID) -> Team:
        """The team's identity now (org-wide install, bot user): pass it to inbound builders."""
        with self._lock:
            return self._teams[team_id].team

    @property
    def workspaces(self) -> dict[str, Workspace]:
        """Every workspace by team id; read their state under `lock`."""
        with self._lock:
            return dict(self._teams)

    def _adopt(self, workspace: Workspace) -> None:
        team_id = workspace.team.id

        def is_foreign(some_id: str) -> bool:
            owner = self._owner_of(some_id)
            return owner is not None and owner != team_id

        workspace.is_foreign = is_foreign

    def _owner_of(self, some_id: str) -> str | None:
        """The team an id belongs to, if the stand-in knows; unknown ids belong to nobody."""
        if some_id in self._owners:
            return self._owners[some_id]
        if some_id[:1] == "D":  # a DM belongs to the person's team
            for prefix in ("U", "W"):
                owner = self._owner_of(prefix + some_id[1:])
                if owner is not None:
                    return owner
            return None
        for team_id, workspace in self._teams.items():
            if some_id in workspace.channels or some_id in workspace.users:
                return team_id
        if some_id in CHANNEL_NAMES or some_id in USER_NAMES:
            return TEAM_ID  # the tests' and playground's default people and channels
        return None

    # ----------------------------------------------------------------- apps and installs

    def register_app(
        self,
        client_id: str,
        client_secret: str,
        redirect_uri: str | Iterable[str],
        scopes: Iterable[str] = BOT_SCOPES,
        user_scopes: Iterable[str] = (),
    ) -> AppConfig:
        """The app's OAuth settings: its credentials, Redirect URLs and the scopes it may ask."""
        uris = (redirect_uri,) if isinstance(redirect_uri, str) else tuple(redirect_uri)
        app = AppConfig(client_id, client_secret, uris, frozenset(scopes), frozenset(user_scopes))
        with self._lock:
            self._apps[client_id] = app
        return app

    def install(
        self,
        team_id: str | None = None,
        *,
        enterprise_id: str | None = None,
        user_id: str | None = None,
        scopes: Iterable[str] | None = None,
        user_scopes: Iterable[str] = (),
    ) -> dict[str, Any]:
        """Install the app without the browser dance; returns what oauth.v2.access would.

        `enterprise_id` without `team_id` installs org-wide. A reinstall while installed keeps
        the bot token (as Slack does in most cases); set ``new_token_on_reinstall`` to get a
        fresh one instead, the old one still working."""
        with self._lock:
            if team_id is None and enterprise_id is None:
                team_id = TEAM_ID
            if team_id is not None:
                enterprise_id = self._teams[team_id].team.enterprise_id
            grant = _Grant(
                client_id="",
                redirect_uri=None,
                team_id=team_id,
                enterprise_id=enterprise_id,
                user_id=user_id or self._installer(team_id, enterprise_id),
                scopes=frozenset(BOT_SCOPES if scopes is None else scopes),
                user_scopes=frozenset(user_scopes),
                issued=time.monotonic(),
            )
            return self._complete_install(grant)

    def uninstall(self, team_id: str) -> Uninstalled:
        """Remove the app from a workspace (or, given an enterprise id, from the whole org):
        its bot token now answers ``account_inactive`` and user tokens ``token_revoked``;
        after a new install they answer ``invalid_auth``. Send the returned events to the
        app yourself (``.app_uninstalled()``, ``.tokens_revoked()``)."""
        with self._lock:
            gone = [t for t in self._tokens.values() if t.install_key == team_id and not t.revoked]
            if not gone:
                raise ValueError(f"{team_id} has no installation")
            identity = self._identity_of(gone[0])
            for token in gone:
                token.revoked = "account_inactive" if token.kind == "bot" else "token_revoked"
                for workspace in self._teams.values():
                    workspace.tokens.discard(token.token)
            for workspace in self._members(team_id):
                workspace.scopes = set()
                workspace.team = self._base_teams[workspace.team.id]
                workspace.changed()
            return Uninstalled(
                identity,
                bot=tuple(t.user_id for t in gone if t.kind == "bot"),
                oauth=tuple(t.user_id for t in gone if t.kind == "user"),
            )

    def _identity_of(self, token: Token) -> Team:
        if token.team_id:
            return self._teams[token.team_id].team
        members = self._members(token.enterprise_id or "")
        if members:
            return members[0].team
        org = self._enterprises.get(token.enterprise_id or "", {})
        return Team(
            id=token.enterprise_id or "",
            name=org.get("name", ""),
            enterprise_id=token.enterprise_id,
            enterprise_name=org.get("name"),
            bot_user_id=token.user_id,
            bot_id=self._org_bot_id(token.enterprise_id or ""),
            org_install=True,
        )

    def _members(self, install_key: str) -> list[Workspace]:
        """The workspaces an installation covers: one team, or every team of an org."""
        if install_key in self._teams:
            return [self._teams[install_key]]
        return [w for w in self._teams.values() if w.team.enterprise_id == install_key]

    def _installer(self, team_id: str | None, enterprise_id: str | None) -> str:
        """Who clicks Allow when the test does not say: the first person of the team."""
        key = team_id or enterprise_id or TEAM_ID
        if key == TEAM_ID:
            return USER_ID
        people = [uid for uid, owner in self._owners.items() if owner == key and uid[0] in "UW"]
        if not people and enterprise_id:
            people = [u for w in self._members(enterprise_id) for u in w.users]
        return people[0] if people else f"U{key[1:]}ADMIN"

    @staticmethod
    def _org_bot_id(enterprise_id: str) -> str:
        return f"B{enterprise_id[1:]}"

    def _active_bot(self, install_key: str) -> Token | None:
        return next(
            (
                t
                for t in self._tokens.values()
                if t.install_key == install_key and t.kind == "bot" and not t.revoked
            ),
            None,
        )

    def _active_org_token(self, enterprise_id: str | None) -> Token | None:
        token = self._active_bot(enterprise_id) if enterprise_id else None
        return token if token is not None and token.team_id is None else None

    def _complete_install(self, grant: _Grant) -> dict[str, Any]:
        """Mint (or keep) the installation's tokens and answer like oauth.v2.access."""
        org = grant.team_id is None
        key = grant.enterprise_id if org else grant.team_id
        if not key:
            raise ApiError("invalid_team_for_non_distributed_app")
        bot_user = f"W{key[1:]}BOT" if org else self._base_teams[key].bot_user_id
        for old in self._tokens.values():  # after a new install, old tokens are unknown
            if old.install_key == key and old.revoked in ("account_inactive", "token_revoked"):
                old.revoked = "invalid_auth"
        bot = self._active_bot(key)
        if bot is None or self.new_token_on_reinstall:
            value = f"xoxb-standin-{key}-{secrets.token_hex(12)}"
            bot = Token(value, "bot", grant.team_id, grant.enterprise_id, bot_user, grant.scopes)
            self._tokens[value] = bot
        bot.scopes = grant.scopes
        authed_user: dict[str, Any] = {"id": grant.user_id}
        if grant.user_scopes:
            value = f"xoxp-standin-{key}-{secrets.token_hex(12)}"
            self._tokens[value] = Token(
                value, "user", grant.team_id, grant.enterprise_id, grant.user_id, grant.user_scopes
            )
            authed_user.update(
                scope=",".join(sorted(grant.user_scopes)), access_token=value, token_type="user"
            )
        for workspace in self._members(key):
            if org:
                self._join_org(workspace, bot)
            else:
                workspace.tokens.add(bot.token)
                workspace.scopes = set(grant.scopes)
            workspace.changed()
        return self._access_body(bot, grant, authed_user)

    def _join_org(self, workspace: Workspace, org_token: Token) -> None:
        """An org-wide install covers the workspace: its bot is the org's."""
        workspace.team = replace(
            workspace.team,
            bot_user_id=org_token.user_id,
            bot_id=self._org_bot_id(org_token.enterprise_id or ""),
            org_install=True,
        )
        workspace.scopes = set(org_token.scopes)

    def _access_body(
        self, bot: Token, grant: _Grant, authed_user: dict[str, Any]
    ) -> dict[str, Any]:
        enterprise = None
        if grant.enterprise_id:
            name = self._enterprises.get(grant.enterprise_id, {}).get("name", "")
            enterprise = {"id": grant.enterprise_id, "name": name}
        team = None
        if grant.team_id:
            team = {"id": grant.team_id, "name": self._teams[grant.team_id].team_name}
        return {
            "ok": True,
            "access_token": bot.token,
            "token_type": "bot",
            "scope": ",".join(sorted(bot.scopes)),
            "bot_user_id": bot.user_id,
            "app_id": API_APP_ID,
            "team": team,
            "enterprise": enterprise,
            "is_enterprise_install": grant.team_id is None,
            "authed_user": authed_user,
        }

    # ----------------------------------------------------------------- the browser side

    def authorize(self, query: str) -> tuple[int, dict[str, str], str]:
        """``GET /oauth/v2/authorize``: the person approves and Slack redirects (302) to the
        redirect URL with ``code`` and ``state``.

        Slack's own parameters: client_id, scope, user_scope, state, redirect_uri, team
        (the workspace to install to; default T0001). Stand-in extras, standing for what the
        person does on Slack's page: ``user`` (who approves), ``org=1`` (an org admin installs
        org-wide; `team` may then be the enterprise id or one of its workspaces), and
        ``cancel=1`` (they click Cancel: ``error=access_denied``). A bad client_id,
        redirect_uri or scope gets Slack's error page (HTTP 400), not a redirect.
        """
        q = dict(parse_qsl(query, keep_blank_values=True))
        with self._lock:
            app = self._apps.get(q.get("client_id", ""))
            if app is None:
                return self._error_page("invalid_client_id")
            redirect = q.get("redirect_uri") or app.redirect_uris[0]
            if not any(self._uri_allowed(redirect, allowed) for allowed in app.redirect_uris):
                return self._error_page("bad_redirect_uri")
            scopes, user_scopes = _scope_set(q.get("scope")), _scope_set(q.get("user_scope"))
            if not scopes | user_scopes or not scopes <= app.scopes:
                return self._error_page("invalid_scope")
            if not user_scopes <= app.user_scopes:
                return self._error_page("invalid_scope")
            back: dict[str, str] = {}
            if q.get("cancel") in ("1", "true"):
                back["error"] = "access_denied"
            else:
                grant = self._grant_for(q, app, scopes, user_scopes)
                if isinstance(grant, str):
                    return self._error_page(grant)
                code = f"{secrets.randbelow(10**10)}.{secrets.randbelow(10**13)}."
                code += secrets.token_hex(32)
                self._grants[code] = grant
                back["code"] = code
            if "state" in q:
                back["state"] = q["state"]
        joiner = "&" if urlsplit(redirect).query else "?"
        return 302, {"Location": f"{redirect}{joiner}{urlencode(back)}"}, ""

    def _grant_for(
        self, q: dict[str, str], app: AppConfig, scopes: frozenset[str], user_scopes: frozenset[str]
    ) -> _Grant | str:
        place = q.get("team") or TEAM_ID
        org = q.get("org") in ("1", "true")
        if place.startswith("E"):
            enterprise_id, team_id = place, None
            if place not in self._enterprises:
                return "invalid_team"
        elif place in self._teams:
            team_id = place
            enterprise_id = self._teams[place].team.enterprise_id
        else:
            return "invalid_team"
        if org:
            if not enterprise_id:
                return "org_install_not_allowed"  # not a Grid workspace: nothing org-wide
            team_id = None
        elif team_id is None:
            return "invalid_team"  # a person installs to a workspace unless org-wide
        return _Grant(
            client_id=app.client_id,
            redirect_uri=q.get("redirect_uri") or None,
            team_id=team_id,
            enterprise_id=enterprise_id,
            user_id=q.get("user") or self._installer(team_id, enterprise_id),
            scopes=scopes,
            user_scopes=user_scopes,
            issued=time.monotonic(),
        )

    @staticmethod
    def _uri_allowed(redirect: str, allowed: str) -> bool:
        """Slack accepts a configured Redirect URL or a path beneath it."""
        got, want = urlsplit(redirect), urlsplit(allowed)
        if (got.scheme, got.netloc) != (want.scheme, want.netloc):
            return False
        base = want.path.rstrip("/")
        return got.path == want.path or got.path.startswith(base + "/")

    @staticmethod
    def _error_page(error: str) -> tuple[int, dict[str, str], str]:
        page = f"<!doctype html><title>Slack</title><p>Something went wrong: {error}</p>"
        return 400, {"Content-Type": "text/html; charset=utf-8"}, page

    # ----------------------------------------------------------------- Web API methods

    def oauth_v2_access(self, params: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        """Trade a code for tokens; credentials by HTTP Basic auth or client_id/client_secret."""
        client_id, secret = _basic_auth(headers) or (
            as_str(params.get("client_id")),
            as_str(params.get("client_secret")),
        )
        app = self._apps.get(client_id)
        if app is None:
            raise ApiError("invalid_client_id")
        if secret != app.client_secret:
            raise ApiError("bad_client_secret")
        grant_type = as_str(params.get("grant_type")) or "authorization_code"
        if grant_type == "refresh_token":
            raise ApiError("invalid_refresh_token")  # token rotation is not on for this app
        if grant_type != "authorization_code":
            raise ApiError("invalid_grant_type")
        code = as_str(params.get("code"))
        grant = self._grants.get(code)
        if grant is None or grant.client_id != client_id:
            raise ApiError("invalid_code")
        if time.monotonic() - grant.issued > self.oauth_code_ttl:
            del self._grants[code]
            raise ApiError("invalid_code")
        if grant.redirect_uri is not None and as_str(params.get("redirect_uri")) != (
            grant.redirect_uri
        ):
            raise ApiError("bad_redirect_uri")
        del self._grants[code]  # single use
        return self._complete_install(grant)

    def apps_uninstall(self, params: dict[str, Any], token: str) -> dict[str, Any]:
        """The app uninstalls itself from the token's workspace (or org)."""
        app = self._apps.get(as_str(params.get("client_id")))
        if app is None:
            raise ApiError("invalid_client_id")
        if as_str(params.get("client_secret")) != app.client_secret:
            raise ApiError("bad_client_secret")
        record = self._tokens[token]
        self.uninstall(record.install_key)
        return {"ok": True}

    def token_record(self, token: str) -> Token | None:
        return self._tokens.get(token)

    def workspace_for(self, token: str, params: dict[str, Any]) -> tuple[Workspace, Token | None]:
        """The workspace a call with `token` acts in; raises Slack's token errors.

        Returns the org-wide token record too when the call is served for an org install.
        """
        record = self._tokens.get(token)
        if record is not None and record.revoked:
            raise ApiError(record.revoked)
        for workspace in self._teams.values():
            if token in workspace.tokens:
                if workspace.token_error:
                    raise ApiError(workspace.token_error)
                return workspace, None
        if record is None or record.team_id is not None:
            raise ApiError("invalid_auth")
        return self._org_workspace(record, params), record

    def _org_workspace(self, record: Token, params: dict[str, Any]) -> Workspace:
        """An org-wide token acts in the workspace the call names: ``team_id`` (Slack asks
        org apps for it on many methods), else the owner of the channel or user it names,
        else the org's first workspace."""
        members = self._members(record.enterprise_id or "")
        team_id = as_str(params.get("team_id"))
        if team_id:
            chosen = self._teams.get(team_id)
            if chosen is None or chosen not in members:
                raise ApiError("team_access_not_granted")
            return chosen
        for key in OWNER_KEYS:
            for value in as_str(params.get(key)).split(","):
                owner = self._owner_of(value.strip()) if value.strip() else None
                if owner is not None and owner in self._teams:
                    chosen = self._teams[owner]
                    if chosen not in members:
                        raise ApiError(
                            "channel_not_found" if "channel" in key else "user_not_found"
                        )
                    return chosen
        if not members:
            raise ApiError("team_access_not_granted")
        return members[0]

    def org_auth_test(self, record: Token) -> dict[str, Any]:
        """auth.test with an org-wide token speaks for the org, not one workspace."""
        enterprise_id = record.enterprise_id or ""
        name = self._enterprises.get(enterprise_id, {}).get("name", "")
        return {
            "ok": True,
            "url": f"https://{_slug(name)}.enterprise.slack.com/",
            "team": name,
            "user": BOT_NAME,
            "team_id": enterprise_id,
            "user_id": record.user_id,
            "bot_id": self._org_bot_id(enterprise_id),
            "enterprise_id": enterprise_id,
            "is_enterprise_install": True,
        }

    def team_of_path(self, path: str) -> Workspace:
        """A response_url's workspace: its path names the team (``/commands/T…/…``)."""
        parts = path.split("/")
        team_id = parts[2] if len(parts) > 2 else TEAM_ID
        return self._teams.get(team_id, self.workspace)
