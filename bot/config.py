"""Settings, read once from the environment (or `.env`) and validated up front.

A bad setting must stop the program at start with one line naming it, never with a
traceback halfway through a request; so every value is parsed here and nowhere else.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

API_VERSIONS = ("v3", "v2")
# With none of these set, `python -m bot` starts the playground instead of failing.
SLACK_SETTINGS = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN")
LOG_FORMATS = ("text", "json")


class ConfigError(Exception):
    """A setting is missing or malformed; the message names it."""


@dataclass(frozen=True)
class Setting:
    """One documented setting: its name, default and meaning (for `--help`)."""

    name: str
    default: str | None
    meaning: str


SETTINGS: tuple[Setting, ...] = (
    Setting("SLACK_BOT_TOKEN", None, "bot token, xoxb-… (required)"),
    Setting(
        "SLACK_SIGNING_SECRET", None, "verifies every request from Slack (required in HTTP mode)"
    ),
    Setting("SLACK_APP_TOKEN", None, "xapp-…; when set, Socket Mode is used"),
    Setting(
        "SLACK_CLIENT_ID",
        None,
        "distribution mode (with SLACK_CLIENT_SECRET and SLACK_STATE_SECRET, instead of "
        "SLACK_BOT_TOKEN): workspaces install the app from /slack/install",
    ),
    Setting("SLACK_CLIENT_SECRET", None, "distribution mode: the app's client secret"),
    Setting(
        "SLACK_STATE_SECRET",
        None,
        "distribution mode: signs the OAuth state (any long random text; the same on every "
        "replica)",
    ),
    Setting(
        "ENCRYPTION_KEY",
        None,
        "encrypts installations and each workspace's HeyGen key at rest (required in "
        "distribution mode; make one with `python -m bot.secret_box`)",
    ),
    Setting(
        "SHARE_HEYGEN_API_KEY",
        "false",
        "distribution mode: workspaces without their own HeyGen key use HEYGEN_API_KEY "
        "(false: they use the embedded sandbox)",
    ),
    Setting(
        "PUBLIC_URL",
        None,
        "distribution mode: the bot's public base URL (https://…); each workspace's HeyGen "
        "account then sends video events to <PUBLIC_URL>/heygen/webhook?account=<id> "
        "(unset: the bot polls)",
    ),
    Setting("SLACK_API_URL", "https://slack.com/api/", "base URL of the Slack Web API"),
    Setting("HEYGEN_API_KEY", None, "when unset, the embedded HeyGen sandbox is used"),
    Setting("HEYGEN_API_URL", "https://api.heygen.com", "base URL of the HeyGen API"),
    Setting("HEYGEN_API_VERSION", "v3", "v3 (current API) or v2 (HeyGen's older v1/v2 API)"),
    Setting(
        "HEYGEN_WEBHOOK_SECRET", None, "when set, /heygen/webhook accepts events signed with it"
    ),
    Setting("DATABASE_PATH", "./heygen_bot.db", "the SQLite file"),
    Setting(
        "DATABASE_URL",
        None,
        "postgresql://…: use PostgreSQL instead of SQLite; any number of replicas may share it",
    ),
    Setting(
        "LEASE_SECONDS",
        "30",
        "how long a replica holds a claimed piece of work before another may take it over "
        "(a replica that dies is replaced after this)",
    ),
    Setting("PORT", "3000", "HTTP port"),
    Setting("POLL_INTERVAL_SECONDS", "10", "shortest wait between status checks of one video"),
    Setting("POLL_MAX_INTERVAL_SECONDS", "60", "longest wait between status checks of one video"),
    Setting("JOB_TIMEOUT_SECONDS", "7200", "an unfinished video is reported timed out after this"),
    Setting("SANDBOX_PORT", "4010", "port of the HeyGen sandbox (0 picks a free one)"),
    Setting("SANDBOX_RENDER", "real", "real: the sandbox renders videos; static: tiny fixed files"),
    Setting("SANDBOX_RENDER_SECONDS", "0", "shortest time a sandbox video takes to complete"),
    Setting(
        "HEYGEN_MAX_RPS",
        "20",
        "cap on HeyGen requests per second (per HeyGen account: all replicas together)",
    ),
    Setting("HEYGEN_TIMEOUT_SECONDS", "30", "how long one HeyGen call may take before a retry"),
    Setting("SLACK_TIMEOUT_SECONDS", "30", "how long one Slack Web API call may take"),
    Setting(
        "HEYGEN_RENDER_ESTIMATE_SECONDS",
        "0",
        "expected render time of a 30-second video (e.g. 300); when set, the first status "
        "check waits for most of it. 0: first check after POLL_INTERVAL_SECONDS",
    ),
    Setting("LOG_LEVEL", "INFO", "DEBUG, INFO, WARNING or ERROR"),
    Setting("LOG_FORMAT", "text", "text for people, json for one JSON object per line"),
    Setting(
        "SHUTDOWN_GRACE_SECONDS",
        "20",
        "on SIGTERM, how long in-flight Slack sends and uploads may finish; the rest waits "
        "in the database for the next start",
    ),
    Setting("UPLOAD_MAX_MB", "50", "finished videos up to this size are uploaded into the thread"),
    Setting(
        "UPLOAD_CONCURRENCY",
        "2",
        "videos streamed from HeyGen to Slack at once (each holds about 1 MB in memory)",
    ),
    Setting(
        "DOWNLOAD_TIMEOUT_SECONDS",
        "120",
        "how long a video download from HeyGen may stall (no bytes) before it is retried",
    ),
    Setting(
        "MAX_VIDEOS_PER_USER_PER_DAY", "50", "videos one person may request in 24 h (0: no limit)"
    ),
    Setting(
        "MAX_RUNNING_PER_USER", "5", "unfinished videos one person may have at once (0: no limit)"
    ),
    Setting(
        "STATUS_REFRESH_SECONDS",
        "30",
        "how often a rendering video's elapsed time is updated (0: off)",
    ),
    Setting("METRICS_PORT", None, "in Socket Mode, serves /metrics and /healthz on this port"),
)


@dataclass(frozen=True)
class Settings:
    """Every setting of one running bot, already parsed."""

    slack_bot_token: str
    slack_signing_secret: str | None
    slack_app_token: str | None
    slack_api_url: str
    heygen_api_key: str | None
    heygen_api_url: str
    heygen_api_version: str
    heygen_webhook_secret: str | None
    database_path: str
    port: int
    poll_interval_seconds: float
    poll_max_interval_seconds: float
    job_timeout_seconds: float
    sandbox_port: int
    sandbox_render: str
    sandbox_render_seconds: float
    heygen_max_rps: float
    heygen_timeout_seconds: float
    slack_timeout_seconds: float
    log_level: str
    upload_max_mb: float = 50.0
    upload_concurrency: int = 2
    download_timeout_seconds: float = 120.0
    max_videos_per_user_per_day: int = 50
    max_running_per_user: int = 5
    status_refresh_seconds: float = 30.0
    heygen_render_estimate_seconds: float = 0.0
    metrics_port: int | None = None  # Socket Mode only; HTTP mode serves /metrics on PORT
    log_format: str = "text"
    shutdown_grace_seconds: float = 20.0
    database_url: str | None = None
    lease_seconds: float = 30.0
    slack_client_id: str | None = None
    slack_client_secret: str | None = None
    slack_state_secret: str | None = None
    encryption_key: str | None = None
    share_heygen_api_key: bool = False
    public_url: str | None = None

    @property
    def distribution(self) -> bool:
        """Installs through OAuth, one installation per workspace (no SLACK_BOT_TOKEN)."""
        return bool(self.slack_client_id)

    @property
    def socket_mode(self) -> bool:
        return bool(self.slack_app_token)

    @property
    def uses_sandbox(self) -> bool:
        return not self.heygen_api_key

    def __repr__(self) -> str:
        """Show which settings are set without ever printing a secret."""
        shown = {f.name: getattr(self, f.name) for f in fields(self)}
        for name in (
            "slack_bot_token",
            "slack_signing_secret",
            "slack_app_token",
            "slack_client_secret",
            "slack_state_secret",
            "encryption_key",
        ):
            shown[name] = "***" if shown[name] else None
        shown["heygen_api_key"] = "***" if shown["heygen_api_key"] else None
        shown["heygen_webhook_secret"] = "***" if shown["heygen_webhook_secret"] else None
        shown["database_url"] = "***" if shown["database_url"] else None  # holds a password
        return f"Settings({shown})"


def _text(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _default(name: str) -> str:
    return next(s.default for s in SETTINGS if s.name == name) or ""


def _number(env: Mapping[str, str], name: str, parse: Callable[[str], Any], low: float) -> Any:
    raw = _text(env, name) or _default(name)
    try:
        value = parse(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if value < low:
        raise ConfigError(f"{name} must be at least {low}, got {raw!r}")
    return value


def _url(env: Mapping[str, str], name: str) -> str:
    value = _text(env, name) or _default(name)
    if not value.startswith(("http://", "https://")):
        raise ConfigError(f"{name} must be an http(s) URL, got {value!r}")
    return value


def no_slack_settings(env: Mapping[str, str] | None = None) -> bool:
    """True when no Slack setting is set at all: plain `python -m bot` is the playground."""
    env = os.environ if env is None else env
    return not any(_text(env, name) for name in SLACK_SETTINGS)


def load_settings(env: Mapping[str, str] | None = None, *, need_slack: bool = True) -> Settings:
    """Parse and check every setting; raise ConfigError naming the first bad one.

    `need_slack=False` serves commands that only talk to HeyGen (webhook register).
    """
    env = os.environ if env is None else env
    oauth = _distribution(env)
    token = _text(env, "SLACK_BOT_TOKEN") or ("" if not need_slack or oauth else None)
    if oauth and token:
        raise ConfigError(
            "set either SLACK_BOT_TOKEN (one workspace) or SLACK_CLIENT_ID, "
            "SLACK_CLIENT_SECRET and SLACK_STATE_SECRET (distribution), not both"
        )
    if token is None:
        raise ConfigError("SLACK_BOT_TOKEN is required (the bot token, xoxb-…)")
    if need_slack and not oauth and not token.startswith("xoxb-"):
        raise ConfigError("SLACK_BOT_TOKEN must be a bot token starting with xoxb-")
    app_token = _text(env, "SLACK_APP_TOKEN")
    if app_token and not app_token.startswith("xapp-"):
        raise ConfigError("SLACK_APP_TOKEN must be an app-level token starting with xapp-")
    secret = _text(env, "SLACK_SIGNING_SECRET")
    if need_slack and not app_token and not secret:
        raise ConfigError("SLACK_SIGNING_SECRET is required in HTTP mode (no SLACK_APP_TOKEN)")
    if oauth and app_token:
        raise ConfigError(
            "distribution mode (SLACK_CLIENT_ID) serves /slack/install over HTTP: "
            "unset SLACK_APP_TOKEN"
        )
    if oauth and not secret:
        raise ConfigError("SLACK_SIGNING_SECRET is required in distribution mode")
    encryption_key = _text(env, "ENCRYPTION_KEY")
    if oauth and need_slack:
        _check_encryption_key(encryption_key)
    version = (_text(env, "HEYGEN_API_VERSION") or "v3").lower()
    if version not in API_VERSIONS:
        raise ConfigError(f"HEYGEN_API_VERSION must be v3 or v2, got {version!r}")
    slack_url = _url(env, "SLACK_API_URL")
    poll = _number(env, "POLL_INTERVAL_SECONDS", float, 0.01)
    poll_max = _number(env, "POLL_MAX_INTERVAL_SECONDS", float, 0.01)
    if poll_max < poll:
        raise ConfigError("POLL_MAX_INTERVAL_SECONDS must not be below POLL_INTERVAL_SECONDS")
    level = (_text(env, "LOG_LEVEL") or "INFO").upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {level!r}")
    return Settings(
        slack_bot_token=token,
        slack_signing_secret=secret,
        slack_app_token=app_token,
        slack_api_url=slack_url if slack_url.endswith("/") else slack_url + "/",
        heygen_api_key=_text(env, "HEYGEN_API_KEY"),
        heygen_api_url=_url(env, "HEYGEN_API_URL").rstrip("/"),
        heygen_api_version=version,
        heygen_webhook_secret=_text(env, "HEYGEN_WEBHOOK_SECRET"),
        database_path=_text(env, "DATABASE_PATH") or _default("DATABASE_PATH"),
        port=_port(env, "PORT"),
        poll_interval_seconds=poll,
        poll_max_interval_seconds=poll_max,
        job_timeout_seconds=_number(env, "JOB_TIMEOUT_SECONDS", float, 1),
        sandbox_port=_port(env, "SANDBOX_PORT"),
        sandbox_render=_choice(env, "SANDBOX_RENDER", ("real", "static")),
        sandbox_render_seconds=_number(env, "SANDBOX_RENDER_SECONDS", float, 0),
        heygen_max_rps=_number(env, "HEYGEN_MAX_RPS", float, 0.1),
        heygen_timeout_seconds=_number(env, "HEYGEN_TIMEOUT_SECONDS", float, 0.1),
        slack_timeout_seconds=_number(env, "SLACK_TIMEOUT_SECONDS", float, 0.1),
        log_level=level,
        upload_max_mb=_number(env, "UPLOAD_MAX_MB", float, 0),
        upload_concurrency=_number(env, "UPLOAD_CONCURRENCY", int, 1),
        download_timeout_seconds=_number(env, "DOWNLOAD_TIMEOUT_SECONDS", float, 0.1),
        max_videos_per_user_per_day=_number(env, "MAX_VIDEOS_PER_USER_PER_DAY", int, 0),
        max_running_per_user=_number(env, "MAX_RUNNING_PER_USER", int, 0),
        status_refresh_seconds=_number(env, "STATUS_REFRESH_SECONDS", float, 0),
        heygen_render_estimate_seconds=_number(env, "HEYGEN_RENDER_ESTIMATE_SECONDS", float, 0),
        metrics_port=_port(env, "METRICS_PORT") if _text(env, "METRICS_PORT") else None,
        log_format=_choice(env, "LOG_FORMAT", LOG_FORMATS),
        shutdown_grace_seconds=_number(env, "SHUTDOWN_GRACE_SECONDS", float, 0),
        database_url=_database_url(env),
        lease_seconds=_number(env, "LEASE_SECONDS", float, 0.5),
        slack_client_id=oauth[0] if oauth else None,
        slack_client_secret=oauth[1] if oauth else None,
        slack_state_secret=oauth[2] if oauth else None,
        encryption_key=encryption_key,
        share_heygen_api_key=_flag(env, "SHARE_HEYGEN_API_KEY"),
        public_url=_url(env, "PUBLIC_URL").rstrip("/") if _text(env, "PUBLIC_URL") else None,
    )


OAUTH_SETTINGS = ("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET", "SLACK_STATE_SECRET")


def _distribution(env: Mapping[str, str]) -> tuple[str, str, str] | None:
    """The OAuth trio when distribution mode is asked for; all three or none."""
    values = [_text(env, name) for name in OAUTH_SETTINGS]
    if not any(values):
        return None
    missing = [name for name, value in zip(OAUTH_SETTINGS, values, strict=True) if not value]
    if missing:
        raise ConfigError(
            f"distribution mode needs SLACK_CLIENT_ID, SLACK_CLIENT_SECRET and "
            f"SLACK_STATE_SECRET together; missing: {', '.join(missing)}"
        )
    client_id, client_secret, state_secret = values
    if len(state_secret or "") < 16:
        raise ConfigError("SLACK_STATE_SECRET must be at least 16 characters of random text")
    return client_id or "", client_secret or "", state_secret or ""


def _check_encryption_key(raw: str | None) -> None:
    """Distribution mode stores tokens and HeyGen keys: ENCRYPTION_KEY must open them."""
    from .secret_box import SecretBox

    if not raw:
        raise ConfigError(
            "ENCRYPTION_KEY is required in distribution mode "
            "(make one with `python -m bot.secret_box`)"
        )
    SecretBox.from_setting(raw)  # raises EncryptionKeyError naming the bad entry


def _flag(env: Mapping[str, str], name: str) -> bool:
    value = (_text(env, name) or _default(name)).lower()
    if value not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
        raise ConfigError(f"{name} must be true or false, got {value!r}")
    return value in ("true", "1", "yes", "on")


def _database_url(env: Mapping[str, str]) -> str | None:
    value = _text(env, "DATABASE_URL")
    if value and not value.startswith(("postgresql://", "postgres://")):
        raise ConfigError("DATABASE_URL must start with postgresql://")
    return value


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    value = (_text(env, name) or _default(name)).lower()
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _port(env: Mapping[str, str], name: str) -> int:
    value = _number(env, name, int, 0)
    if value > 65535:
        raise ConfigError(f"{name} must be a port number (0-65535), got {value}")
    return value
