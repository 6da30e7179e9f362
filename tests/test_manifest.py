"""manifest.yml asks Slack for exactly what the code listens to and calls."""

from __future__ import annotations

import re

import yaml

from bot import app_manifest
from bot.listeners.shortcuts import GLOBAL_SHORTCUT, MESSAGE_SHORTCUT
from tests.harness import ROOT

MANIFEST = (ROOT / "manifest.yml").read_text()


def _list_after(key: str) -> list[str]:
    """Items of a YAML list under `key:` (comments dropped); enough for this one file."""
    lines = MANIFEST.split(f"{key}:\n", 1)[1].splitlines()
    items = []
    for line in lines:
        match = re.match(r"\s+- ([\w:.]+)", line)
        if not match:
            if line.strip().startswith("#"):
                continue
            break
        items.append(match.group(1))
    return items


def test_manifest_declares_shortcuts_home_and_events() -> None:
    for callback in (MESSAGE_SHORTCUT, GLOBAL_SHORTCUT):
        assert f"callback_id: {callback}\n" in MANIFEST
    assert "type: message\n      callback_id: make_video_from_message" in MANIFEST
    assert "type: global\n      callback_id: new_avatar_video" in MANIFEST
    assert "home_tab_enabled: true" in MANIFEST and "messages_tab_enabled: true" in MANIFEST
    assert _list_after("bot_events") == ["app_home_opened"]


def test_manifest_asks_only_for_the_scopes_in_use() -> None:
    assert _list_after("bot") == [
        "commands",
        "chat:write",
        "chat:write.public",
        "channels:join",
        "files:write",
        "channels:history",
        "groups:history",
        "im:history",
        "mpim:history",
        "im:write",
    ]


def test_the_stand_ins_copy_agrees_with_the_manifest() -> None:
    """The playground's composer, menus, events and token scopes are the manifest's."""
    manifest = yaml.safe_load(MANIFEST)
    features = manifest["features"]
    commands = [
        {k: c[k] for k in ("command", "description", "usage_hint")}
        for c in features["slash_commands"]
    ]
    assert list(app_manifest.COMMANDS) == commands
    assert list(app_manifest.SHORTCUTS) == [
        {k: s[k] for k in ("type", "callback_id", "name", "description")}
        for s in features["shortcuts"]
    ]
    assert features["bot_user"]["display_name"] == app_manifest.APP_NAME
    assert (
        list(app_manifest.BOT_EVENTS) == manifest["settings"]["event_subscriptions"]["bot_events"]
    )
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == app_manifest.BOT_SCOPES


def test_the_distribution_manifest_is_the_same_app_over_oauth() -> None:
    """manifest.distribution.yml: manifest.yml's app, plus the redirect URL, HTTP request
    URLs, the events that end an installation, and org-wide installs."""
    single = yaml.safe_load(MANIFEST)
    many = yaml.safe_load((ROOT / "manifest.distribution.yml").read_text())
    assert many["oauth_config"]["scopes"] == single["oauth_config"]["scopes"]
    assert many["features"]["shortcuts"] == single["features"]["shortcuts"]
    assert [c["command"] for c in many["features"]["slash_commands"]] == ["/heygen"]
    (redirect,) = many["oauth_config"]["redirect_urls"]
    assert redirect.endswith("/slack/oauth_redirect")
    settings = many["settings"]
    assert settings["socket_mode_enabled"] is False and settings["org_deploy_enabled"] is True
    assert settings["event_subscriptions"]["bot_events"] == [
        *app_manifest.BOT_EVENTS,
        "app_uninstalled",
        "tokens_revoked",
    ]
    assert settings["event_subscriptions"]["request_url"].endswith("/slack/events")
