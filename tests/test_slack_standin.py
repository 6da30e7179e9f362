"""Tests for the Slack test doubles, driven through the real slack_sdk and slack_bolt.

If the fake drifted from Slack, every app test built on it would be testing fiction; these pin
the fake to what slack_sdk sends/expects and what Bolt accepts from Slack.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import builtin_handlers
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook import WebhookClient

from bot.playground import inbound as sr
from bot.playground.block_kit import validate_blocks, validate_options
from bot.playground.web_api import SlackCall, SlackStandIn

BOT_TOKEN = sr.BOT_TOKEN
FAST = FixedValueRetryIntervalCalculator(0.01)


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def modal(title: str = "Make a video", **extra: Any) -> dict[str, Any]:
    return {"type": "modal", "title": {"type": "plain_text", "text": title}, "blocks": [], **extra}


@pytest.fixture
def fake() -> Iterator[SlackStandIn]:
    with SlackStandIn() as server:
        yield server
        assert server.internal_errors == []


@pytest.fixture
def client(fake: SlackStandIn) -> WebClient:
    """No retry handlers, so every fault surfaces instead of being retried after a sleep."""
    return WebClient(base_url=fake.url, token=BOT_TOKEN, retry_handlers=[])


@pytest.fixture
def no_jitter(monkeypatch: pytest.MonkeyPatch) -> None:
    """slack_sdk sleeps Retry-After + random(); pin the random part so tests stay fast."""
    monkeypatch.setattr(builtin_handlers.random, "random", lambda: 0.0)


def api_error(call: Any) -> SlackApiError:
    with pytest.raises(SlackApiError) as info:
        call()
    return info.value


# ----------------------------------------------------------------------------- Web API shapes


def test_auth_test_identifies_the_bot(client: WebClient) -> None:
    data = client.auth_test().data
    assert data == {
        "ok": True,
        "url": "https://fake-workspace.slack.com/",
        "team": "Fake Workspace",
        "user": "heygen",
        "team_id": "T0001",
        "user_id": "U0BOT",
        "bot_id": "B0001",
        "is_enterprise_install": False,
    }


def test_post_message_returns_slack_shape_with_increasing_ts(
    fake: SlackStandIn, client: WebClient
) -> None:
    metadata = {"event_type": "video_job", "event_payload": {"job_id": "j1"}}
    first = client.chat_postMessage(
        channel="C0CHAN", text="hello", blocks=[section("*hi*")], metadata=metadata
    )
    second = client.chat_postMessage(channel="C0CHAN", text="reply", thread_ts=first["ts"])

    assert first["ok"] and first["channel"] == "C0CHAN"
    assert abs(float(first["ts"]) - time.time()) < 60  # Slack ts are posting times
    assert float(second["ts"]) > float(first["ts"])
    message = first["message"]
    assert message["text"] == "hello" and message["user"] == "U0BOT"
    assert message["bot_id"] == "B0001" and message["ts"] == first["ts"]
    assert message["metadata"] == metadata
    assert message["blocks"][0]["block_id"]  # Slack fills in missing block ids
    assert second["message"]["thread_ts"] == first["ts"]
    assert [m["text"] for m in fake.thread_replies("C0CHAN", first["ts"])] == ["reply"]
    assert fake.calls_to("chat.postMessage")[0].params["metadata"] == metadata


def test_update_changes_stored_message_and_keeps_omitted_fields(
    fake: SlackStandIn, client: WebClient
) -> None:
    posted = client.chat_postMessage(channel="C0CHAN", text="working…", blocks=[section("a")])
    updated = client.chat_update(channel="C0CHAN", ts=posted["ts"], text="done")

    assert updated["ok"] and updated["ts"] == posted["ts"] and updated["text"] == "done"
    assert updated["message"]["edited"]["user"] == "U0BOT"
    [stored] = fake.messages("C0CHAN")
    assert stored["text"] == "done" and stored["blocks"][0]["text"]["text"] == "a"
    assert stored["thread_ts"] is None and stored["metadata"] is None


def test_update_needs_existing_message(client: WebClient) -> None:
    err = api_error(lambda: client.chat_update(channel="C0CHAN", ts="1.000001", text="x"))
    assert err.response["error"] == "message_not_found"
    err = api_error(lambda: client.chat_update(channel="", ts="1.000001", text="x"))
    assert err.response["error"] == "channel_not_found"


def test_ephemeral_and_permalink(fake: SlackStandIn, client: WebClient) -> None:
    eph = client.chat_postEphemeral(channel="C0CHAN", user="U0USER", text="only you")
    assert eph.data == {"ok": True, "message_ts": eph["message_ts"]}
    assert fake.ephemerals[0]["text"] == "only you" and fake.messages() == []

    parent = client.chat_postMessage(channel="C0CHAN", text="p")
    reply = client.chat_postMessage(channel="C0CHAN", text="r", thread_ts=parent["ts"])
    link = client.chat_getPermalink(channel="C0CHAN", message_ts=reply["ts"])["permalink"]
    assert link.startswith("https://fake-workspace.slack.com/archives/C0CHAN/p")
    assert f"thread_ts={parent['ts']}" in link


def test_posting_to_a_user_id_lands_in_the_dm(client: WebClient) -> None:
    opened = client.conversations_open(users="U0USER")
    posted = client.chat_postMessage(channel="U0USER", text="hi")
    assert opened["channel"]["id"] == posted["channel"] == "D0USER"
    assert client.conversations_open(users="U0USER")["already_open"] is True


def test_replies_include_metadata_only_when_asked(client: WebClient) -> None:
    metadata = {"event_type": "video_job", "event_payload": {"job_id": "j1"}}
    parent = client.chat_postMessage(channel="C0CHAN", text="p", metadata=metadata)
    client.chat_postMessage(channel="C0CHAN", text="r", thread_ts=parent["ts"], metadata=metadata)

    plain = client.conversations_replies(channel="C0CHAN", ts=parent["ts"])["messages"]
    rich = client.conversations_replies(
        channel="C0CHAN", ts=parent["ts"], include_all_metadata=True
    )["messages"]
    assert [m["text"] for m in plain] == ["p", "r"]
    assert all("metadata" not in m for m in plain)
    assert [m["metadata"] for m in rich] == [metadata, metadata]
    assert rich[0]["reply_count"] == 1


def test_directory_methods(client: WebClient) -> None:
    assert client.conversations_info(channel="C0CHAN")["channel"]["name"] == "general"
    user = client.users_info(user="U0USER")["user"]
    assert user["id"] == "U0USER" and user["profile"]["display_name"] == "alice"
    assert client.team_info()["team"]["domain"] == "fake-workspace"
    assert client.bots_info(bot="B0001")["bot"]["user_id"] == "U0BOT"
    assert api_error(lambda: client.users_info(user="nobody")).response["error"] == (
        "user_not_found"
    )


# ----------------------------------------------------------------------------- validation


LONG_HEADER = {"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}
LONG_CONTEXT = {"type": "context", "elements": [{"type": "mrkdwn", "text": "c" * 3001}]}


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"text": "x", "blocks": [section("b")] * 51}, "invalid_blocks"),
        ({"text": "x", "blocks": [section("b" * 3001)]}, "invalid_blocks"),
        ({"text": "x", "blocks": [section("")]}, "invalid_blocks"),
        ({"text": "x", "blocks": [LONG_HEADER]}, "invalid_blocks"),
        ({"text": "x", "blocks": [LONG_CONTEXT]}, "invalid_blocks"),
        ({"text": "x", "blocks": [{"type": "sektion"}]}, "invalid_blocks"),
        ({"text": "x", "blocks": ["not an object"]}, "invalid_blocks_format"),
        ({}, "no_text"),
        ({"text": "x" * 40_001}, "msg_too_long"),
        ({"text": "x", "metadata": {"event_payload": {}}}, "invalid_metadata_schema"),
    ],
)
def test_post_message_validation(client: WebClient, kwargs: dict[str, Any], error: str) -> None:
    err = api_error(lambda: client.chat_postMessage(channel="C0CHAN", **kwargs))
    assert err.response.status_code == 200
    assert err.response["error"] == error


def test_invalid_blocks_points_at_the_offending_field(client: WebClient) -> None:
    err = api_error(lambda: client.chat_postMessage(channel="C0CHAN", blocks=[section("b" * 3001)]))
    assert err.response["errors"] == [
        "must be less than 3001 characters [json-pointer:/blocks/0/text/text]"
    ]
    assert err.response["response_metadata"]["messages"][0].startswith("[ERROR] must be less")


def test_element_rules_that_commonly_bite() -> None:
    option = {"text": {"type": "plain_text", "text": "Ann"}, "value": "ann"}
    select = {"type": "static_select", "action_id": "a", "options": [option]}
    stray = {**select, "initial_option": {**option, "value": "bob"}}
    number = {"type": "number_input", "action_id": "n"}
    assert validate_blocks([{"type": "actions", "elements": [select]}]) == []
    assert validate_blocks([{"type": "actions", "elements": [stray]}]) == [
        "must match one of the provided options [json-pointer:/blocks/0/elements/0/initial_option]"
    ]
    input_block = {"type": "input", "label": {"type": "plain_text", "text": "n"}}
    assert validate_blocks([{**input_block, "element": number}]) == [
        "missing required field: is_decimal_allowed [json-pointer:/blocks/0/element]"
    ]
    assert validate_options({"options": [option] * 100}) == []
    long_option = {"text": {"type": "plain_text", "text": "x" * 76}, "value": "v"}
    assert validate_options({"options": [long_option]}) == [
        "must be less than 76 characters [json-pointer:/options/0/text/text]"
    ]
    assert validate_options({"options": [option] * 101})


def test_not_in_channel_and_unknown_channel(fake: SlackStandIn, client: WebClient) -> None:
    fake.not_in_channel.add("C0PUBLIC")
    assert client.chat_postMessage(channel="C0PUBLIC", text="x")["ok"]  # chat:write.public
    fake.scopes.discard("chat:write.public")
    err = api_error(lambda: client.chat_postMessage(channel="C0PUBLIC", text="x"))
    assert err.response["error"] == "not_in_channel"
    err = api_error(lambda: client.chat_postMessage(channel="#nope", text="x"))
    assert err.response["error"] == "channel_not_found"


def test_reads_need_membership_and_scope_as_in_slack(fake: SlackStandIn, client: WebClient) -> None:
    """Slack refuses history/replies outside the bot's conversations; posting is another rule."""
    fake.not_in_channel.update({"C0PUBLIC", "G0PRIVATE"})
    posted = client.chat_postMessage(channel="C0PUBLIC", text="x")
    for read in (
        lambda c: client.conversations_history(channel=c),
        lambda c: client.conversations_replies(channel=c, ts=posted["ts"]),
    ):
        assert api_error(lambda r=read: r("C0PUBLIC")).response["error"] == "not_in_channel"
        assert api_error(lambda r=read: r("G0PRIVATE")).response["error"] == "channel_not_found"
    err = api_error(lambda: client.chat_postMessage(channel="G0PRIVATE", text="x"))
    assert err.response["error"] == "channel_not_found"
    joined = client.conversations_join(channel="C0PUBLIC")
    assert joined["channel"]["is_member"] and "warning" not in joined
    assert client.conversations_join(channel="C0PUBLIC")["warning"] == "already_in_channel"
    assert client.conversations_history(channel="C0PUBLIC")["messages"]
    err = api_error(lambda: client.conversations_join(channel="G0PRIVATE"))
    assert err.response["error"] == "channel_not_found"
    fake.scopes.discard("channels:history")
    err = api_error(lambda: client.conversations_history(channel="C0PUBLIC"))
    assert (err.response["error"], err.response["needed"]) == ("missing_scope", "channels:history")
    fake.scopes.discard("channels:join")
    err = api_error(lambda: client.conversations_join(channel="C0OTHER"))
    assert err.response["error"] == "missing_scope"


def test_revoked_token_answers_every_call_until_restored(
    fake: SlackStandIn, client: WebClient
) -> None:
    fake.revoke_token("account_inactive")
    assert api_error(lambda: client.auth_test()).response["error"] == "account_inactive"
    err = api_error(lambda: client.chat_postMessage(channel="C0CHAN", text="x"))
    assert err.response["error"] == "account_inactive"
    fake.restore_token()
    assert client.auth_test()["ok"]


def test_hold_keeps_a_call_waiting_until_released(fake: SlackStandIn, client: WebClient) -> None:
    hold = fake.hold("chat.postMessage", where=lambda p: p.get("channel") == "C0SLOW")
    done = threading.Event()
    worker = threading.Thread(
        target=lambda: (client.chat_postMessage(channel="C0SLOW", text="x"), done.set())
    )
    worker.start()
    assert hold.arrived.wait(5)
    assert client.chat_postMessage(channel="C0FAST", text="y")["ok"]  # others are not held
    assert not done.is_set()
    hold.release()
    worker.join(5)
    assert done.is_set()


def test_form_encoded_json_fields_are_decoded(fake: SlackStandIn, client: WebClient) -> None:
    """Some callers send blocks as a JSON string in a form field; Slack (and the fake) decode it."""
    blocks = [section("form")]
    client.api_call(
        "chat.postMessage", params={"channel": "C0CHAN", "text": "t", "blocks": json.dumps(blocks)}
    )
    call = fake.calls_to("chat.postMessage")[0]
    assert call.headers["content-type"] == "application/x-www-form-urlencoded"
    assert call.params["blocks"] == blocks and "token" not in call.params


INPUT_BLOCK = {
    "type": "input",
    "label": {"type": "plain_text", "text": "Script"},
    "element": {"type": "plain_text_input"},
}


@pytest.mark.parametrize(
    ("view", "message"),
    [
        (modal("t" * 25), "must be less than 25 characters [json-pointer:/view/title/text]"),
        (modal(blocks=[section("b")] * 101), "no more than 100 items allowed"),
        (modal(submit={"type": "plain_text", "text": "s" * 25}), "/view/submit/text"),
        ({"type": "home", "blocks": []}, "/view/type"),
        (modal(blocks=[INPUT_BLOCK]), "submit is required"),
    ],
)
def test_views_open_validation(client: WebClient, view: dict[str, Any], message: str) -> None:
    err = api_error(lambda: client.views_open(trigger_id=sr.new_trigger_id(), view=view))
    assert err.response["error"] == "invalid_arguments"
    assert any(message in m for m in err.response["response_metadata"]["messages"])


def test_views_open_needs_a_fresh_single_use_trigger(fake: SlackStandIn, client: WebClient) -> None:
    assert api_error(lambda: client.views_open(trigger_id="", view=modal())).response["error"] == (
        "invalid_arguments"
    )
    trigger = sr.new_trigger_id()
    assert client.views_open(trigger_id=trigger, view=modal())["ok"]
    err = api_error(lambda: client.views_open(trigger_id=trigger, view=modal()))
    assert err.response["error"] == "exchanged_trigger_id"
    stale = f"{int((time.time() - 4) * 1000)}.1.abc123"
    err = api_error(lambda: client.views_open(trigger_id=stale, view=modal()))
    assert err.response["error"] == "expired_trigger_id"
    err = api_error(lambda: client.views_open(trigger_id="bogus", view=modal()))
    assert err.response["error"] == "invalid_trigger_id"


def test_views_echo_and_hash_conflict(fake: SlackStandIn, client: WebClient) -> None:
    opened = client.views_open(
        trigger_id=sr.new_trigger_id(),
        view=modal(callback_id="make_video", private_metadata='{"c":"C0CHAN"}'),
    )["view"]
    assert opened["id"].startswith("V") and opened["hash"]
    assert opened["callback_id"] == "make_video" and opened["state"] == {"values": {}}
    assert opened["title"] == {"type": "plain_text", "text": "Make a video", "emoji": True}

    updated = client.views_update(view_id=opened["id"], hash=opened["hash"], view=modal("Step 2"))
    assert updated["view"]["id"] == opened["id"] and updated["view"]["hash"] != opened["hash"]
    err = api_error(
        lambda: client.views_update(view_id=opened["id"], hash=opened["hash"], view=modal())
    )
    assert err.response["error"] == "hash_conflict"
    assert fake.views[0]["title"]["text"] == "Step 2"

    home = client.views_publish(user_id="U0USER", view={"type": "home", "blocks": []})
    assert home["view"]["type"] == "home"
    pushed = client.views_push(trigger_id=sr.new_trigger_id(), view=modal("Pushed"))
    assert pushed["view"]["id"] != opened["id"]


# ----------------------------------------------------------------------------- auth / routing


def test_auth_failures_and_unknown_methods(fake: SlackStandIn) -> None:
    anon = WebClient(base_url=fake.url, retry_handlers=[])
    assert api_error(anon.auth_test).response["error"] == "not_authed"
    bad = WebClient(base_url=fake.url, token="xoxb-wrong", retry_handlers=[])
    assert api_error(bad.auth_test).response["error"] == "invalid_auth"
    good = WebClient(base_url=fake.url, token=BOT_TOKEN, retry_handlers=[])
    assert api_error(lambda: good.api_call("no.such")).response["error"] == "unknown_method"
    err = api_error(lambda: good.files_upload(content=b"x", filename="a.txt", channels="C0CHAN"))
    assert err.response["error"] == "method_deprecated"


# ----------------------------------------------------------------------------- files


def test_files_upload_v2_end_to_end(fake: SlackStandIn, client: WebClient) -> None:
    parent = client.chat_postMessage(channel="C0CHAN", text="rendering")
    video = b"\x00\x00\x00\x18ftypmp42" + b"\x01" * 1000
    result = client.files_upload_v2(
        channel="C0CHAN",
        content=video,
        filename="avatar.mp4",
        title="Your video",
        initial_comment="Here it is",
        thread_ts=parent["ts"],
    )

    assert result["file"]["name"] == "avatar.mp4" and result["file"]["mimetype"] == "video/mp4"
    [record] = fake.files
    assert record["size"] == record["length"] == len(video) and record["data"] == video
    assert record["channel_id"] == "C0CHAN" and record["thread_ts"] == parent["ts"]
    assert record["initial_comment"] == "Here it is" and record["title"] == "Your video"
    [share] = fake.thread_replies("C0CHAN", parent["ts"])
    assert share["files"][0]["id"] == record["id"] and share["text"] == "Here it is"
    assert [c.method for c in fake.calls][-3:] == [
        "files.getUploadURLExternal",
        "upload",
        "files.completeUploadExternal",
    ]


def test_complete_upload_rejects_unknown_files(client: WebClient) -> None:
    err = api_error(lambda: client.files_completeUploadExternal(files=[{"id": "F0NOPE"}]))
    assert err.response["error"] == "file_not_found"


def test_upload_bytes_must_match_the_declared_length(fake: SlackStandIn, client: WebClient) -> None:
    url = client.files_getUploadURLExternal(filename="v.mp4", length=10)
    short = httpx.post(url["upload_url"], content=b"x" * 9)
    assert short.status_code == 400 and "length mismatch" in short.text
    err = api_error(lambda: client.files_completeUploadExternal(files=[{"id": url["file_id"]}]))
    assert err.response["error"] == "file_not_found"  # nothing was kept
    assert httpx.post(url["upload_url"], content=b"x" * 10).text == "OK - 10"


def test_upload_needs_files_write(fake: SlackStandIn, client: WebClient) -> None:
    url = client.files_getUploadURLExternal(filename="v.mp4", length=3)
    httpx.post(url["upload_url"], content=b"abc").raise_for_status()
    fake.scopes.discard("files:write")
    for call in (
        lambda: client.files_getUploadURLExternal(filename="v.mp4", length=3),
        lambda: client.files_completeUploadExternal(files=[{"id": url["file_id"]}]),
    ):
        err = api_error(call)
        assert err.response["error"] == "missing_scope"
        assert err.response["needed"] == "files:write"
        headers = {k.lower(): v for k, v in err.response.headers.items()}
        assert "files:write" not in headers["x-oauth-scopes"]
    assert fake.files[0]["completed"] is False


def test_slow_next_answers_late_after_doing_the_work(fake: SlackStandIn) -> None:
    client = WebClient(token=sr.BOT_TOKEN, base_url=fake.url)
    url = client.files_getUploadURLExternal(filename="v.mp4", length=3)
    fake.slow_next("upload", 2.0)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(url["upload_url"], content=b"abc", timeout=0.3)
    assert fake.files[0]["data"] == b"abc"  # Slack has the bytes; the client never heard


# ----------------------------------------------------------------------------- faults


def test_ratelimited_carries_retry_after(fake: SlackStandIn, client: WebClient) -> None:
    fake.fail_next("chat.postMessage", error="ratelimited", status=429, retry_after=7)
    err = api_error(lambda: client.chat_postMessage(channel="C0CHAN", text="x"))
    assert err.response.status_code == 429
    assert err.response.headers["Retry-After"] == "7"
    assert err.response["error"] == "ratelimited"
    assert client.chat_postMessage(channel="C0CHAN", text="x")["ok"]  # only `times` calls fail


def test_rate_limit_retry_handler_retries(fake: SlackStandIn, no_jitter: None) -> None:
    fake.fail_next("chat.postMessage", retry_after=0, times=2)
    retrying = WebClient(
        base_url=fake.url,
        token=BOT_TOKEN,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)],
    )
    assert retrying.chat_postMessage(channel="C0CHAN", text="x")["ok"]
    assert [c.status for c in fake.calls_to("chat.postMessage")] == [429, 429, 200]
    assert len(fake.messages()) == 1


def test_server_errors_and_dropped_connections(fake: SlackStandIn, client: WebClient) -> None:
    fake.fail_next("chat.postMessage", status=500, times=2)
    retrying = WebClient(
        base_url=fake.url,
        token=BOT_TOKEN,
        retry_handlers=[
            ServerErrorRetryHandler(max_retry_count=2, interval_calculator=FAST),
            ConnectionErrorRetryHandler(max_retry_count=1, interval_calculator=FAST),
        ],
    )
    assert retrying.chat_postMessage(channel="C0CHAN", text="x")["ok"]

    fake.fail_next("auth.test", drop_connection=True)
    with pytest.raises(OSError):  # URLError / RemoteDisconnected are both OSErrors
        client.auth_test()
    fake.fail_next("auth.test", drop_connection=True)
    assert retrying.auth_test()["ok"]
    statuses = [(c.method, c.status, c.response is None) for c in fake.calls]
    assert statuses.count(("chat.postMessage", 500, False)) == 2
    assert statuses.count(("auth.test", 0, True)) == 2


def test_fault_rates_are_reproducible_with_a_seed(fake: SlackStandIn) -> None:
    def run() -> list[int]:
        fake.set_fault_rates({"auth.test": {"ratelimited": 0.3, "500": 0.2}}, seed=42)
        headers = {"Authorization": f"Bearer {BOT_TOKEN}"}
        with httpx.Client(base_url=fake.url, headers=headers) as http:
            return [http.post("auth.test").status_code for _ in range(30)]

    first = run()
    assert first == run()
    assert {200, 429, 500} == set(first)
    fake.set_fault_rates({})
    assert WebClient(base_url=fake.url, token=BOT_TOKEN).auth_test()["ok"]


# ----------------------------------------------------------------------------- waiting / reset


def test_wait_for_sees_calls_from_other_threads(fake: SlackStandIn, client: WebClient) -> None:
    def later() -> None:
        time.sleep(0.05)
        client.chat_postMessage(channel="C0CHAN", text="a")
        client.chat_postMessage(channel="C0CHAN", text="done")

    threading.Thread(target=later).start()
    calls = fake.wait_for("chat.postMessage", lambda c: c.params["text"] == "done", timeout=5)
    assert isinstance(calls[0], SlackCall) and calls[0].ok

    with pytest.raises(AssertionError, match=r"(?s)chat\.update.*chat\.postMessage"):
        fake.wait_for("chat.update", timeout=0.1)

    fake.reset()
    assert fake.calls == [] and fake.messages() == []


# ----------------------------------------------------------------------------- async client


def test_async_client_against_the_fake(fake: SlackStandIn, no_jitter: None) -> None:
    async def scenario() -> None:
        client = AsyncWebClient(
            base_url=fake.url,
            token=BOT_TOKEN,
            retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)],
        )
        fake.fail_next("chat.postMessage", retry_after=0)
        posted = await client.chat_postMessage(channel="C0CHAN", text="hi")
        info = await client.conversations_info(channel="C0CHAN")  # sent as GET + query string
        uploaded = await client.files_upload_v2(
            channel="C0CHAN", content=b"abc", filename="v.mp4", thread_ts=posted["ts"]
        )
        await fake.async_wait_for("files.completeUploadExternal", timeout=2)
        assert info["channel"]["id"] == "C0CHAN" and uploaded["file"]["size"] == 3

    asyncio.run(scenario())
    assert [c.status for c in fake.calls_to("chat.postMessage")] == [429, 200]
    assert fake.files[0]["size"] == 3


# ----------------------------------------------------------------------------- signed requests


ALL_REQUESTS = {
    "slash_command": lambda: sr.slash_command("make a video"),
    "block_suggestion": lambda: sr.block_suggestion("avatar", "avatar_block", "ann"),
    "view_submission": lambda: sr.view_submission("make_video", {"b": {"a": {"type": "x"}}}),
    "block_actions": lambda: sr.block_actions(
        [{"type": "button", "action_id": "retry", "block_id": "b", "value": "1"}],
        channel_id="C0CHAN",
        message={"ts": "1700000000.000100", "text": "t"},
    ),
    "shortcut": lambda: sr.shortcut("new_video"),
    "message_shortcut": lambda: sr.message_shortcut(
        "video_from_message", {"ts": "1700000000.000100", "text": "t", "user": "U0USER"}, "C0CHAN"
    ),
    "event_callback": lambda: sr.app_home_opened(),
    "url_verification": lambda: sr.url_verification("chal"),
}


@pytest.mark.parametrize("build", ALL_REQUESTS.values(), ids=ALL_REQUESTS.keys())
def test_signatures_verify_with_slack_sdk(build: Any) -> None:
    request = build()
    verifier = SignatureVerifier(sr.SIGNING_SECRET)
    assert verifier.is_valid_request(request.body, request.headers)
    assert not SignatureVerifier("other").is_valid_request(request.body, request.headers)
    stale = request.resigned(timestamp=time.time() - 600)
    assert not verifier.is_valid_request(stale.body, stale.headers)


def test_sign_matches_slack_docs_example() -> None:
    """The worked example from api.slack.com/authentication/verifying-requests-from-slack."""
    body = (
        "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow"
        "&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner"
        "&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands"
        "%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
        "&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    headers = sr.sign(body, "8f742231b10e8888abcd99yyyzzz85a5", timestamp=1531420618)
    expected = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    assert headers == {"X-Slack-Request-Timestamp": "1531420618", "X-Slack-Signature": expected}


def test_payload_shapes() -> None:
    command = sr.slash_command("hello", channel_id="C0CHAN", slack_url="http://127.0.0.1:1/api/")
    assert command.headers["Content-Type"] == "application/x-www-form-urlencoded"
    fields = command.payload
    assert fields["command"] == "/heygen" and fields["text"] == "hello"
    assert fields["team_id"] == "T0001" and fields["user_id"] == "U0USER"
    assert fields["response_url"].startswith("http://127.0.0.1:1/commands/T0001/C0CHAN/")
    assert "enterprise_id" not in fields and fields["is_enterprise_install"] == "false"

    submission = sr.view_submission(
        "make_video", {"script": {"input": {"type": "plain_text_input", "value": "Hi"}}}
    ).payload
    assert submission["type"] == "view_submission" and submission["enterprise"] is None
    assert submission["view"]["state"]["values"]["script"]["input"]["value"] == "Hi"

    event = sr.event_callback({"type": "app_home_opened", "user": "U0USER"}, retry_num=1)
    assert event.headers["X-Slack-Retry-Num"] == "1"
    assert event.payload["authorizations"][0]["enterprise_id"] is None


def test_bolt_accepts_and_routes_every_request_kind(fake: SlackStandIn) -> None:
    """Bolt's own verification and routing is the arbiter of a realistic payload."""
    seen: list[str] = []
    app = App(
        signing_secret=sr.SIGNING_SECRET,
        client=WebClient(base_url=fake.url, token=BOT_TOKEN),
        process_before_response=True,
    )

    @app.command("/heygen")
    def on_command(ack: Any, respond: Any, command: dict[str, Any]) -> None:
        ack()
        respond(text=f"got {command['text']}", response_type="in_channel")
        seen.append("command")

    app.options("avatar")(lambda ack: (ack(options=[]), seen.append("options")))
    app.view("make_video")(lambda ack: (ack(), seen.append("view")))
    app.action("retry")(lambda ack: (ack(), seen.append("action")))
    app.shortcut("new_video")(lambda ack: (ack(), seen.append("shortcut")))
    app.shortcut("video_from_message")(lambda ack: (ack(), seen.append("message_shortcut")))
    app.event("app_home_opened")(lambda: seen.append("event"))

    wsgi = httpx.WSGITransport(app=SlackRequestHandler(app))
    with httpx.Client(transport=wsgi, base_url="http://app.test") as http:
        requests = {
            **ALL_REQUESTS,
            "slash_command": lambda: sr.slash_command("make a video", slack_url=fake.url),
        }
        for name, build in requests.items():
            response = sr.send(http, build())
            assert response.status_code == 200, (name, response.text)
        assert sr.send(http, ALL_REQUESTS["shortcut"]().resigned("wrong")).status_code == 401
        assert sr.send(http, sr.url_verification("xyz")).json() == {"challenge": "xyz"}

    assert seen == ["command", "options", "view", "action", "shortcut", "message_shortcut", "event"]
    [posted] = fake.messages("C0CHAN")
    assert posted["text"] == "got make a video"


def test_response_url_roundtrip(fake: SlackStandIn, client: WebClient) -> None:
    posted = client.chat_postMessage(channel="C0CHAN", text="old", blocks=[section("old")])
    action = sr.block_actions(
        [{"type": "button", "action_id": "retry", "value": "1"}],
        channel_id="C0CHAN",
        message=posted["message"],
        slack_url=fake.url,
    )
    url = action.payload["response_url"]
    assert WebhookClient(url).send(text="new", replace_original=True).status_code == 200
    assert fake.messages("C0CHAN")[0]["text"] == "new"
    assert WebhookClient(url).send(delete_original=True).status_code == 200
    assert fake.messages("C0CHAN") == []
    assert fake.calls_to("response_url")[0].params["replace_original"] is True


def test_concurrent_posts_get_unique_ts(fake: SlackStandIn) -> None:
    client = WebClient(base_url=fake.url, token=BOT_TOKEN)
    threads = [
        threading.Thread(target=client.chat_postMessage, kwargs={"channel": "C0CHAN", "text": "x"})
        for _ in range(20)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({m["ts"] for m in fake.messages("C0CHAN")}) == 20


def test_stop_cuts_off_keep_alive_clients() -> None:
    fake = SlackStandIn()
    with httpx.Client(base_url=fake.url) as http:
        assert http.post("auth.test").json()["error"] == "not_authed"
        fake.stop()
        with pytest.raises(httpx.TransportError):
            http.post("auth.test")
    fake.stop()  # idempotent


# ----------------------------------------------------------------------------- many workspaces

CLIENT_ID = "1111.2222"
CLIENT_SECRET = "s3cret"
REDIRECT = "https://bot.example/slack/oauth_redirect"


@pytest.fixture
def beta(fake: SlackStandIn) -> WebClient:
    """A second workspace, T0002, with one person and one channel, installed directly."""
    fake.add_team("T0002", "Beta Co")
    fake.add_person("T0002", "U0BEA", "bea")
    fake.add_channel("T0002", "C0BETA", "beta-general")
    token = fake.install("T0002")["access_token"]
    return WebClient(base_url=fake.url, token=token, retry_handlers=[])


def authorize(fake: SlackStandIn, **params: str) -> httpx.Response:
    """The person's browser at Slack's install page (no redirect followed)."""
    query = {"client_id": CLIENT_ID, "scope": "chat:write,commands", "state": "st8"}
    query |= {"redirect_uri": REDIRECT, **params}
    return httpx.get(f"{fake.root_url}/oauth/v2/authorize", params=query)


def code_from(response: httpx.Response, redirect: str = REDIRECT) -> str:
    assert response.status_code == 302, response.text
    location = httpx.URL(response.headers["location"])
    assert str(location).startswith(redirect) and location.params["state"] == "st8"
    return location.params["code"]


def scopes_header(response: Any) -> str:
    return {k.lower(): v for k, v in response.headers.items()}["x-oauth-scopes"]


def test_two_teams_are_isolated(fake: SlackStandIn, client: WebClient, beta: WebClient) -> None:
    assert beta.auth_test()["team_id"] == "T0002" and beta.auth_test()["user_id"] == "U0002BOT"
    posted = beta.chat_postMessage(channel="C0BETA", text="hi beta")
    assert posted["message"]["bot_id"] == "B0002" and posted["message"]["team"] == "T0002"
    assert [m["text"] for m in fake.messages("C0BETA")] == ["hi beta"]
    assert fake.workspaces["T0002"].messages and fake.workspace.messages == {}

    for call, error in [
        (lambda: beta.chat_postMessage(channel="C0CHAN", text="x"), "channel_not_found"),
        (lambda: beta.users_info(user="U0USER"), "user_not_found"),
        (lambda: beta.chat_postMessage(channel="D0USER", text="x"), "channel_not_found"),
        (lambda: client.chat_postMessage(channel="C0BETA", text="x"), "channel_not_found"),
        (lambda: client.conversations_info(channel="C0BETA"), "channel_not_found"),
        (lambda: client.users_info(user="U0BEA"), "user_not_found"),
    ]:
        assert api_error(call).response["error"] == error
    assert beta.users_info(user="U0BEA")["user"]["team_id"] == "T0002"
    assert client.auth_test()["team_id"] == "T0001"  # the default team is untouched


def test_a_teams_scopes_are_its_own(fake: SlackStandIn, client: WebClient) -> None:
    fake.add_team("T0002", "Beta Co")
    token = fake.install("T0002", scopes=["chat:write"])["access_token"]
    beta = WebClient(base_url=fake.url, token=token, retry_handlers=[])
    assert scopes_header(beta.auth_test()) == "chat:write"
    err = api_error(lambda: beta.files_getUploadURLExternal(filename="v.mp4", length=3))
    assert err.response["error"] == "missing_scope"
    assert client.files_getUploadURLExternal(filename="v.mp4", length=3)["ok"]


def test_oauth_code_exchange(fake: SlackStandIn) -> None:
    fake.add_team("T0002", "Beta Co")
    fake.add_person("T0002", "U0BEA", "bea")
    fake.register_app(CLIENT_ID, CLIENT_SECRET, REDIRECT, user_scopes=["search:read"])
    code = code_from(authorize(fake, team="T0002", user_scope="search:read"))

    async def exchange() -> dict[str, Any]:
        oauth = AsyncWebClient(base_url=fake.url)
        answer = await oauth.oauth_v2_access(
            client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=code, redirect_uri=REDIRECT
        )
        with pytest.raises(SlackApiError, match="invalid_code"):  # codes are single-use
            await oauth.oauth_v2_access(
                client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=code, redirect_uri=REDIRECT
            )
        return answer.data  # type: ignore[return-value]

    body = asyncio.run(exchange())
    token = body.pop("access_token")
    user_token = body["authed_user"].pop("access_token")
    assert token.startswith("xoxb-") and user_token.startswith("xoxp-")
    assert body == {
        "ok": True,
        "token_type": "bot",
        "scope": "chat:write,commands",
        "bot_user_id": "U0002BOT",
        "app_id": "A0001",
        "team": {"id": "T0002", "name": "Beta Co"},
        "enterprise": None,
        "is_enterprise_install": False,
        "authed_user": {"id": "U0BEA", "scope": "search:read", "token_type": "user"},
    }
    beta = WebClient(base_url=fake.url, token=token)
    assert beta.auth_test()["team_id"] == "T0002"
    assert scopes_header(beta.auth_test()) == "chat:write,commands"
    # Slack's form-field credentials work too, and the redirect_uri can be left out when
    # the authorize request had none.
    code = code_from(authorize(fake, team="T0002", redirect_uri=""))
    fields = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "code": code}
    again = httpx.post(f"{fake.url}oauth.v2.access", data=fields).json()
    assert again["ok"] and again["access_token"] == token  # a reinstall keeps the bot token


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"client_id": "0000.0000"}, "invalid_client_id"),
        ({"client_id": "9999.0000", "client_secret": "other"}, "invalid_code"),  # not its code
        ({"client_secret": "wrong"}, "bad_client_secret"),
        ({"redirect_uri": REDIRECT + "/elsewhere"}, "bad_redirect_uri"),
        ({"redirect_uri": None}, "bad_redirect_uri"),
        ({"code": "123.456.abc"}, "invalid_code"),
        ({"grant_type": "client_credentials"}, "invalid_grant_type"),
    ],
)
def test_oauth_access_errors(fake: SlackStandIn, change: dict[str, Any], error: str) -> None:
    fake.register_app(CLIENT_ID, CLIENT_SECRET, REDIRECT)
    fake.register_app("9999.0000", "other", REDIRECT)
    args = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "redirect_uri": REDIRECT}
    args |= {"code": code_from(authorize(fake)), **change}
    with pytest.raises(SlackApiError) as info:
        WebClient(base_url=fake.url).oauth_v2_access(**args)
    assert info.value.response["error"] == error
    assert fake.calls_to("oauth.v2.access")[-1].error == error


def test_oauth_codes_expire(fake: SlackStandIn) -> None:
    fake.register_app(CLIENT_ID, CLIENT_SECRET, REDIRECT)
    code = code_from(authorize(fake))
    fake.oauth_code_ttl = 0.0
    with pytest.raises(SlackApiError, match="invalid_code"):
        WebClient(base_url=fake.url).oauth_v2_access(
            client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=code, redirect_uri=REDIRECT
        )


def test_authorize_page_refusals(fake: SlackStandIn) -> None:
    fake.register_app(CLIENT_ID, CLIENT_SECRET, [REDIRECT, "https://bot.example/other"])
    cancelled = authorize(fake, cancel="1")
    assert cancelled.status_code == 302
    location = httpx.URL(cancelled.headers["location"])
    assert dict(location.params) == {"error": "access_denied", "state": "st8"}
    assert code_from(authorize(fake, redirect_uri=REDIRECT + "/sub"))  # beneath a Redirect URL
    other = "https://bot.example/other"
    assert code_from(authorize(fake, redirect_uri=other), other)
    for params, error in [
        ({"client_id": "nope"}, "invalid_client_id"),
        ({"redirect_uri": "https://evil.example/slack/oauth_redirect"}, "bad_redirect_uri"),
        ({"scope": "admin"}, "invalid_scope"),
        ({"team": "T0404"}, "invalid_team"),
        ({"org": "1"}, "org_install_not_allowed"),  # T0001 is in no Grid org
    ]:
        page = authorize(fake, **params)
        assert page.status_code == 400 and error in page.text, params


def test_bolt_install_link_points_at_the_standin(fake: SlackStandIn) -> None:
    """Bolt's own "Add to Slack" URL, with authorization_url set to the stand-in."""
    from slack_sdk.oauth import AuthorizeUrlGenerator

    fake.register_app(CLIENT_ID, CLIENT_SECRET, REDIRECT)
    url = AuthorizeUrlGenerator(
        client_id=CLIENT_ID,
        scopes=["chat:write", "commands"],
        redirect_uri=REDIRECT,
        authorization_url=f"{fake.root_url}/oauth/v2/authorize",
    ).generate(state="st8")
    response = httpx.get(url)
    assert code_from(response)
    assert fake.calls_to("oauth.v2.authorize")[0].status == 302


def test_org_wide_install(fake: SlackStandIn) -> None:
    fake.add_team("T0003", "Gamma", enterprise_id="E0001", enterprise_name="Starship")
    fake.add_team("T0004", "Delta", enterprise_id="E0001")
    fake.add_channel("T0003", "C0GAMMA", "gamma")
    fake.add_channel("T0004", "C0DELTA", "delta")
    fake.register_app(CLIENT_ID, CLIENT_SECRET, REDIRECT)
    code = code_from(authorize(fake, team="E0001", org="1", user="W0ADMIN"))
    body = (
        WebClient(base_url=fake.url)
        .oauth_v2_access(
            client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=code, redirect_uri=REDIRECT
        )
        .data
    )
    assert body["team"] is None and body["enterprise"] == {"id": "E0001", "name": "Starship"}
    assert body["is_enterprise_install"] is True and body["bot_user_id"] == "W0001BOT"
    assert body["authed_user"] == {"id": "W0ADMIN"}

    org = WebClient(base_url=fake.url, token=body["access_token"], retry_handlers=[])
    who = org.auth_test().data
    assert who["team_id"] == who["enterprise_id"] == "E0001"
    assert who["is_enterprise_install"] is True and who["user_id"] == "W0001BOT"
    assert who["url"] == "https://starship.enterprise.slack.com/"
    # One token, every workspace of the org: each call acts where its channel lives.
    assert org.chat_postMessage(channel="C0GAMMA", text="g")["message"]["team"] == "T0003"
    assert org.chat_postMessage(channel="C0DELTA", text="d")["message"]["team"] == "T0004"
    assert org.team_info(team_id="T0004")["team"]["enterprise_id"] == "E0001"
    assert api_error(lambda: org.team_info(team_id="T0001")).response["error"] == (
        "team_access_not_granted"
    )
    assert (
        api_error(lambda: org.chat_postMessage(channel="C0CHAN", text="x")).response["error"]
        == "channel_not_found"
    )
    # A workspace added to the org later is covered too.
    fake.add_team("T0005", "Epsilon", enterprise_id="E0001")
    assert fake.team("T0005").org_install and fake.team("T0005").bot_user_id == "W0001BOT"

    gamma = fake.team("T0003")
    command = sr.slash_command("hi", team=gamma, user_id="W0GAMMA", channel_id="C0GAMMA").payload
    assert command["enterprise_id"] == "E0001" and command["is_enterprise_install"] == "true"
    action = sr.block_actions([{"action_id": "a"}], channel_id="C0GAMMA", team=gamma).payload
    assert action["team"]["enterprise_id"] == "E0001" and action["is_enterprise_install"] is True
    assert action["enterprise"] == {"id": "E0001", "name": "Starship"}
    event = sr.app_home_opened("W0GAMMA", team=gamma).payload
    assert event["team_id"] == "T0003" and event["enterprise_id"] == "E0001"
    assert event["authorizations"] == [
        {
            "enterprise_id": "E0001",
            "team_id": None,
            "user_id": "W0001BOT",
            "is_bot": True,
            "is_enterprise_install": True,
        }
    ]


def test_uninstall_revokes_and_reinstall_starts_fresh(fake: SlackStandIn) -> None:
    fake.add_team("T0002", "Beta Co")
    fake.add_person("T0002", "U0BEA", "bea")
    first = fake.install("T0002", user_scopes=["search:read"])
    bot = WebClient(base_url=fake.url, token=first["access_token"], retry_handlers=[])
    user = WebClient(
        base_url=fake.url, token=first["authed_user"]["access_token"], retry_handlers=[]
    )
    default = WebClient(base_url=fake.url, token=BOT_TOKEN, retry_handlers=[])

    removed = fake.uninstall("T0002")
    assert api_error(bot.auth_test).response["error"] == "account_inactive"
    assert api_error(user.auth_test).response["error"] == "token_revoked"
    assert default.auth_test()["ok"]  # other workspaces keep their install

    uninstalled = removed.app_uninstalled().payload
    assert uninstalled["type"] == "event_callback" and uninstalled["team_id"] == "T0002"
    assert uninstalled["event"] == {"type": "app_uninstalled"}
    assert uninstalled["authorizations"][0]["team_id"] == "T0002"
    revoked = removed.tokens_revoked().payload["event"]
    assert revoked == {
        "type": "tokens_revoked",
        "tokens": {"oauth": ["U0BEA"], "bot": ["U0002BOT"]},
    }
    for request in (removed.app_uninstalled(), removed.tokens_revoked()):
        assert SignatureVerifier(sr.SIGNING_SECRET).is_valid_request(request.body, request.headers)

    second = fake.install("T0002")
    assert second["access_token"] != first["access_token"]
    assert api_error(bot.auth_test).response["error"] == "invalid_auth"
    assert WebClient(base_url=fake.url, token=second["access_token"]).auth_test()["ok"]
    with pytest.raises(ValueError):
        fake.uninstall("T0404")


def test_org_uninstall_and_reinstall_tokens(fake: SlackStandIn) -> None:
    fake.add_team("T0003", "Gamma", enterprise_id="E0001")
    token = fake.install(enterprise_id="E0001")["access_token"]
    assert fake.install(enterprise_id="E0001")["access_token"] == token  # kept on reinstall
    fake.new_token_on_reinstall = True
    fresh = fake.install(enterprise_id="E0001")["access_token"]
    assert fresh != token
    assert WebClient(base_url=fake.url, token=token).auth_test()["ok"]  # the old one still works

    removed = fake.uninstall("E0001")
    assert not fake.team("T0003").org_install
    envelope = removed.app_uninstalled().payload
    assert envelope["team_id"] == envelope["enterprise_id"] == "E0001"
    assert envelope["authorizations"][0]["team_id"] is None
    assert envelope["authorizations"][0]["is_enterprise_install"] is True
    for value in (token, fresh):
        err = api_error(lambda v=value: WebClient(base_url=fake.url, token=v).auth_test())
        assert err.response["error"] == "account_inactive"


def test_apps_uninstall(fake: SlackStandIn) -> None:
    fake.register_app(CLIENT_ID, CLIENT_SECRET, REDIRECT)
    client = WebClient(base_url=fake.url, token=BOT_TOKEN, retry_handlers=[])
    err = api_error(lambda: client.apps_uninstall(client_id=CLIENT_ID, client_secret="x"))
    assert err.response["error"] == "bad_client_secret"
    assert client.apps_uninstall(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)["ok"]
    assert api_error(client.auth_test).response["error"] == "account_inactive"


def test_requests_from_another_team(fake: SlackStandIn, beta: WebClient) -> None:
    """A person of team B acts: B's ids throughout, and response_url answers land in B."""
    team = fake.team("T0002")
    posted = beta.chat_postMessage(channel="C0BETA", text="old")
    action = sr.block_actions(
        [{"type": "button", "action_id": "retry", "value": "1"}],
        channel_id="C0BETA",
        message=posted["message"],
        user_id="U0BEA",
        team=team,
        slack_url=fake.url,
    )
    payload = action.payload
    assert payload["team"] == {"id": "T0002", "domain": "beta-co"}
    assert payload["user"]["team_id"] == "T0002" and payload["enterprise"] is None
    assert payload["is_enterprise_install"] is False
    assert "/actions/T0002/C0BETA/" in payload["response_url"]
    assert WebhookClient(payload["response_url"]).send(text="new", replace_original=True)
    assert fake.messages("C0BETA")[0]["text"] == "new"

    command = sr.slash_command("hi", team=team, user_id="U0BEA", channel_id="C0BETA").payload
    assert command["team_id"] == "T0002" and command["team_domain"] == "beta-co"
    assert "enterprise_id" not in command
    event = sr.app_home_opened("U0BEA", team=team).payload
    assert event["authorizations"][0] == {
        "enterprise_id": None,
        "team_id": "T0002",
        "user_id": "U0002BOT",
        "is_bot": True,
        "is_enterprise_install": False,
    }
    submission = sr.view_submission("cb", {}, user_id="U0BEA", team=team).payload
    assert submission["view"]["team_id"] == "T0002" and submission["view"]["bot_id"] == "B0002"


def test_bolt_oauth_flow_installs_through_the_standin(fake: SlackStandIn, tmp_path: Any) -> None:
    """Bolt's real OAuth flow end to end: install page, Slack's redirect, code exchange, and
    then a request from the new workspace authorized with the stored token."""
    from slack_bolt.oauth.oauth_settings import OAuthSettings
    from slack_sdk.oauth.installation_store import FileInstallationStore
    from slack_sdk.oauth.state_store import FileOAuthStateStore

    fake.add_team("T0002", "Beta Co")
    fake.add_person("T0002", "U0BEA", "bea")
    fake.register_app(CLIENT_ID, CLIENT_SECRET, "http://app.test/slack/oauth_redirect")
    store = FileInstallationStore(base_dir=str(tmp_path / "installs"))
    app = App(
        signing_secret=sr.SIGNING_SECRET,
        client=WebClient(base_url=fake.url),
        oauth_settings=OAuthSettings(
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            scopes=["chat:write", "commands"],
            redirect_uri="http://app.test/slack/oauth_redirect",
            authorization_url=f"{fake.root_url}/oauth/v2/authorize",
            installation_store=store,
            state_store=FileOAuthStateStore(expiration_seconds=60, base_dir=str(tmp_path)),
        ),
    )
    seen: list[str] = []
    app.event("app_home_opened")(lambda context: seen.append(context.bot_token))

    wsgi = httpx.WSGITransport(app=SlackRequestHandler(app))
    with httpx.Client(transport=wsgi, base_url="http://app.test") as http:
        install = http.get("/slack/install")
        link = install.text.split('<a href="')[1].split('"')[0].replace("&amp;", "&")
        at_slack = httpx.get(link + "&team=T0002")  # the person picks workspace T0002
        assert at_slack.status_code == 302, (link, at_slack.text)
        back = httpx.URL(at_slack.headers["location"])
        cookie = install.headers["set-cookie"].split(";")[0]  # Secure: httpx keeps it off http
        done = http.get(
            "/slack/oauth_redirect", params=dict(back.params), headers={"Cookie": cookie}
        )
        assert done.status_code == 200, done.text
        found = store.find_installation(enterprise_id=None, team_id="T0002")
        assert found is not None and found.bot_user_id == "U0002BOT" and found.bot_id == "B0002"
        assert (
            sr.send(http, sr.app_home_opened("U0BEA", team=fake.team("T0002"))).status_code == 200
        )
    assert seen == [found.bot_token]
