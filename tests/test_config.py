"""Settings: defaults from CONTRACT.md, and one clear line for each bad value."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bot.config import SETTINGS, ConfigError, load_settings
from tests.harness import ROOT

BASE = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s3cret"}


def test_defaults_match_the_contract() -> None:
    s = load_settings(BASE)
    assert (s.slack_api_url, s.heygen_api_url, s.heygen_api_version) == (
        "https://slack.com/api/",
        "https://api.heygen.com",
        "v3",
    )
    assert (s.database_path, s.port, s.sandbox_port) == ("./heygen_bot.db", 3000, 4010)
    assert (s.poll_interval_seconds, s.poll_max_interval_seconds, s.job_timeout_seconds) == (
        10.0,
        60.0,
        7200.0,
    )
    assert s.uses_sandbox and not s.socket_mode


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, "SLACK_BOT_TOKEN"),
        ({"SLACK_BOT_TOKEN": "xoxp-user"}, "SLACK_BOT_TOKEN"),
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET"),
        ({**BASE, "HEYGEN_API_VERSION": "v4"}, "HEYGEN_API_VERSION"),
        ({**BASE, "PORT": "http"}, "PORT"),
        ({**BASE, "PORT": "70000"}, "PORT"),
        ({**BASE, "POLL_INTERVAL_SECONDS": "-1"}, "POLL_INTERVAL_SECONDS"),
        ({**BASE, "POLL_MAX_INTERVAL_SECONDS": "1"}, "POLL_MAX_INTERVAL_SECONDS"),
        ({**BASE, "SLACK_API_URL": "slack.com"}, "SLACK_API_URL"),
        ({**BASE, "SLACK_APP_TOKEN": "xoxb-wrong"}, "SLACK_APP_TOKEN"),
    ],
)
def test_bad_setting_is_named(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        load_settings(env)


def test_socket_mode_needs_no_signing_secret() -> None:
    s = load_settings({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1"})
    assert s.socket_mode


def test_repr_hides_secrets() -> None:
    s = load_settings({**BASE, "HEYGEN_API_KEY": "hg-key-123"})
    assert "xoxb-1" not in repr(s) and "s3cret" not in repr(s) and "hg-key-123" not in repr(s)


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_start_with_bad_setting_prints_one_line_and_no_traceback(tmp_path) -> None:
    env = {"PATH": "/usr/bin:/bin", **BASE, "PORT": "eighty", "DOTENV_PATH": str(tmp_path / "none")}
    result = _run([], env)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["error: PORT must be a number, got 'eighty'"]
    assert "Traceback" not in result.stderr + result.stdout


def test_help_lists_subcommands_and_every_setting() -> None:
    result = _run(["--help"], {"PATH": "/usr/bin:/bin"})
    assert result.returncode == 0
    for word in ("run", "sandbox", "webhook", *(s.name for s in SETTINGS)):
        assert word in result.stdout


def test_slack_experience_settings_have_documented_defaults() -> None:
    s = load_settings(BASE)
    assert (s.upload_max_mb, s.max_videos_per_user_per_day, s.max_running_per_user) == (
        50.0,
        50,
        5,
    )
    assert s.status_refresh_seconds == 30.0
    readme = (ROOT / "README.md").read_text()
    for setting in SETTINGS:
        assert f"| `{setting.name}` |" in readme
    with pytest.raises(ConfigError, match="MAX_RUNNING_PER_USER"):
        load_settings({**BASE, "MAX_RUNNING_PER_USER": "many"})
    with pytest.raises(ConfigError, match="UPLOAD_MAX_MB"):
        load_settings({**BASE, "UPLOAD_MAX_MB": "-1"})


def test_upload_settings_have_their_defaults_and_bounds() -> None:
    s = load_settings(BASE)
    assert (s.upload_concurrency, s.download_timeout_seconds) == (2, 120.0)
    with pytest.raises(ConfigError, match="UPLOAD_CONCURRENCY"):
        load_settings({**BASE, "UPLOAD_CONCURRENCY": "0"})
    with pytest.raises(ConfigError, match="DOWNLOAD_TIMEOUT_SECONDS"):
        load_settings({**BASE, "DOWNLOAD_TIMEOUT_SECONDS": "soon"})


def test_database_url_must_be_postgresql_and_is_never_shown() -> None:
    with pytest.raises(ConfigError, match="DATABASE_URL must start with postgresql://"):
        load_settings({**BASE, "DATABASE_URL": "mysql://db/x"})
    url = "postgresql://bot:s3cret@db:5432/heygen"
    settings = load_settings({**BASE, "DATABASE_URL": url, "LEASE_SECONDS": "5"})
    assert settings.database_url == url and settings.lease_seconds == 5
    assert "s3cret" not in repr(settings)
    assert load_settings(BASE).database_url is None  # SQLite stays the default


DISTRIBUTION = {
    "SLACK_CLIENT_ID": "111.222",
    "SLACK_CLIENT_SECRET": "client-secret",
    "SLACK_STATE_SECRET": "a-long-random-state-secret",
    "SLACK_SIGNING_SECRET": "s3cret",
    "ENCRYPTION_KEY": "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=",
}


def test_distribution_mode_needs_no_bot_token() -> None:
    s = load_settings(DISTRIBUTION)
    assert s.distribution and not s.slack_bot_token and s.share_heygen_api_key is False
    assert "client-secret" not in repr(s) and "state-secret" not in repr(s)
    assert load_settings({**DISTRIBUTION, "SHARE_HEYGEN_API_KEY": "true"}).share_heygen_api_key


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"SLACK_CLIENT_SECRET": ""}, "missing: SLACK_CLIENT_SECRET"),
        ({"SLACK_CLIENT_ID": "", "SLACK_STATE_SECRET": ""}, "SLACK_CLIENT_ID, SLACK_STATE_SECRET"),
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, "not both"),
        ({"ENCRYPTION_KEY": ""}, "ENCRYPTION_KEY is required in distribution mode"),
        ({"ENCRYPTION_KEY": "short"}, "ENCRYPTION_KEY"),
        ({"SLACK_APP_TOKEN": "xapp-1"}, "unset SLACK_APP_TOKEN"),
        ({"SLACK_STATE_SECRET": "short"}, "SLACK_STATE_SECRET must be at least 16"),
        ({"SHARE_HEYGEN_API_KEY": "maybe"}, "SHARE_HEYGEN_API_KEY must be true or false"),
    ],
)
def test_a_half_set_distribution_is_one_clear_error(change: dict, named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        load_settings({**DISTRIBUTION, **change})
