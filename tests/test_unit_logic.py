"""Pure logic: catalog search, pixel sizes, poll schedule, webhook signatures."""

from __future__ import annotations

import hashlib
import hmac

from bot.catalog import Index, avatar_label, voice_label
from bot.heygen import Avatar, Voice
from bot.heygen.client import dimension
from bot.poller import Schedule
from bot.webhook import signature_ok

AVATARS = [Avatar("a1", "Angela in Black Dress", "female"), Avatar("a2", "Josh Casual", "male")]
VOICES = [
    Voice("v1", "Emma - Newscaster", "English", "female"),
    Voice("v2", "Pablo", "Spanish", "male"),
]


def test_search_by_name_id_language_and_gender() -> None:
    avatars, voices = Index(AVATARS), Index(VOICES)
    assert [a.id for a in avatars.search("angela")] == ["a1"]
    assert [a.id for a in avatars.search("a2")] == ["a2"]
    assert [a.id for a in avatars.search("male")] == ["a2"]  # "female" is not "male"
    assert [v.id for v in voices.search("spanish")] == ["v2"]
    assert [v.id for v in voices.search("english female")] == ["v1"]
    assert len(avatars.search("")) == 2


def test_labels_are_enough_to_choose() -> None:
    assert avatar_label(AVATARS[0]) == "Angela in Black Dress · female"
    assert voice_label(VOICES[0]) == "Emma - Newscaster · English · female"


def test_dimension_follows_shape_and_resolution() -> None:
    assert dimension("16:9", "720p") == (1280, 720)
    assert dimension("9:16", "1080p") == (1080, 1920)
    assert dimension("1:1", "720p") == (720, 720)


def test_schedule_backs_off_to_the_longest_wait() -> None:
    s = Schedule(first=10, longest=60, timeout=7200)
    waits = [s.after(None)]
    for _ in range(8):
        waits.append(s.after(waits[-1]))
    assert waits[0] == 10 and waits[-1] == 60 and waits == sorted(waits)


def test_webhook_signature_checks_body_and_age() -> None:
    body = b'{"event_type":"avatar_video.success"}'
    good = hmac.new(b"sec", body, hashlib.sha256).hexdigest()
    assert signature_ok(
        "sec", body, {"heygen-signature": good, "heygen-timestamp": "1000"}, now=1100
    )
    assert not signature_ok(
        "sec", body, {"heygen-signature": good, "heygen-timestamp": "1000"}, now=1400
    )
    assert not signature_ok("sec", body + b" ", {"heygen-signature": good})
    assert not signature_ok("sec", body, {})
