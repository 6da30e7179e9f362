"""Several HeyGen accounts in one sandbox, one per API key, driven over HTTP.

Each account has its own private avatars and voice clones, credit, render slots, videos,
idempotency keys and webhook endpoints; the public library is shared.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.sandbox import SandboxSettings, settings_from_env, start_in_thread
from tests.test_sandbox_webhooks import Receiver, receiver, signed_by  # noqa: F401

ANGELA = "Angela-inTshirt-20220820"
NAMES = itertools.count(1)


@dataclass
class Account:
    """One account's key and a way to call the API with it."""

    http: httpx.Client
    key: str
    summary: dict[str, Any]

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"X-Api-Key": self.key, **kwargs.pop("headers", {})}
        return self.http.request(method, path, headers=headers, **kwargs)

    def create(self, script: str = "Hello.", avatar_id: str = ANGELA, **extra: Any) -> str:
        body = {"type": "avatar", "avatar_id": avatar_id, "script": script, **extra}
        answer = self.call("POST", "/v3/videos", json=body)
        assert answer.status_code == 200, answer.text
        return answer.json()["data"]["video_id"]

    def ids(self, path: str, field: str = "id") -> list[str]:
        answer = self.call("GET", path)
        assert answer.status_code == 200, answer.text
        return [row[field] for row in answer.json()["data"]]

    def balance(self) -> float:
        return self.call("GET", "/v3/users/me").json()["data"]["wallet"]["remaining_balance"]


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    settings = SandboxSettings(render="static", render_seconds=30, concurrency=100)
    with start_in_thread(settings) as sandbox, httpx.Client(base_url=sandbox.url) as client:
        yield client


def new_account(http: httpx.Client, **fields: Any) -> Account:
    """A fresh account with a key of its own (each test makes the ones it needs)."""
    key = f"key-{next(NAMES)}-never-shown"
    answer = http.post("/_sandbox/accounts", json={"api_key": key, **fields})
    assert answer.status_code == 201, answer.text
    assert key not in answer.text
    return Account(http, key, answer.json())


def error_code(answer: httpx.Response, status: int) -> str:
    assert answer.status_code == status, answer.text
    return answer.json()["error"]["code"]


def test_admin_route_creates_accounts_and_checks_what_it_is_given(http: httpx.Client) -> None:
    a = new_account(http, name="Workspace A", credit=10, private_avatars=3, concurrency=2)
    assert a.summary["name"] == "Workspace A" and a.summary["credit"] == 10
    assert a.summary["concurrency"] == 2 and a.summary["rendering"] == 0
    assert len(a.summary["private_avatars"]) == len(a.summary["private_voices"]) == 3
    me = a.call("GET", "/v3/users/me").json()["data"]
    assert me["username"] == "workspace-a" and me["first_name"] == "Workspace A"
    assert me["billing_type"] == "wallet" and me["wallet"]["remaining_balance"] == 10
    listed = http.get("/_sandbox/accounts").json()["accounts"]
    assert "Workspace A" in [row["name"] for row in listed]
    assert a.key not in str(listed)

    taken = http.post("/_sandbox/accounts", json={"api_key": a.key})
    assert taken.status_code == 409 and a.key not in taken.text
    same_name = http.post("/_sandbox/accounts", json={"api_key": "other", "name": "Workspace A"})
    assert same_name.status_code == 409
    for bad in (
        {},
        {"api_key": ""},
        {"api_key": "k x"},
        {"api_key": "k", "credit": -1},
        {"api_key": "k", "private_avatars": 5000},
        {"api_key": "k", "concurrency": 0},
        {"api_key": "k", "name": "../etc"},
    ):
        assert http.post("/_sandbox/accounts", json=bad).status_code == 400, bad
    default = http.post("/_sandbox/api_key", json={"api_key": a.key})
    assert default.status_code == 409  # the default account cannot take another's key


def test_unknown_or_missing_key_gets_heygens_401_once_accounts_exist(http: httpx.Client) -> None:
    new_account(http)
    unknown = http.get("/v3/users/me", headers={"X-Api-Key": "nobody"})
    assert error_code(unknown, 401) == "unauthorized"
    assert set(unknown.json()["error"]) == {"code", "message", "doc_url"}
    assert error_code(http.get("/v3/avatars/looks"), 401) == "unauthorized"
    v2 = http.get("/v2/avatars", headers={"X-Api-Key": "nobody"})
    assert v2.status_code == 401 and v2.json()["data"] is None


def test_private_catalogs_differ_and_the_public_library_is_shared(http: httpx.Client) -> None:
    a, b = new_account(http, private_avatars=2), new_account(http, private_avatars=1)
    a_private = a.ids("/v3/avatars/looks?ownership=private")
    b_private = b.ids("/v3/avatars/looks?ownership=private")
    assert a_private == a.summary["private_avatars"] and len(b_private) == 1
    assert not set(a_private) & set(b_private)
    assert a.ids("/v3/avatars/looks?ownership=public") == b.ids(
        "/v3/avatars/looks?ownership=public"
    )
    a_voices = a.ids("/v3/voices?type=private", "voice_id")
    assert a_voices == a.summary["private_voices"]
    assert not set(a_voices) & set(b.ids("/v3/voices?type=private", "voice_id"))
    v2_avatars = {
        row["avatar_id"] for row in b.call("GET", "/v2/avatars").json()["data"]["avatars"]
    }
    assert set(b_private) <= v2_avatars and not set(a_private) & v2_avatars

    look = a.call("GET", f"/v3/avatars/looks/{a_private[0]}").json()["data"]
    assert look["avatar_type"] == "digital_twin" and look["default_voice_id"] in a_voices
    assert http.get(look["preview_image_url"]).status_code == 200  # links carry no key
    assert a.create(avatar_id=a_private[0], voice_id=a_voices[0])
    assert error_code(b.call("GET", f"/v3/avatars/looks/{a_private[0]}"), 404) == "avatar_not_found"
    body = {"type": "avatar", "avatar_id": a_private[0], "script": "Not mine."}
    assert error_code(b.call("POST", "/v3/videos", json=body), 404) == "avatar_not_found"
    body = {"type": "avatar", "avatar_id": ANGELA, "script": "Hi.", "voice_id": a_voices[0]}
    assert error_code(b.call("POST", "/v3/videos", json=body), 404) == "voice_not_found"


def test_credit_is_per_account(http: httpx.Client) -> None:
    a, b = new_account(http, credit=50), new_account(http)
    before = b.balance()
    video_id = a.create("Twelve words of script so this video costs a little credit to make.")
    http.post(f"/_sandbox/videos/{video_id}/complete").raise_for_status()
    assert a.balance() < 50
    assert b.balance() == before
    quota = a.call("GET", "/v2/user/remaining_quota").json()["data"]["remaining_quota"]
    assert quota == int(a.balance() * 60) or abs(quota - a.balance() * 60) < 1

    broke = new_account(http, credit=0)
    assert broke.balance() == 0
    body = {"type": "avatar", "avatar_id": ANGELA, "script": "No money."}
    assert error_code(broke.call("POST", "/v3/videos", json=body), 402) == "insufficient_credit"
    assert b.create()  # another account's empty wallet is not this one's


def test_render_slots_are_per_account(http: httpx.Client) -> None:
    a, b = new_account(http, concurrency=1), new_account(http, concurrency=1)
    a.create("Taking the only slot [sandbox:stall]")
    body = {"type": "avatar", "avatar_id": ANGELA, "script": "Wait your turn."}
    full = a.call("POST", "/v3/videos", json=body)
    assert error_code(full, 429) == "rate_limit_exceeded" and full.headers["Retry-After"]
    assert b.create("B has a slot of its own [sandbox:stall]")
    summaries = {row["name"]: row for row in http.get("/_sandbox/accounts").json()["accounts"]}
    assert summaries[a.summary["name"]]["rendering"] == 1
    assert summaries[b.summary["name"]]["rendering"] == 1


def test_another_accounts_video_is_not_found(http: httpx.Client) -> None:
    a, b = new_account(http), new_account(http)
    video_id = a.create("Mine alone.")
    assert error_code(b.call("GET", f"/v3/videos/{video_id}"), 404) == "video_not_found"
    assert error_code(b.call("DELETE", f"/v3/videos/{video_id}"), 404) == "video_not_found"
    statuses = b.call("GET", f"/v3/videos/statuses?video_ids={video_id}").json()["data"]
    assert statuses == [{"video_id": video_id, "status": "not_found"}]
    v1 = b.call("GET", f"/v1/video_status.get?video_id={video_id}")
    assert error_code(v1, 404) == "video_not_found"
    assert b.call("DELETE", f"/v1/video.delete?video_id={video_id}").status_code == 404
    assert video_id not in b.ids("/v3/videos")
    v1_list = b.call("GET", "/v1/video.list").json()["data"]["videos"]
    assert video_id not in [row["video_id"] for row in v1_list]

    assert a.call("GET", f"/v3/videos/{video_id}").json()["data"]["status"] != "not_found"
    assert a.ids("/v3/videos") == [video_id]
    mine = http.get("/_sandbox/videos", params={"account": a.summary["name"]}).json()["videos"]
    assert [v["id"] for v in mine] == [video_id] and not mine[0]["deleted"]
    log = http.get("/_sandbox/requests").json()["requests"]
    assert {e["account"] for e in log if video_id in e["path"]} == {
        a.summary["name"],
        b.summary["name"],
    }


def test_idempotency_keys_are_per_account(http: httpx.Client) -> None:
    a, b = new_account(http), new_account(http)
    body = {"type": "avatar", "avatar_id": ANGELA, "script": "Once each."}
    headers = {"Idempotency-Key": "job-42"}
    first = a.call("POST", "/v3/videos", json=body, headers=headers)
    again = a.call("POST", "/v3/videos", json=body, headers=headers)
    other = b.call("POST", "/v3/videos", json=body, headers=headers)
    assert first.json() == again.json() and again.headers.get("idempotent-replayed") == "true"
    assert other.json()["data"]["video_id"] != first.json()["data"]["video_id"]
    assert "idempotent-replayed" not in other.headers


def test_webhooks_are_per_account_with_their_own_secrets(
    http: httpx.Client,
    receiver: Receiver,  # noqa: F811
) -> None:
    a, b = new_account(http), new_account(http)
    events = {"events": ["avatar_video.success"]}
    a_hook = a.call("POST", "/v3/webhooks/endpoints", json={"url": f"{receiver.url}/a", **events})
    b_hook = b.call("POST", "/v3/webhooks/endpoints", json={"url": f"{receiver.url}/b", **events})
    a_hook, b_hook = a_hook.json()["data"], b_hook.json()["data"]
    assert a_hook["secret"] != b_hook["secret"]
    assert a.ids("/v3/webhooks/endpoints", "endpoint_id") == [a_hook["endpoint_id"]]
    a_endpoint = f"/v3/webhooks/endpoints/{a_hook['endpoint_id']}"
    assert error_code(b.call("PATCH", a_endpoint, json={"status": "disabled"}), 404) == "not_found"
    assert error_code(b.call("POST", f"{a_endpoint}/rotate-secret"), 404) == "not_found"
    assert error_code(b.call("DELETE", a_endpoint), 404) == "not_found"

    a_video = a.create("For A's ears.", callback_url=f"{receiver.url}/a-callback")
    b_video = b.create("For B's ears.")
    for video_id in (a_video, b_video):
        http.post(f"/_sandbox/videos/{video_id}/complete").raise_for_status()
    receiver.wait_for(3)
    got = {(d.path, d.event["event_data"]["video_id"]): d for d in receiver.got}
    assert set(got) == {("/a", a_video), ("/a-callback", a_video), ("/b", b_video)}
    assert signed_by(got["/a", a_video], a_hook["secret"])
    assert not signed_by(got["/a", a_video], b_hook["secret"])
    assert signed_by(got["/b", b_video], b_hook["secret"])
    secrets = {
        row["name"]: row["callback_secret"]
        for row in http.get("/_sandbox/accounts").json()["accounts"]
    }
    assert signed_by(got["/a-callback", a_video], secrets[a.summary["name"]])
    assert secrets[a.summary["name"]] != secrets["default"]


def test_without_a_configured_key_every_key_is_the_one_default_account() -> None:
    with (
        start_in_thread(SandboxSettings(render="static")) as sandbox,
        httpx.Client(base_url=sandbox.url) as http,
    ):
        one = Account(http, "any-key", {})
        video_id = one.create()
        assert Account(http, "another-key", {}).ids("/v3/videos") == [video_id]
        assert http.get(f"/v3/videos/{video_id}").status_code == 200  # no key at all
        assert http.get("/_sandbox/info").json()["api_key_required"] is False
        assert one.call("GET", "/v3/avatars/looks?ownership=private").json()["data"] == []
        new_account(http)  # from now on only configured keys are accepted
        assert http.get("/_sandbox/info").json()["api_key_required"] is True
        assert error_code(one.call("GET", "/v3/videos"), 401) == "unauthorized"


def test_keys_from_settings_are_accounts_that_survive_a_restart(tmp_path: Path) -> None:
    env = {
        "SANDBOX_API_KEY": "k-default",
        "SANDBOX_API_KEYS": "k-one, k-two",
        "SANDBOX_RENDER": "static",
        "SANDBOX_STATE_PATH": str(tmp_path / "sandbox.db"),
    }
    settings = settings_from_env(env)
    assert settings.api_keys == ("k-one", "k-two") and "k-one" not in repr(settings)
    with start_in_thread(settings) as sandbox, httpx.Client(base_url=sandbox.url) as http:
        names = [row["name"] for row in http.get("/_sandbox/accounts").json()["accounts"]]
        assert names == ["default", "account-1", "account-2"]
        one = Account(http, "k-one", {})
        default = Account(http, "k-default", {})
        assert default.ids("/v3/avatars/looks?ownership=private") == []
        assert len(one.ids("/v3/avatars/looks?ownership=private")) == 2
        video_id = one.create()
        added = new_account(http, name="Added Later", private_avatars=1)
    with start_in_thread(settings) as sandbox, httpx.Client(base_url=sandbox.url) as http:
        names = [row["name"] for row in http.get("/_sandbox/accounts").json()["accounts"]]
        assert names == ["default", "account-1", "account-2", "Added Later"]
        assert Account(http, "k-one", {}).ids("/v3/videos") == [video_id]
        assert Account(http, "k-two", {}).ids("/v3/videos") == []
        again = Account(http, added.key, {})
        private = again.ids("/v3/avatars/looks?ownership=private")
        assert private == added.summary["private_avatars"]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SANDBOX_API_KEYS": "k1,k2,k1"}, "SANDBOX_API_KEYS lists the same key twice"),
        (
            {"SANDBOX_API_KEY": "k1", "SANDBOX_API_KEYS": "k2,k1"},
            "SANDBOX_API_KEYS repeats SANDBOX_API_KEY",
        ),
    ],
)
def test_repeated_keys_in_settings_are_refused_without_showing_them(
    env: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message) as refused:
        settings_from_env(env)
    assert "k1" not in str(refused.value)
