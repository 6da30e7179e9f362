"""Pure logic: catalog search, pixel sizes, poll schedule, webhook signatures."""

from __future__ import annotations

import hashlib
import hmac

from bot.catalog import Index, avatar_label, voice_label
from bot.heygen import Avatar, VideoState, Voice
from bot.heygen.client import dimension
from bot.schedule import RenderHistory, Schedule
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


def test_schedule_first_looks_near_the_expected_finish_then_tighter() -> None:
    s = Schedule(shortest=10, longest=60, timeout=7200, estimate=300)
    short, long = s.expected_render("word " * 75), s.expected_render("word " * 300)
    assert short == 300 and long > short  # 30 spoken seconds is the reference length
    assert s.first_wait(short) == 240
    assert s.wait_after(20) == 10 and s.wait_after(200) == 30 and s.wait_after(900) == 60
    # An early look (a bulk call with room) never brings the next check forward.
    assert s.next_check_at(0, 100, short) == 240
    assert s.next_check_at(0, 300, short) == 345


def test_render_history_corrects_the_estimate_once_videos_finish() -> None:
    history = RenderHistory(minimum=3)
    history.add(600, 300)
    history.add(660, 300)
    assert history.correction() == 1.0  # too few to trust
    history.add(540, 300)
    history.add(900, 300)
    assert history.correction() == 1.8  # a low quantile: checks stay a little early


def test_schedule_with_webhooks_polls_only_as_a_safety_net() -> None:
    s = Schedule(shortest=10, longest=60, timeout=7200, estimate=300, webhooks=True)
    assert s.first_wait(300) == 900 and s.wait_after(1000) == 60


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


def test_a_listed_final_status_counts_only_with_what_the_reply_shows() -> None:
    assert VideoState("v", "processing").reportable
    assert VideoState("v", "completed", video_url="https://x/v.mp4").reportable
    assert not VideoState("v", "completed").reportable  # no link yet: fetch the record
    assert VideoState("v", "failed", failure_message="Avatar unavailable").reportable
    assert not VideoState("v", "failed").reportable  # no reason: fetch the record
