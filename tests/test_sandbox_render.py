"""Real renders: what a client downloads is a real talking-avatar video of the script.

Checked with ffmpeg-level facts (imageio-ffmpeg ships ffmpeg but no ffprobe, so facts come
from `ffmpeg -i` and from decoding to null): h264 + aac streams, the requested size, a
length that matches the spoken audio, a small real GIF and JPEG, captions when asked.
Scripts are short and sizes 720p or less, so all of it renders in a few seconds.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from bot.sandbox import SandboxSettings, start_in_thread, tts
from bot.sandbox import studio as studio_module
from bot.sandbox.media import Processes, ffmpeg_exe, parse_facts, probe
from bot.sandbox.render import TAIL_SECONDS
from bot.sandbox.tts import SpeechVoice, espeak_voice, speak

ANGELA = "Angela-inTshirt-20220820"
EMMA = "76955c80188a4c149df169b5dc9e1a3a"  # Emma - Newscaster, en-US, female
SCRIPT = "Hello team, the sandbox renders real videos."
TIME = re.compile(r"time=(\d+):(\d\d):(\d\d(?:\.\d+)?)")


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with (
        start_in_thread(SandboxSettings(concurrency=100)) as sandbox,
        httpx.Client(base_url=sandbox.url, timeout=10) as http,
    ):
        yield http


def v3_create(client: httpx.Client, script: str = SCRIPT, **extra: object) -> str:
    body = {"type": "avatar", "avatar_id": ANGELA, "voice_id": EMMA, "script": script, **extra}
    answer = client.post("/v3/videos", json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]["video_id"]


def wait_until_final(fetch: Callable[[], dict], timeout: float = 30) -> tuple[dict, list[str]]:
    """Poll like a client until the video is final; every status answer is checked."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        data = fetch()
        if not seen or seen[-1] != data["status"]:
            seen.append(data["status"])
        if data["status"] in ("completed", "failed"):
            return data, seen
        assert data["video_url"] is None and data["duration"] is None
        time.sleep(0.05)
    raise AssertionError(f"still {seen[-1]} after {timeout} s")


def download(client: httpx.Client, url: str, to: Path) -> Path:
    answer = client.get(url)
    assert answer.status_code == 200, answer.text
    to.write_bytes(answer.content)
    return to


def stream_seconds(path: Path, stream: str) -> float:
    """How long one stream (`v` or `a`) really plays: decode it to nothing, read the clock."""
    done = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path), "-map", f"0:{stream}:0",
         "-f", "null", "-"],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    hours, minutes, seconds = TIME.findall(done.stderr)[-1]
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def pixel(path: Path, x: int, y: int) -> tuple[int, int, int]:
    done = subprocess.run(
        [ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-i", str(path), "-frames:v", "1",
         "-vf", f"format=rgb24,crop=2:2:{x}:{y}", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    return done.stdout[0], done.stdout[1], done.stdout[2]


def test_v3_render_is_a_talking_video_of_the_script(client: httpx.Client, tmp_path) -> None:
    video_id = v3_create(
        client, resolution="720p", aspect_ratio="9:16", caption={"file_format": "srt"}
    )
    data, seen = wait_until_final(lambda: client.get(f"/v3/videos/{video_id}").json()["data"])
    assert data["status"] == "completed", data
    assert seen[0] != "completed" and set(seen[:-1]) <= {"waiting", "pending", "processing"}

    mp4 = download(client, data["video_url"], tmp_path / "video.mp4")
    facts = probe(mp4)
    assert (facts.video_codec, facts.audio_codec) == ("h264", "aac")
    assert (facts.width, facts.height) == (720, 1280)
    assert data["duration"] == pytest.approx(facts.duration, abs=0.05)
    audio = stream_seconds(mp4, "a")
    assert stream_seconds(mp4, "v") == pytest.approx(audio, abs=0.15)
    speech = speak(SCRIPT, SpeechVoice(EMMA, "en-US", "female"), tmp_path / "s.wav", Processes())
    spoken = probe(speech.path).duration or 0
    assert audio == pytest.approx(spoken + TAIL_SECONDS, abs=0.2)

    captioned = probe(download(client, data["captioned_video_url"], tmp_path / "cap.mp4"))
    assert (captioned.video_codec, captioned.width, captioned.height) == ("h264", 720, 1280)
    gif = download(client, data["gif_url"], tmp_path / "preview.gif")
    assert gif.read_bytes()[:6] == b"GIF89a" and gif.stat().st_size < 300_000
    gif_facts = probe(gif)
    assert (
        gif_facts.video_codec == "gif" and max(gif_facts.width or 0, gif_facts.height or 0) <= 320
    )
    jpeg = download(client, data["thumbnail_url"], tmp_path / "thumb.jpg")
    assert jpeg.read_bytes()[:3] == b"\xff\xd8\xff" and jpeg.stat().st_size < 100_000
    assert probe(jpeg).video_codec == "mjpeg" and (probe(jpeg).height or 0) <= 640

    srt = client.get(data["subtitle_url"]).text
    assert srt.startswith("1\n00:00:00,000 --> ") and "Hello team, the sandbox" in srt
    last_end = re.findall(r"--> (\d\d):(\d\d):(\d\d),(\d{3})", srt)[-1]
    assert int(last_end[2]) + int(last_end[3]) / 1000 <= data["duration"]


def test_v2_render_honours_dimension_background_and_speed(client: httpx.Client, tmp_path) -> None:
    body = {
        "video_inputs": [
            {
                "character": {"type": "avatar", "avatar_id": ANGELA, "avatar_style": "normal"},
                "voice": {"type": "text", "input_text": SCRIPT, "voice_id": EMMA, "speed": 1.5},
                "background": {"type": "color", "value": "#FFAA00"},
            }
        ],
        "dimension": {"width": 640, "height": 360},
        "caption": True,
    }
    video_id = client.post("/v2/video/generate", json=body).json()["data"]["video_id"]

    def status() -> dict:
        answer = client.get("/v1/video_status.get", params={"video_id": video_id}).json()
        assert answer["code"] == 100
        return answer["data"]

    data, _ = wait_until_final(status)
    assert data["status"] == "completed" and data["error"] is None
    mp4 = download(client, data["video_url"], tmp_path / "video.mp4")
    facts = probe(mp4)
    assert (facts.video_codec, facts.audio_codec, facts.width, facts.height) == (
        "h264", "aac", 640, 360
    )  # fmt: skip
    assert data["duration"] == pytest.approx(facts.duration, abs=0.05)
    r, g, b = pixel(mp4, 5, 180)  # left edge, half-way down: background only
    assert abs(r - 0xFF) < 16 and abs(g - 0xAA) < 16 and abs(b - 0x00) < 16
    assert probe(download(client, data["video_url_caption"], tmp_path / "c.mp4")).width == 640
    assert "Dialogue:" in client.get(data["caption_url"]).text
    assert (facts.duration or 0) < 3.5  # seven words at 1.5x speed


def test_completed_means_the_files_exist_and_quota_bills_the_length(
    client: httpx.Client,
) -> None:
    before = client.get("/v2/user/remaining_quota").json()["data"]["remaining_quota"]
    video_id = v3_create(client, "Bill me for this.")
    data, _ = wait_until_final(lambda: client.get(f"/v3/videos/{video_id}").json()["data"])
    for url in (data["video_url"], data["gif_url"], data["thumbnail_url"], data["subtitle_url"]):
        assert client.get(url).status_code == 200
    after = client.get("/v2/user/remaining_quota").json()["data"]["remaining_quota"]
    assert before - after == pytest.approx(data["duration"], abs=1.01)
    row = next(v for v in client.get("/_sandbox/videos").json()["videos"] if v["id"] == video_id)
    assert row["renderer"] == "real" and row["stage"] == "done"
    assert row["media_duration"] == data["duration"]


def test_minimum_render_time_holds_a_finished_render_at_processing(client: httpx.Client) -> None:
    video_id = v3_create(client, "Take your time. [sandbox:render:600]")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        row = next(
            v for v in client.get("/_sandbox/videos").json()["videos"] if v["id"] == video_id
        )
        if row["stage"] == "done":
            break
        time.sleep(0.05)
    assert row["stage"] == "done" and row["media_duration"] > 0
    early = client.get(f"/v3/videos/{video_id}").json()["data"]
    assert early["status"] in ("waiting", "pending") and early["video_url"] is None
    client.post("/_sandbox/clock", json={"advance_seconds": 600}).raise_for_status()
    done = client.get(f"/v3/videos/{video_id}").json()["data"]
    assert done["status"] == "completed" and done["duration"] == row["media_duration"]


def test_delete_removes_the_rendered_files(client: httpx.Client) -> None:
    video_id = v3_create(client, "Short lived.")
    data, _ = wait_until_final(lambda: client.get(f"/v3/videos/{video_id}").json()["data"])
    files = Path(client.get("/_sandbox/info").json()["files_path"]) / video_id
    assert (files / "video.mp4").is_file()
    assert client.delete(f"/v3/videos/{video_id}").status_code == 200
    assert client.get(data["video_url"]).status_code == 404
    assert not files.exists()


def test_markers_still_fail_and_a_broken_render_fails_like_heygen(
    client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    marked = v3_create(client, "No render for me [sandbox:fail:CONTENT_MODERATION]")
    data, _ = wait_until_final(lambda: client.get(f"/v3/videos/{marked}").json()["data"])
    assert data["failure_code"] == "CONTENT_MODERATION"

    def broken(*args: object) -> None:
        raise RuntimeError("ffmpeg fell over")

    monkeypatch.setattr(studio_module, "render", broken)
    video_id = v3_create(client, "This render breaks.")
    data, _ = wait_until_final(lambda: client.get(f"/v3/videos/{video_id}").json()["data"])
    assert data["status"] == "failed" and data["failure_code"] == "RENDER_FAILED"
    assert data["failure_message"] == "Video rendering failed"


def test_renders_resume_after_a_restart_and_live_next_to_the_state(tmp_path: Path) -> None:
    settings = SandboxSettings(state_path=str(tmp_path / "sandbox.db"))
    with start_in_thread(settings) as first, httpx.Client(base_url=first.url) as http:
        video_id = v3_create(http, "Interrupted, then finished.")
    # The first sandbox stopped mid-render; the next one on the same state finishes it.
    with start_in_thread(settings) as second, httpx.Client(base_url=second.url) as http:
        data, _ = wait_until_final(lambda: http.get(f"/v3/videos/{video_id}").json()["data"])
        assert data["status"] == "completed"
        assert http.get(data["video_url"]).status_code == 200
    assert (tmp_path / "sandbox-videos" / video_id / "video.mp4").is_file()


def test_espeak_voice_follows_language_and_gender() -> None:
    have = frozenset({"en-us", "en-gb", "es", "es-419", "cmn", "de", "fr-fr"})
    pick = lambda locale, gender: espeak_voice(SpeechVoice("v1", locale, gender), have)  # noqa: E731
    assert pick("en-US", "female").startswith("en-us+f")
    assert pick("en-GB", "male").startswith("en-gb+m")
    assert pick("es-MX", "male").startswith("es-419+m")
    assert pick("es-ES", "female").startswith("es+f")
    assert pick("zh-CN", "female").startswith("cmn+f")
    assert pick("fr-FR", "male").startswith("fr-fr+m")
    assert pick("xx-YY", "male").startswith("en+m")
    voices = {espeak_voice(SpeechVoice(f"id{n}", "de-DE", "male"), have) for n in range(20)}
    assert len(voices) > 1  # different voices of one language sound different


def test_without_espeak_a_tone_track_and_one_log_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(tts, "espeak_path", lambda: None)
    tts._warn_once.cache_clear()
    voice = SpeechVoice(EMMA, "en-US", "female")
    with caplog.at_level(logging.WARNING, logger="bot.sandbox.tts"):
        first = speak("one two three four five", voice, tmp_path / "a.wav", Processes())
        speak("six seven", voice, tmp_path / "b.wav", Processes())
    assert first.engine == "tone"
    assert probe(first.path).duration == pytest.approx(2.0, abs=0.05)  # 5 words at 2.5/s
    assert len([r for r in caplog.records if "espeak-ng" in r.getMessage()]) == 1


def test_ffmpeg_output_is_parsed_like_ffprobe() -> None:
    text = (
        "  Duration: 00:01:02.50, start: 0.000000, bitrate: 138 kb/s\n"
        "  Stream #0:0[0x1](und): Video: h264 (High) (avc1 / 0x31637661), yuv420p(progressive),"
        " 1280x720 [SAR 1:1 DAR 16:9], 64 kb/s, 25 fps\n"
        "  Stream #0:1[0x2](und): Audio: aac (LC) (mp4a / 0x6134706D), 22050 Hz, mono, fltp\n"
    )
    facts = parse_facts(text)
    assert facts.duration == 62.5 and (facts.width, facts.height) == (1280, 720)
    assert (facts.video_codec, facts.audio_codec, facts.sample_rate) == ("h264", "aac", 22050)


def test_renders_run_in_parallel_one_per_core(client: httpx.Client) -> None:
    workers = client.get("/_sandbox/info").json()["render_workers"]
    assert workers == studio_module.render_workers() == max(1, os.cpu_count() or 1)
    body = {
        "video_inputs": [
            {
                "character": {"type": "avatar", "avatar_id": ANGELA},
                "voice": {"type": "text", "input_text": "Hi there.", "voice_id": EMMA},
            }
        ],
        "dimension": {"width": 320, "height": 180},
    }
    ids = {
        client.post("/v2/video/generate", json=body).json()["data"]["video_id"] for _ in range(4)
    }
    busiest, deadline = 0, time.monotonic() + 30
    while time.monotonic() < deadline:
        rows = [v for v in client.get("/_sandbox/videos").json()["videos"] if v["id"] in ids]
        busiest = max(busiest, sum(v["stage"] not in ("queued", "done") for v in rows))
        if all(v["status"] == "completed" for v in rows):
            break
        time.sleep(0.02)
    assert all(v["status"] == "completed" for v in rows)
    assert 1 <= busiest <= workers
