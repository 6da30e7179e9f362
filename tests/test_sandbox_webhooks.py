"""Webhook endpoints (v3 API) and signed deliveries, received by a tiny local HTTP server."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from bot.sandbox import SandboxSettings, start_in_thread
from bot.sandbox.media import probe
from tests.harness import wait_until

ANGELA = "Angela-inTshirt-20220820"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Records every POST; answers 500 to the first `fail_first` of them."""

    url: str = ""
    fail_first: int = 0
    got: list[Received] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        with self.changed:
            self.changed.wait_for(lambda: len(self.got) >= count, timeout)
        assert len(self.got) >= count, f"only {len(self.got)} deliveries arrived"
        return list(self.got)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    box = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with box.changed:
                box.got.append(Received(self.path, dict(self.headers), body))
                failing = len(box.got) <= box.fail_first
                box.changed.notify_all()
            self.send_response(500 if failing else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    box.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield box
    server.shutdown()
    server.server_close()


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    settings = SandboxSettings(render="static", render_seconds=30)
    with start_in_thread(settings) as sandbox, httpx.Client(base_url=sandbox.url) as http:
        yield http


def register(client: httpx.Client, url: str, events: list[str] | None = None) -> dict:
    answer = client.post("/v3/webhooks/endpoints", json={"url": url, "events": events})
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]


def create_v3(client: httpx.Client, script: str = "Webhook me.", **extra: object) -> str:
    body = {"type": "avatar", "avatar_id": ANGELA, "script": script, **extra}
    return client.post("/v3/videos", json=body).json()["data"]["video_id"]


def signed_by(delivery: Received, secret: str) -> bool:
    expected = hmac.new(secret.encode(), delivery.body, hashlib.sha256).hexdigest()
    return delivery.headers["Heygen-Signature"] == expected


def test_endpoint_crud(client: httpx.Client) -> None:
    created = register(client, "https://example.com/hook", ["avatar_video.success"])
    assert set(created) == {"endpoint_id", "url", "status", "events", "created_at", "secret"}
    assert created["secret"] and created["status"] == "enabled"
    listed = client.get("/v3/webhooks/endpoints").json()
    assert listed["has_more"] is False and listed["data"][0]["secret"] is None
    endpoint = f"/v3/webhooks/endpoints/{created['endpoint_id']}"
    patched = client.patch(endpoint, json={"events": ["avatar_video.fail"]}).json()["data"]
    assert patched["events"] == ["avatar_video.fail"] and patched["secret"] is None
    rotated = client.post(f"{endpoint}/rotate-secret").json()["data"]
    assert rotated["endpoint_id"] == created["endpoint_id"]
    assert rotated["secret"] != created["secret"]
    assert client.delete(endpoint).status_code == 200
    missing = client.delete(endpoint)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_endpoint_validation(client: httpx.Client) -> None:
    bad_url = client.post("/v3/webhooks/endpoints", json={"url": "ftp://x"})
    assert bad_url.status_code == 400 and bad_url.json()["error"]["param"] == "url"
    bad_event = client.post("/v3/webhooks/endpoints", json={"url": "https://x", "events": ["x"]})
    assert bad_event.status_code == 400 and bad_event.json()["error"]["param"] == "events"


def test_success_is_delivered_signed(client: httpx.Client, receiver: Receiver) -> None:
    endpoint = register(client, f"{receiver.url}/hook")
    video_id = create_v3(client, callback_id="job-1")
    client.post(f"/_sandbox/videos/{video_id}/complete").raise_for_status()
    deliveries = receiver.wait_for(2)
    by_type = {d.event["event_type"]: d for d in deliveries}
    success = by_type["avatar_video.success"]
    assert signed_by(success, endpoint["secret"])
    assert abs(int(success.headers["Heygen-Timestamp"]) - time.time()) < 300
    assert success.headers["Heygen-Event-Id"]
    data = success.event["event_data"]
    assert data["video_id"] == video_id and data["callback_id"] == "job-1"
    assert client.get(data["url"]).content[4:8] == b"ftyp"
    assert "avatar_video_gif.success" in by_type  # extra events arrive too; clients ignore them


def test_failure_is_delivered_to_subscribers_only(client: httpx.Client, receiver: Receiver) -> None:
    failures = register(client, f"{receiver.url}/fail", ["avatar_video.fail"])
    register(client, f"{receiver.url}/success", ["avatar_video.success"])
    video_id = create_v3(client, "Doomed [sandbox:fail] [sandbox:render:0.2]", callback_id="j2")
    delivery = receiver.wait_for(1)[0]
    # The sandbox records every delivery of a video when it announces it, before sending.
    assert [d["url"] for d in deliveries(client)] == [f"{receiver.url}/fail"]
    assert delivery.path == "/fail"
    assert delivery.event == {
        "event_type": "avatar_video.fail",
        "event_data": {"video_id": video_id, "callback_id": "j2", "msg": "Video rendering failed"},
    }
    assert signed_by(delivery, failures["secret"])


def test_failed_delivery_is_retried_with_the_same_event_id(
    client: httpx.Client, receiver: Receiver
) -> None:
    receiver.fail_first = 1
    register(client, f"{receiver.url}/hook", ["avatar_video.success"])
    video_id = create_v3(client)
    client.post(f"/_sandbox/videos/{video_id}/complete").raise_for_status()
    first, second = receiver.wait_for(2)
    assert first.headers["Heygen-Event-Id"] == second.headers["Heygen-Event-Id"]
    report = wait_until(
        lambda: next((d for d in deliveries(client) if d["state"] != "pending"), None),
        message="the delivery settled",
    )
    assert report["attempts"] == 2 and report["state"] == "delivered"
    assert [h["status"] for h in report["history"]] == [500, 200]


def test_v2_callback_url_gets_the_event(client: httpx.Client, receiver: Receiver) -> None:
    body = {
        "video_inputs": [
            {
                "character": {"type": "avatar", "avatar_id": ANGELA},
                "voice": {
                    "type": "text",
                    "input_text": "Call me back [sandbox:render:0.2]",
                    "voice_id": "1bd001e7e50f421d891986aad5158bc8",
                },
            }
        ],
        "callback_id": "v2-job",
        "callback_url": f"{receiver.url}/callback",
    }
    video_id = client.post("/v2/video/generate", json=body).json()["data"]["video_id"]
    delivery = receiver.wait_for(1)[0]
    assert delivery.path == "/callback"
    assert delivery.event["event_type"] == "avatar_video.success"
    assert delivery.event["event_data"]["video_id"] == video_id
    assert signed_by(delivery, client.get("/_sandbox/info").json()["callback_secret"])


def test_deleted_video_is_not_announced(client: httpx.Client, receiver: Receiver) -> None:
    register(client, f"{receiver.url}/hook", ["avatar_video.success"])
    gone = create_v3(client, "Gone soon [sandbox:render:10]")
    client.delete(f"/v3/videos/{gone}").raise_for_status()
    kept = create_v3(client, "Kept [sandbox:render:10]")
    client.post("/_sandbox/clock", json={"advance_seconds": 11}).raise_for_status()
    [delivery] = receiver.wait_for(1)  # both renders are over; one pass announces both
    assert delivery.event["event_data"]["video_id"] == kept
    assert [d["video_id"] for d in deliveries(client)] == [kept]


def deliveries(client: httpx.Client) -> list[dict]:
    """Every delivery the sandbox has made or is making, as its admin API reports them."""
    return client.get("/_sandbox/webhooks").json()["deliveries"]


def test_real_render_is_announced_once_its_files_exist(receiver: Receiver, tmp_path) -> None:
    with (
        start_in_thread(SandboxSettings(render="real")) as sandbox,
        httpx.Client(base_url=sandbox.url) as http,
    ):
        endpoint = register(http, f"{receiver.url}/hook", ["avatar_video.success"])
        video_id = create_v3(http, "Rendered, then announced.", callback_id="real-1")
        delivery = receiver.wait_for(1, timeout=30)[0]
        assert signed_by(delivery, endpoint["secret"])
        data = delivery.event["event_data"]
        assert data["video_id"] == video_id and data["callback_id"] == "real-1"
        mp4 = tmp_path / "video.mp4"
        mp4.write_bytes(http.get(data["url"]).content)
        facts = probe(mp4)
        assert (facts.video_codec, facts.audio_codec) == ("h264", "aac")
        status = http.get(f"/v3/videos/{video_id}").json()["data"]
        assert status["status"] == "completed" and status["duration"] == pytest.approx(
            facts.duration, abs=0.05
        )
        assert len(deliveries(http)) == 1
