"""The sandbox's v1/v2 surface against the guide (reference/heygen-create-avatar-videos.txt)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from bot.sandbox import SandboxSettings, start_in_thread

ANGELA = "Angela-inTshirt-20220820"
GUIDE_VOICE = "1bd001e7e50f421d891986aad5158bc8"
STATUS_KEYS = {
    "callback_id", "caption_url", "created_at", "duration", "error", "gif_url", "id", "status",
    "thumbnail_url", "video_url", "video_url_caption",
}  # fmt: skip
VOICE_LIST_KEYS = {
    "voice_id", "labels", "language", "flag", "locale", "sort", "gender", "tags",
    "display_name", "preview", "settings", "ssml", "is_customer", "is_favorite", "is_paid",
    "support_realtime",
}  # fmt: skip


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    settings = SandboxSettings(render="static", render_seconds=2.0, concurrency=100)
    with start_in_thread(settings) as sandbox, httpx.Client(base_url=sandbox.url) as http:
        yield http


def guide_body(text: str = "Welcome to the HeyGen API!", **extra: object) -> dict:
    """The guide's own create example, verbatim apart from the text."""
    return {
        "video_inputs": [
            {
                "character": {"type": "avatar", "avatar_id": ANGELA, "avatar_style": "normal"},
                "voice": {
                    "type": "text",
                    "input_text": text,
                    "voice_id": GUIDE_VOICE,
                    "speed": 1.1,
                },
            }
        ],
        "dimension": {"width": 1280, "height": 720},
        **extra,
    }


def create(client: httpx.Client, text: str = "Hello from the sandbox.", **extra: object) -> str:
    answer = client.post("/v2/video/generate", json=guide_body(text, **extra))
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]["video_id"]


def status(client: httpx.Client, video_id: str) -> dict:
    answer = client.get("/v1/video_status.get", params={"video_id": video_id})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["code"] == 100 and body["message"] == "Success"
    return body["data"]


def advance(client: httpx.Client, seconds: float) -> None:
    client.post("/_sandbox/clock", json={"advance_seconds": seconds}).raise_for_status()


def v2_error(answer: httpx.Response, status: int, code: str) -> dict:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["data"] is None and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code
    return body["error"]


def test_avatars_list_matches_the_guide(client: httpx.Client) -> None:
    body = client.get("/v2/avatars").json()
    assert body["error"] is None and body["data"]["talking_photos"] == []
    avatars = body["data"]["avatars"]
    assert len(avatars) == 40
    for avatar in avatars:
        assert set(avatar) == {
            "avatar_id", "avatar_name", "gender", "preview_image_url", "preview_video_url"
        }  # fmt: skip
        assert avatar["gender"] in ("female", "male")
    assert avatars[0]["avatar_id"] == "Angela-inblackskirt-20220820"
    assert avatars[0]["avatar_name"] == "Angela in Black Dress"
    preview = client.get(avatars[0]["preview_image_url"])
    assert preview.status_code == 200 and preview.content[:3] == b"\xff\xd8\xff"


def test_voice_lists_match_the_guide(client: httpx.Client) -> None:
    voices = client.get("/v2/voices").json()["data"]["voices"]
    assert len(voices) == 30
    assert set(voices[0]) == {
        "voice_id", "language", "gender", "name", "preview_audio", "support_pause",
        "emotion_support",
    }  # fmt: skip
    languages = {v["language"] for v in voices}
    assert "English" in languages and len(languages) >= 4
    old = client.get("/v1/voice.list").json()
    assert old["code"] == 100 and old["msg"] is None and old["message"] is None
    emma = old["data"]["list"][0]
    assert set(emma) == VOICE_LIST_KEYS
    assert emma["voice_id"] == "76955c80188a4c149df169b5dc9e1a3a"
    assert emma["display_name"] == "Emma - Newscaster" and emma["gender"] == "Female"
    audio = client.get(emma["preview"]["movio"])
    assert audio.status_code == 200 and audio.content[:4] == b"RIFF"


def test_guide_example_creates_a_video(client: httpx.Client) -> None:
    answer = client.post("/v2/video/generate", json=guide_body())
    assert answer.status_code == 200
    body = answer.json()
    assert body["error"] is None and set(body["data"]) == {"video_id"}


def test_status_moves_to_completed_with_real_files(client: httpx.Client) -> None:
    video_id = create(client, "Short render [sandbox:render:0.6]", callback_id="job-7")
    seen = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        data = status(client, video_id)
        if not seen or seen[-1] != data["status"]:
            seen.append(data["status"])
        if data["status"] == "completed":
            break
        assert data["video_url"] is None and data["duration"] is None
        time.sleep(0.05)
    order = ["waiting", "pending", "processing", "completed"]
    assert seen[-1] == "completed" and seen == sorted(seen, key=order.index)
    assert set(data) == STATUS_KEYS
    assert data["id"] == video_id and data["callback_id"] == "job-7" and data["error"] is None
    assert data["duration"] > 0 and data["video_url_caption"] is None
    assert client.get(data["video_url"]).content[4:8] == b"ftyp"
    assert client.get(data["gif_url"]).content[:6] == b"GIF89a"
    assert client.get(data["thumbnail_url"]).content[:3] == b"\xff\xd8\xff"
    assert "Dialogue:" in client.get(data["caption_url"]).text


def test_fresh_video_has_no_links_yet(client: httpx.Client) -> None:
    data = status(client, create(client))
    assert data["status"] in ("waiting", "pending")
    assert data["video_url"] is None and data["thumbnail_url"] is None and data["gif_url"] is None


def test_failure_marker_ends_failed_with_error_object(client: httpx.Client) -> None:
    video_id = create(client, "This one breaks [sandbox:fail:VIDEO_TOO_LONG]")
    advance(client, 3)
    data = status(client, video_id)
    assert data["status"] == "failed" and data["video_url"] is None
    assert data["error"]["code"] == 40119
    assert data["error"]["message"] == "Video is too long"
    assert data["error"]["detail"].startswith("Video is too long (> 3600.0s)")


def test_caption_true_gives_a_captioned_video(client: httpx.Client) -> None:
    video_id = create(client, "With captions", caption=True)
    advance(client, 3)
    data = status(client, video_id)
    assert client.get(data["video_url_caption"]).content[4:8] == b"ftyp"


@pytest.mark.parametrize(
    ("change", "status_code", "code"),
    [
        (lambda b: b["video_inputs"][0]["voice"].update(input_text="x" * 1501), 400,
         "invalid_parameter"),
        (lambda b: b["video_inputs"][0]["character"].update(avatar_id="Nobody-2020"), 404,
         "avatar_not_found"),
        (lambda b: b["video_inputs"][0]["voice"].update(voice_id="0" * 32), 404,
         "voice_not_found"),
        (lambda b: b["video_inputs"][0]["voice"].update(speed=3), 400, "invalid_parameter"),
        (lambda b: b.update(video_inputs=[]), 400, "invalid_parameter"),
        (lambda b: b.update(dimension={"width": "wide", "height": 720}), 400,
         "invalid_parameter"),
        (lambda b: b["video_inputs"][0].update(background={"type": "color", "value": "red"}),
         400, "invalid_parameter"),
    ],
)  # fmt: skip
def test_generate_errors(client: httpx.Client, change, status_code: int, code: str) -> None:
    body = guide_body()
    change(body)
    v2_error(client.post("/v2/video/generate", json=body), status_code, code)


def test_script_limit_is_1500(client: httpx.Client) -> None:
    assert client.post("/v2/video/generate", json=guide_body("x" * 1500)).status_code == 200
    error = v2_error(client.post("/v2/video/generate", json=guide_body("x" * 1501)), 400,
                     "invalid_parameter")  # fmt: skip
    assert "1,500" in error["message"]


def test_bad_json_and_unknown_videos(client: httpx.Client) -> None:
    answer = client.post("/v2/video/generate", content=b"{nope", headers={"content-type": "x"})
    v2_error(answer, 400, "invalid_parameter")
    v2_error(client.get("/v1/video_status.get", params={"video_id": "f" * 32}), 404,
             "video_not_found")  # fmt: skip
    v2_error(client.get("/v1/video_status.get"), 400, "invalid_parameter")


def test_list_and_delete(client: httpx.Client) -> None:
    video_id = create(client, callback_id="listed")
    listed = client.get("/v1/video.list").json()
    row = next(v for v in listed["data"]["videos"] if v["video_id"] == video_id)
    assert row["callback_id"] == "listed" and row["status"] in ("waiting", "pending")
    assert client.delete("/v1/video.delete", params={"video_id": video_id}).json()["code"] == 100
    v2_error(client.get("/v1/video_status.get", params={"video_id": video_id}), 404,
             "video_not_found")  # fmt: skip


def test_remaining_quota(client: httpx.Client) -> None:
    body = client.get("/v2/user/remaining_quota").json()
    assert body["error"] is None and body["data"]["remaining_quota"] > 0


def test_links_are_signed_fresh_and_expire(client: httpx.Client) -> None:
    video_id = create(client)
    advance(client, 3)
    url = status(client, video_id)["video_url"]
    assert "Expires=" in url and "Signature=" in url
    tampered = url.replace("Signature=", "Signature=x")
    refused = client.get(tampered)
    assert refused.status_code == 403 and b"<Code>AccessDenied</Code>" in refused.content
    assert client.get(url.split("?")[0]).status_code == 403
    advance(client, 8 * 24 * 3600)
    expired = client.get(url)
    assert expired.status_code == 403 and b"expired" in expired.content
    fresh = status(client, video_id)["video_url"]
    assert fresh != url and client.get(fresh).status_code == 200


def test_api_key_is_checked_when_configured() -> None:
    secret = "sk-sandbox-test-key"
    settings = SandboxSettings(api_key=secret)
    with start_in_thread(settings) as sandbox, httpx.Client(base_url=sandbox.url) as http:
        v2_error(http.get("/v2/avatars"), 401, "unauthorized")
        v2_error(http.get("/v2/avatars", headers={"X-Api-Key": "wrong"}), 401, "unauthorized")
        assert http.get("/v2/avatars", headers={"X-Api-Key": secret}).status_code == 200
        log = http.get("/_sandbox/requests").json()["requests"]
    assert [entry["api_key_present"] for entry in log] == [False, True, True]
    assert secret not in str(log)


def test_any_key_is_fine_without_configuration(client: httpx.Client) -> None:
    assert client.get("/v2/avatars", headers={"X-Api-Key": "anything"}).status_code == 200
    assert client.get("/v2/avatars").status_code == 200
