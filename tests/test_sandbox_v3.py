"""The sandbox's v3 surface against reference/heygen-v3.md."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from bot.sandbox import SandboxSettings, start_in_thread
from tests.harness import wait_until

ANGELA = "Angela-inTshirt-20220820"
LOOK_KEYS = {
    "id", "name", "gender", "avatar_type", "group_id", "preview_image_url", "preview_video_url",
    "default_voice_id", "preferred_orientation", "supported_api_engines", "tags",
}  # fmt: skip
VOICE_KEYS = {
    "voice_id", "name", "language", "gender", "type", "preview_audio_url", "support_pause",
    "support_locale",
}  # fmt: skip
V2_BODY = {
    "video_inputs": [
        {
            "character": {"type": "avatar", "avatar_id": ANGELA},
            "voice": {
                "type": "text",
                "input_text": "Hi",
                "voice_id": "1bd001e7e50f421d891986aad5158bc8",
            },
        }
    ]
}
VIDEO_KEYS = {
    "id", "title", "status", "created_at", "completed_at", "duration", "video_url",
    "captioned_video_url", "subtitle_url", "thumbnail_url", "gif_url", "video_page_url",
    "failure_code", "failure_message",
}  # fmt: skip


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    settings = SandboxSettings(render="static", render_seconds=2.0, concurrency=100)
    with start_in_thread(settings) as sandbox, httpx.Client(base_url=sandbox.url) as http:
        yield http


def body(script: str = "Hello from v3.", **extra: object) -> dict:
    return {"type": "avatar", "avatar_id": ANGELA, "script": script, **extra}


def create(client: httpx.Client, script: str = "Hello from v3.", **extra: object) -> str:
    answer = client.post("/v3/videos", json=body(script, **extra))
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]["video_id"]


def video(client: httpx.Client, video_id: str) -> dict:
    answer = client.get(f"/v3/videos/{video_id}")
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]


def advance(client: httpx.Client, seconds: float) -> None:
    client.post("/_sandbox/clock", json={"advance_seconds": seconds}).raise_for_status()


def v3_error(answer: httpx.Response, status: int, code: str, param: str | None = None) -> dict:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert error["code"] == code and error["doc_url"] and error["message"]
    assert error.get("param") == param
    return error


def all_pages(client: httpx.Client, path: str, **params: object) -> list[list[dict]]:
    pages, token = [], None
    while True:
        query = {**params, **({"token": token} if token else {})}
        page = client.get(path, params=query).json()
        assert set(page) == {"data", "has_more", "next_token"}
        pages.append(page["data"])
        if not page["has_more"]:
            assert page["next_token"] is None
            return pages
        token = page["next_token"]


def test_looks_are_paginated_and_match_v2(client: httpx.Client) -> None:
    pages = all_pages(client, "/v3/avatars/looks")
    assert [len(p) for p in pages] == [20, 20]
    looks = [look for page in pages for look in page]
    assert all(set(look) == LOOK_KEYS for look in looks)
    v2_ids = [a["avatar_id"] for a in client.get("/v2/avatars").json()["data"]["avatars"]]
    assert [look["id"] for look in looks] == v2_ids
    assert {look["avatar_type"] for look in looks} <= {
        "studio_avatar", "digital_twin", "photo_avatar"
    }  # fmt: skip
    assert any(not look["supported_api_engines"] for look in looks)
    assert [len(p) for p in all_pages(client, "/v3/avatars/looks", limit=50)] == [40]


@pytest.mark.parametrize(
    ("path", "query", "param"),
    [
        ("/v3/avatars/looks", {"limit": 51}, "limit"),
        ("/v3/avatars/looks", {"limit": 0}, "limit"),
        ("/v3/voices", {"limit": 101}, "limit"),
        ("/v3/voices", {"token": "not-a-token"}, "token"),
        ("/v3/voices", {"gender": "robot"}, "gender"),
    ],
)
def test_list_parameters_are_checked(client: httpx.Client, path, query, param) -> None:
    v3_error(client.get(path, params=query), 400, "invalid_parameter", param)


def test_voices_pages_and_filters(client: httpx.Client) -> None:
    pages = all_pages(client, "/v3/voices")
    assert [len(p) for p in pages] == [20, 10]
    assert all(set(v) == VOICE_KEYS for page in pages for v in page)
    assert pages[0][0]["name"] == "Emma - Newscaster"
    assert len(client.get("/v3/voices", params={"limit": 100}).json()["data"]) == 30
    english = client.get("/v3/voices", params={"language": "English", "limit": 100}).json()
    assert english["data"] and all(v["language"] == "English" for v in english["data"])
    male = client.get("/v3/voices", params={"gender": "male", "limit": 100}).json()["data"]
    assert male and all(v["gender"] == "male" for v in male)


def test_avatar_groups(client: httpx.Client) -> None:
    groups = [g for page in all_pages(client, "/v3/avatars", limit=50) for g in page]
    assert sum(g["looks_count"] for g in groups) == 40
    assert groups[0]["name"] == "Angela" and groups[0]["looks_count"] == 2


def test_create_and_complete(client: httpx.Client) -> None:
    answer = client.post("/v3/videos", json=body(title="Hello", caption={"file_format": "srt"}))
    assert answer.status_code == 200
    created = answer.json()
    assert set(created) == {"data"} and created["data"]["status"] == "waiting"
    video_id = created["data"]["video_id"]
    early = video(client, video_id)
    assert set(early) == VIDEO_KEYS and early["status"] in ("waiting", "pending")
    assert early["video_url"] is None and early["failure_code"] is None
    advance(client, 3)
    done = video(client, video_id)
    assert done["status"] == "completed" and done["title"] == "Hello" and done["duration"] > 0
    assert done["completed_at"] >= done["created_at"]
    assert client.get(done["video_url"]).content[4:8] == b"ftyp"
    assert client.get(done["captioned_video_url"]).content[4:8] == b"ftyp"
    assert client.get(done["gif_url"]).content[:6] == b"GIF89a"
    assert client.get(done["thumbnail_url"]).content[:3] == b"\xff\xd8\xff"
    assert "Hello from v3." in client.get(done["subtitle_url"]).text
    assert client.get(done["video_page_url"]).status_code == 200


def test_status_progresses_with_time() -> None:
    """Statuses follow the sandbox clock; moving it on steps through each one, where polling
    a short render in real time could miss a status on a busy machine."""
    with (
        start_in_thread(SandboxSettings(render="static")) as sandbox,
        httpx.Client(base_url=sandbox.url) as http,
    ):
        video_id = create(http, "Long one [sandbox:render:100]")
        seen = [video(http, video_id)["status"]]
        for seconds in (20, 30, 60):  # to about 20 s, 50 s and 110 s of a 100 s render
            http.post("/_sandbox/clock", json={"advance_seconds": seconds}).raise_for_status()
            seen.append(video(http, video_id)["status"])
    assert seen == ["waiting", "pending", "processing", "completed"]


def test_file_markers_pad_throttle_and_drop_the_length(client: httpx.Client) -> None:
    """The markers download tests use: a big mp4 that still starts like one, served slowly."""
    big = create(client, "Big and slow [sandbox:size:1] [sandbox:throttle:2000000]")
    plain, chunked = create(client, "Plain"), create(client, "No length [sandbox:chunked]")
    advance(client, 3)
    original = client.get(video(client, plain)["video_url"]).content
    started = time.monotonic()
    answer = client.get(video(client, big)["video_url"])
    assert time.monotonic() - started >= 0.4  # 1 MB at 2 MB/s, give or take the first piece
    assert answer.headers["content-length"] == str(1024 * 1024) == str(len(answer.content))
    assert (
        answer.content.startswith(original) and answer.content[len(original) + 4 :][:4] == b"free"
    )
    unsized = client.get(video(client, chunked)["video_url"])
    assert "content-length" not in unsized.headers and unsized.content == original


@pytest.mark.parametrize(
    ("change", "status", "code", "param"),
    [
        ({"script": "x" * 5001}, 400, "invalid_parameter", "script"),
        ({"script": ""}, 400, "invalid_parameter", "script"),
        ({"voice_settings": {"speed": 2}}, 400, "invalid_parameter", "voice_settings.speed"),
        ({"voice_settings": {"pitch": 51}}, 400, "invalid_parameter", "voice_settings.pitch"),
        ({"voice_settings": {"volume": 1.5}}, 400, "invalid_parameter", "voice_settings.volume"),
        ({"resolution": "8k"}, 400, "invalid_parameter", "resolution"),
        ({"aspect_ratio": "2:1"}, 400, "invalid_parameter", "aspect_ratio"),
        ({"background": {"type": "color", "value": "#GGHHII"}}, 400, "invalid_parameter",
         "background.value"),
        ({"dimension": {"width": 1280, "height": 720}}, 400, "invalid_parameter", "dimension"),
        ({"test": True}, 400, "invalid_parameter", "test"),
        ({"type": "image"}, 400, "invalid_parameter", "type"),
        ({"avatar_id": "Nobody-2020"}, 404, "avatar_not_found", "avatar_id"),
        ({"voice_id": "0" * 32}, 404, "voice_not_found", "voice_id"),
    ],
)  # fmt: skip
def test_create_errors(client: httpx.Client, change: dict, status: int, code: str, param) -> None:
    v3_error(client.post("/v3/videos", json={**body(), **change}), status, code, param)


def test_script_limit_is_5000_and_good_settings_pass(client: httpx.Client) -> None:
    good = body(
        "x" * 5000,
        voice_id="76955c80188a4c149df169b5dc9e1a3a",
        voice_settings={"speed": 1.5, "pitch": -50, "volume": 0, "locale": "en-US"},
        resolution="1080p",
        aspect_ratio="9:16",
        background={"type": "color", "value": "#00FF7f"},
    )
    assert client.post("/v3/videos", json=good).status_code == 200


def test_looks_without_engines_are_refused(client: httpx.Client) -> None:
    looks = client.get("/v3/avatars/looks", params={"limit": 50}).json()["data"]
    unusable = next(look for look in looks if not look["supported_api_engines"])
    answer = client.post("/v3/videos", json=body(avatar_id=unusable["id"]))
    v3_error(answer, 400, "invalid_parameter", "avatar_id")


def test_failure_marker_and_custom_code(client: httpx.Client) -> None:
    plain = create(client, "Breaks [sandbox:fail]")
    custom = create(client, "Breaks too [sandbox:fail:MY_OWN_CODE]")
    advance(client, 3)
    failed = video(client, plain)
    assert failed["status"] == "failed" and failed["failure_code"] == "RENDER_FAILED"
    assert failed["failure_message"] and failed["video_url"] is None
    assert video(client, custom)["failure_code"] == "MY_OWN_CODE"


def test_idempotency_key_returns_the_first_answer(client: httpx.Client) -> None:
    before = len(client.get("/_sandbox/videos").json()["videos"])
    key = {"Idempotency-Key": "job-42:attempt.1"}
    first = client.post("/v3/videos", json=body("Once only"), headers=key)
    again = client.post("/v3/videos", json=body("Once only"), headers=key)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    other = client.post("/v3/videos", json=body("Once only"), headers={"Idempotency-Key": "job-43"})
    assert other.json()["data"]["video_id"] != first.json()["data"]["video_id"]
    assert len(client.get("/_sandbox/videos").json()["videos"]) == before + 2
    bad = client.post("/v3/videos", json=body(), headers={"Idempotency-Key": "no spaces"})
    v3_error(bad, 400, "invalid_parameter", "Idempotency-Key")


def test_failed_create_is_not_remembered(client: httpx.Client) -> None:
    key = {"Idempotency-Key": "retry-after-fix"}
    v3_error(client.post("/v3/videos", json=body(""), headers=key), 400, "invalid_parameter",
             "script")  # fmt: skip
    assert client.post("/v3/videos", json=body("Fixed"), headers=key).status_code == 200


def test_repeat_while_first_is_running_gets_409(client: httpx.Client) -> None:
    # The first create's answer is held for 5 s: the repeat must arrive while it is.
    plan = {
        "timeout_seconds": 5,
        "next": [{"path_prefix": "/v3/videos", "method": "POST", "fault": "timeout"}],
    }
    client.post("/_sandbox/faults", json=plan).raise_for_status()
    before = len(client.get("/_sandbox/videos").json()["videos"])
    key = {"Idempotency-Key": "slow-create"}
    with pytest.raises(httpx.ReadTimeout):
        client.post("/v3/videos", json=body("Slow"), headers=key, timeout=0.3)

    def repeat() -> httpx.Response:
        return client.post("/v3/videos", json=body("Slow"), headers=key)

    v3_error(repeat(), 409, "request_in_progress")
    replay = wait_until(lambda: (answer := repeat()).status_code != 409 and answer)
    assert replay.status_code == 200 and replay.headers["idempotent-replayed"] == "true"
    assert len(client.get("/_sandbox/videos").json()["videos"]) == before + 1


def test_statuses_endpoint(client: httpx.Client) -> None:
    new = create(client)
    done = create(client)
    client.post(f"/_sandbox/videos/{done}/complete").raise_for_status()
    answer = client.get("/v3/videos/statuses", params={"video_ids": f"{new},{done},missing"})
    assert answer.json()["data"] == [
        {"video_id": new, "status": "queued"},
        {"video_id": done, "status": "completed"},
        {"video_id": "missing", "status": "not_found"},
    ]
    too_many = ",".join(f"v{i}" for i in range(101))
    v3_error(client.get("/v3/videos/statuses", params={"video_ids": too_many}), 400,
             "invalid_parameter", "video_ids")  # fmt: skip
    v3_error(client.get("/v3/videos/statuses"), 400, "invalid_parameter", "video_ids")


def test_delete(client: httpx.Client) -> None:
    video_id = create(client)
    answer = client.delete(f"/v3/videos/{video_id}")
    assert answer.json() == {"data": {"id": video_id, "deleted": True}}
    v3_error(client.get(f"/v3/videos/{video_id}"), 404, "video_not_found")
    v3_error(client.delete(f"/v3/videos/{video_id}"), 404, "video_not_found")


def test_force_fail_from_admin(client: httpx.Client) -> None:
    video_id = create(client)
    forced = client.post(f"/_sandbox/videos/{video_id}/fail", json={"code": "CONTENT_MODERATION"})
    assert forced.json()["status"] == "failed"
    assert video(client, video_id)["failure_code"] == "CONTENT_MODERATION"
    assert client.post(f"/_sandbox/videos/{video_id}/complete").status_code == 409


def test_admin_video_list_has_request_bodies(client: httpx.Client) -> None:
    video_id = create(client, "Inspect me", callback_id="cb-9")
    row = next(v for v in client.get("/_sandbox/videos").json()["videos"] if v["id"] == video_id)
    assert row["request"] == body("Inspect me", callback_id="cb-9") and row["api"] == "v3"


def test_account(client: httpx.Client) -> None:
    me = client.get("/v3/users/me").json()["data"]
    assert me["billing_type"] == "wallet" and me["wallet"]["remaining_balance"] > 0


def test_unknown_paths_and_methods_answer_in_v3_shape(client: httpx.Client) -> None:
    v3_error(client.get("/v3/nothing-here"), 404, "not_found")
    v3_error(client.put("/v3/videos"), 405, "method_not_allowed")


def test_concurrency_limit_answers_429() -> None:
    settings = SandboxSettings(render="static", render_seconds=30, concurrency=2)
    with start_in_thread(settings) as sandbox, httpx.Client(base_url=sandbox.url) as http:
        first = create(http)
        create(http)
        busy = http.post("/v3/videos", json=body())
        v3_error(busy, 429, "rate_limit_exceeded")
        assert 1 <= int(busy.headers["Retry-After"]) <= 30
        v2 = http.post("/v2/video/generate", json=V2_BODY)
        assert v2.status_code == 429 and v2.json()["error"]["code"] == "rate_limit_exceeded"
        assert v2.json()["data"] is None and "Retry-After" in v2.headers
        http.post(f"/_sandbox/videos/{first}/complete").raise_for_status()
        assert http.post("/v3/videos", json=body()).status_code == 200


def test_api_key_is_checked_when_configured() -> None:
    settings = SandboxSettings(api_key="k-123")
    with start_in_thread(settings) as sandbox, httpx.Client(base_url=sandbox.url) as http:
        v3_error(http.get("/v3/voices"), 401, "unauthorized")
        wrong = http.post("/v3/videos", json=body(), headers={"X-Api-Key": "nope"})
        v3_error(wrong, 401, "unauthorized")
        assert http.get("/v3/voices", headers={"X-Api-Key": "k-123"}).status_code == 200
