"""manifest.yml asks Slack for exactly what the code listens to and calls."""

from __future__ import annotations

import re

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
