"""What manifest.yml declares that the stand-in acts on: commands, shortcuts, events, scopes.

manifest.yml is what an operator pastes into api.slack.com; it is not part of the installed
package and YAML is no runtime dependency, so the stand-in keeps this copy of the parts it
needs (the page's composer and ⚡/⋮ menus, the events it sends, the token's scopes), and
distribution mode asks Slack for these scopes at install.
tests/test_manifest.py checks that the two agree.
"""

from __future__ import annotations

APP_NAME = "HeyGen"  # features.bot_user.display_name

COMMANDS: tuple[dict[str, str], ...] = (
    {
        "command": "/heygen",
        "description": "Make a HeyGen avatar video",
        "usage_hint": "[script to prefill] | status | avatars <words> | voices <words> | help",
    },
)

SHORTCUTS: tuple[dict[str, str], ...] = (
    {
        "type": "message",
        "callback_id": "make_video_from_message",
        "name": "Make an avatar video",
        "description": "Turn this message into a HeyGen avatar video, posted in its thread",
    },
    {
        "type": "global",
        "callback_id": "new_avatar_video",
        "name": "New avatar video",
        "description": "Make a HeyGen avatar video and choose where to post it",
    },
)

BOT_EVENTS: tuple[str, ...] = ("app_home_opened",)

# oauth_config.scopes.bot; tests remove some to model a narrower install.
BOT_SCOPES = frozenset(
    {
        "commands",
        "chat:write",
        "chat:write.public",
        "files:write",
        "channels:history",
        "channels:join",
        "groups:history",
        "im:history",
        "mpim:history",
        "im:write",
    }
)
