"""The playground's workspace: three people and three channels, on top of the tests' defaults.

Tests keep the stand-in's one user (U0USER, alice) and one channel (C0CHAN, #general); the
playground adds two colleagues and two channels so requester-only rules and channel
membership can be seen. The bot is in #general and #marketing, not in #random: there it
must join (channels:join) or say it cannot, as in Slack.
"""

from __future__ import annotations

from dataclasses import dataclass

from .inbound import CHANNEL_ID, USER_ID, add_channel, add_person
from .workspace import Workspace

TEAM_NAME = "Acme"


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    real_name: str


@dataclass(frozen=True)
class Channel:
    id: str
    name: str
    bot_is_member: bool


PEOPLE = (
    Person(USER_ID, "alice", "Alice Park"),
    Person("U0BEN", "ben", "Ben Okafor"),
    Person("U0CHEN", "chen", "Chen Wei"),
)
CHANNELS = (
    Channel(CHANNEL_ID, "general", True),
    Channel("C0MKTG", "marketing", True),
    Channel("C0RAND", "random", False),
)


def configure(workspace: Workspace) -> None:
    """Give the stand-in's workspace the playground's team (names, profiles, membership)."""
    workspace.team_name = TEAM_NAME
    for person in PEOPLE:
        add_person(person.id, person.name)
        first = person.real_name.split()[0]
        workspace.users[person.id] = {
            "name": person.name,
            "real_name": person.real_name,
            "profile": {
                "real_name": person.real_name,
                "real_name_normalized": person.real_name,
                "display_name": first,
                "display_name_normalized": first,
                "first_name": first,
            },
        }
    for channel in CHANNELS:
        add_channel(channel.id, channel.name)
        workspace.channels[channel.id] = {
            "name": channel.name,
            "name_normalized": channel.name,
            "is_general": channel.name == "general",
        }
        if not channel.bot_is_member:
            workspace.not_in_channel.add(channel.id)


def person(user_id: str) -> Person | None:
    return next((p for p in PEOPLE if p.id == user_id), None)
