"""The fault plan: deterministic `next` rules, seeded rates, and each kind of fault."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from bot.sandbox import SandboxSettings, start_in_thread

V2_VOICE = "76955c80188a4c149df169b5dc9e1a3a"
V2_CREATE = {
    "video_inputs": [
        {
            "character": {"type": "avatar", "avatar_id": "Angela-inblackskirt-20220820"},
            "voice": {"type": "text", "input_text": "Lost?", "voice_id": V2_VOICE},
        }
    ]
}
CREATE = {"type": "avatar", "avatar_id": "Angela-inTshirt-20220820", "script": "Faulty?"}


@pytest.fixture(scope="module")
def sandbox_url() -> Iterator[str]:
    with start_in_thread(SandboxSettings(render="static", concurrency=100)) as sandbox:
        yield sandbox.url


@pytest.fixture
def client(sandbox_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox_url, timeout=5) as http:
        yield http
        http.delete("/_sandbox/faults").raise_for_status()


def plan(client: httpx.Client, **faults: object) -> dict:
    answer = client.post("/_sandbox/faults", json=faults)
    assert answer.status_code == 200, answer.text
    return answer.json()["faults"]


def videos(client: httpx.Client) -> int:
    return len(client.get("/_sandbox/videos").json()["videos"])


def test_next_rules_fire_in_order_then_stop(client: httpx.Client) -> None:
    plan(client, next=[{"path_prefix": "/v3/videos", "method": "POST", "fault": "500", "times": 2}])
    before = videos(client)
    assert client.get("/v3/voices").status_code == 200  # other paths are untouched
    for _ in range(2):
        failed = client.post("/v3/videos", json=CREATE)
        assert failed.status_code == 500
        assert failed.json()["error"]["code"] == "internal_error"
    assert client.post("/v3/videos", json=CREATE).status_code == 200
    assert videos(client) == before + 1
    assert client.get("/_sandbox/faults").json()["faults"]["next"] == []


def test_429_carries_retry_after_in_both_dialects(client: httpx.Client) -> None:
    plan(client, retry_after=3, next=[{"fault": "429", "times": 2}])
    v3 = client.get("/v3/voices")
    assert v3.status_code == 429 and v3.headers["Retry-After"] == "3"
    assert v3.json()["error"]["code"] == "rate_limit_exceeded"
    v2 = client.get("/v2/voices")
    assert v2.status_code == 429 and v2.json() == {
        "error": {"code": "rate_limit_exceeded", "message": v2.json()["error"]["message"]},
        "data": None,
    }


def test_reset_drops_the_connection(client: httpx.Client) -> None:
    plan(client, next=[{"path_prefix": "/v2/avatars", "fault": "reset"}])
    with pytest.raises(httpx.TransportError):
        client.get("/v2/avatars")
    assert client.get("/v2/avatars").status_code == 200


def test_timeout_holds_the_answer_but_does_the_work(client: httpx.Client) -> None:
    plan(client, timeout_seconds=0.6, next=[{"path_prefix": "/v3/videos", "fault": "timeout"}])
    before = videos(client)
    with pytest.raises(httpx.ReadTimeout):
        client.post("/v3/videos", json=CREATE, timeout=0.2)
    assert videos(client) == before + 1


def test_malformed_json_is_a_200_that_does_not_parse(client: httpx.Client) -> None:
    plan(client, next=[{"path_prefix": "/v3/videos", "method": "POST", "fault": "malformed_json"}])
    before = videos(client)
    broken = client.post("/v3/videos", json=CREATE)
    assert broken.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        broken.json()
    assert videos(client) == before  # nothing was created


def test_seeded_rates_repeat_and_respect_paths(client: httpx.Client) -> None:
    def run() -> list[int]:
        plan(client, rates={"500": 0.4, "503": 0.2}, paths=["/v2/avatars"], seed=7)
        codes = [client.get("/v2/avatars").status_code for _ in range(30)]
        assert all(client.get("/v2/voices").status_code == 200 for _ in range(5))
        return codes

    first = run()
    assert first == run()
    assert set(first) == {200, 500, 503}


def test_faults_show_in_the_request_log(client: httpx.Client) -> None:
    client.delete("/_sandbox/requests")
    plan(client, next=[{"fault": "502"}])
    assert client.get("/v3/voices").status_code == 502
    entry = client.get("/_sandbox/requests").json()["requests"][-1]
    assert entry["fault"] == "502" and entry["status"] == 502


def test_bad_plans_are_refused(client: httpx.Client) -> None:
    for bad in ({"rates": {"explode": 0.1}}, {"rates": {"500": 0.9, "429": 0.2}}, [1, 2]):
        assert client.post("/_sandbox/faults", json=bad).status_code == 400


def test_faults_from_settings_apply_from_the_start() -> None:
    settings = SandboxSettings(faults={"next": [{"path_prefix": "/v3/", "fault": "503"}]})
    with start_in_thread(settings) as sandbox, httpx.Client(base_url=sandbox.url) as http:
        assert http.get("/v3/voices").status_code == 503
        assert http.get("/v3/voices").status_code == 200


def test_errors_are_not_remembered_under_an_idempotency_key(client: httpx.Client) -> None:
    plan(client, next=[{"path_prefix": "/v3/videos", "method": "POST", "fault": "500"}])
    key = {"Idempotency-Key": "after-a-500"}
    assert client.post("/v3/videos", json=CREATE, headers=key).status_code == 500
    retried = client.post("/v3/videos", json=CREATE, headers=key)
    assert retried.status_code == 200 and "idempotent-replayed" not in retried.headers


def test_hang_holds_the_request_until_released(client: httpx.Client, sandbox_url: str) -> None:
    plan(client, next=[{"path_prefix": "/v3/videos", "method": "POST", "fault": "hang"}])
    before = videos(client)
    with ThreadPoolExecutor(1) as pool:
        held = pool.submit(httpx.post, f"{sandbox_url}/v3/videos", json=CREATE, timeout=30)
        for _ in range(200):
            if client.get("/_sandbox/faults").json()["held"] == 1:
                break
            time.sleep(0.02)
        assert client.get("/_sandbox/faults").json()["held"] == 1
        assert videos(client) == before  # not handled while it hangs
        assert not held.done()
        assert client.post("/_sandbox/faults/release").json() == {"released": 1}
        assert held.result(timeout=10).status_code == 200
    assert videos(client) == before + 1
    assert client.get("/_sandbox/faults").json()["held"] == 0


def test_lost_does_the_work_and_drops_the_answer(client: httpx.Client) -> None:
    plan(client, next=[{"path_prefix": "/v2/video/generate", "fault": "lost"}])
    before = videos(client)
    assert client.post("/v3/videos", json=CREATE).status_code == 200  # another path: untouched
    with pytest.raises(httpx.TransportError):
        client.post("/v2/video/generate", json=V2_CREATE)
    assert videos(client) == before + 2


def test_the_accepted_api_key_can_change_while_running() -> None:
    settings = SandboxSettings(render="static", api_key="old-key")
    with start_in_thread(settings) as box, httpx.Client(base_url=box.url, timeout=5) as http:
        assert http.get("/v3/voices", headers={"X-Api-Key": "old-key"}).status_code == 200
        answer = http.post("/_sandbox/api_key", json={"api_key": "new-key"})
        assert answer.json() == {"api_key_required": True}
        refused = http.get("/v3/voices", headers={"X-Api-Key": "old-key"})
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "unauthorized"
        assert http.get("/v2/voices", headers={"X-Api-Key": "new-key"}).status_code == 200
        assert http.post("/_sandbox/api_key", json={"api_key": 5}).status_code == 400


def test_a_rule_with_an_account_fails_only_that_accounts_requests() -> None:
    keys = ("sandbox-key-of-account-one", "sandbox-key-of-account-two")
    rule = {"path_prefix": "/v3/", "fault": "503", "account": "account-2"}
    with (
        start_in_thread(SandboxSettings(api_keys=keys)) as sandbox,
        httpx.Client(base_url=sandbox.url) as http,
    ):
        plan(http, next=[rule])
        assert http.get("/v3/voices", headers={"X-Api-Key": keys[0]}).status_code == 200
        assert http.get("/v3/voices", headers={"X-Api-Key": keys[1]}).status_code == 503
        assert http.get("/v3/voices", headers={"X-Api-Key": keys[1]}).status_code == 200
