"""Promise 7: forged, replayed, hostile and malformed requests do no harm.

Forged or stale requests get 401 and change nothing; a replayed submission maps to the
job it already made; hostile scripts are stored and shown exactly as typed, never as
mentions or links; malformed or oversized bodies get a clean 4xx, never a 500 or a
traceback in the log.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import time
from urllib.parse import urlencode

import httpx

from bot.playground import inbound as sr
from tests import flows
from tests.flows import creates, job_rows
from tests.harness import wait_until

MULTIBYTE = ("日本語の台本、" * 300)[:1500]
SCRIPTS = {
    "broadcasts": "Hey <!channel> and <!here> and <!everyone>, listen up",
    "mentions": "Ping <@U0BOSS>, <#C0SECRET|secret> and <!subteam^S0ADMINS>",
    "links": "Please <https://evil.example/login|click here> or <mailto:a@evil.example|mail me>",
    "ampersands": "Tom & Jerry &amp; &lt;b&gt; are entities, not tags",
    "html": "<script>alert('pwned')</script><b>bold</b><img src=x onerror=alert(1)>",
    "emoji": "Launch day 🎉🚀 :tada: 👩‍👩‍👧‍👦 family",
    "right-to-left": "مرحبا بالعالم — שלום עולם \u202eevil.exe\u202c done",
    "multi-byte": MULTIBYTE,
    "sql": "Robert'); DROP TABLE jobs;-- \" OR 1=1; SELECT * FROM outbox --",
    "mrkdwn": "*bold* _it_ ~strike~ `code` ```block``` > not a quote",
}
RAW_MARKUP = re.compile(r"<[!#]|<@U0BOSS|<(https?|mailto):")


def forgeries(request: sr.SignedRequest) -> dict[str, sr.SignedRequest]:
    """Ways to send `request` without Slack's valid, fresh signature."""
    headers = request.headers
    unsigned = {k: v for k, v in headers.items() if not k.startswith("X-Slack-")}
    stamp = headers["X-Slack-Request-Timestamp"]
    return {
        "wrong secret": request.resigned(secret="not-the-signing-secret"),
        "stale (6 min)": request.resigned(timestamp=time.time() - 360),
        "from the future": request.resigned(timestamp=time.time() + 360),
        "no signature": sr.SignedRequest(request.body, unsigned),
        "no timestamp": sr.SignedRequest(
            request.body, {k: v for k, v in headers.items() if k != "X-Slack-Request-Timestamp"}
        ),
        "tampered body": sr.SignedRequest(request.body + b"&user_id=U0BOSS", headers),
        "timestamp swapped": sr.SignedRequest(
            request.body, {**headers, "X-Slack-Request-Timestamp": str(int(stamp) - 1)}
        ),
        "garbage timestamp": sr.SignedRequest(
            request.body, {**headers, "X-Slack-Request-Timestamp": "noon"}
        ),
    }


@functools.cache
def _choices(sandbox_url: str, version: str) -> tuple[str, str]:
    """The sandbox's first avatar and voice (its catalog never changes while it runs)."""
    avatars, voices = flows.sandbox_catalog(sandbox_url, version)
    return avatars[0]["id"], voices[0]["id"]


def submission(sandbox, version: str, script: str, **kwargs) -> sr.SignedRequest:
    avatar, voice = _choices(sandbox.url, version)
    meta = json.dumps({"channel_id": flows.CHANNEL, "thread_ts": None})
    values = flows.form_values(avatar, voice, script)
    return sr.view_submission("heygen_create", values, private_metadata=meta, **kwargs)


def parents(slack) -> list:
    return [c for c in slack.calls_to("chat.postMessage") if not c.params.get("thread_ts")]


def test_forged_or_stale_requests_get_401_and_change_nothing(make_bot, sandbox, slack, figures):
    bot = make_bot()
    at_start = len(slack.calls)  # the start-up auth.test
    originals = {
        "slash command": sr.slash_command("Hello"),
        "modal submission": submission(sandbox, "v3", "Hello"),
        "typeahead": sr.block_suggestion("avatar", "avatar", "a"),
        "button": sr.block_actions(
            [{"action_id": "open_video", "type": "button"}], channel_id="C1"
        ),
        "event": sr.app_home_opened(),
        "url verification": sr.url_verification(),
    }
    tried = 0
    with httpx.Client(base_url=bot.url) as client:
        for kind, original in originals.items():
            for how, forged in forgeries(original).items():
                answer = sr.send(client, forged)
                assert answer.status_code == 401, f"{kind}, {how}: {answer.status_code}"
                assert answer.json() == {"error": "invalid request"}
                tried += 1
    time.sleep(0.3)
    assert slack.calls[at_start:] == []  # nothing got past the signature check
    assert job_rows(bot) == [] and creates(sandbox) == []
    figures(forged_requests=tried)


def test_replayed_submission_makes_one_job(make_bot, sandbox, slack, figures):
    bot = make_bot()
    first = submission(sandbox, "v3", "Say it once", view_id="V0REPLAYED")
    retried = submission(sandbox, "v3", "Say it once", view_id="V0REPLAYED")  # new trigger
    other = submission(sandbox, "v3", "Say it once", view_id="V0ANOTHER")
    sent = [first, first, first, retried.resigned(timestamp=time.time() - 200), other, first]
    for request in sent:
        answer = bot.send(request)
        assert answer.status_code == 200 and answer.text in ("", "null", "{}")
    assert bot.send(first.resigned(timestamp=time.time() - 400)).status_code == 401
    wait_until(lambda: len(parents(slack)) == 2, message="two parent messages")
    time.sleep(0.5)

    rows = job_rows(bot)
    assert len(rows) == 2 and len(creates(sandbox)) == 2 and len(parents(slack)) == 2
    assert {r["script"] for r in rows} == {"Say it once"}
    figures(replays=5, jobs_from_replays=0)


def quotes(blocks: list[dict]) -> list[list[dict]]:
    return [q["elements"] for b in blocks if b["type"] == "rich_text" for q in b["elements"]]


def sent_script(create: dict) -> str:
    body = create["json"]
    return body["script"] if "script" in body else body["video_inputs"][0]["voice"]["input_text"]


def test_hostile_scripts_are_stored_and_shown_literally(bot, sandbox, slack, api_version, figures):
    for name, script in SCRIPTS.items():
        answer = bot.send(submission(sandbox, api_version, script))
        assert answer.status_code == 200, name
    rows = wait_until(
        lambda: (
            len(r := job_rows(bot)) == len(SCRIPTS)
            and all(x["status"] == "completed" for x in r)
            and r
        ),
        message="every job to finish",
    )
    wait_until(lambda: len(slack.calls_to("chat.postMessage")) >= 2 * len(SCRIPTS))
    time.sleep(0.5)  # the last parent edits

    assert sorted(r["script"] for r in rows) == sorted(SCRIPTS.values())
    assert sorted(sent_script(c) for c in creates(sandbox)) == sorted(SCRIPTS.values())
    by_job = {r["id"]: r["script"] for r in rows}
    messages = [*slack.calls_to("chat.postMessage"), *slack.calls_to("chat.update")]
    shown = 0
    for call in messages:
        assert call.ok, call.error
        for text in [call.params["text"], *flows.mrkdwn_texts(call.params["blocks"])]:
            assert not RAW_MARKUP.search(text), text
        if not call.params.get("thread_ts"):  # the parent, posted or edited
            job_id = _job_of(call, slack)
            assert quotes(call.params["blocks"]) == [[{"type": "text", "text": by_job[job_id]}]]
            shown += 1
    assert shown >= len(SCRIPTS)

    searches = ["<!channel>", "'; DROP TABLE avatars;--", ".*[(", "שלום", "é" * 5000, "\u0000"]
    for query in searches:
        answer = bot.send(sr.block_suggestion("avatar", "avatar", query))
        assert answer.status_code == 200 and isinstance(answer.json()["options"], list)
    figures(hostile_scripts=len(SCRIPTS), hostile_searches=len(searches), messages_checked=shown)


def _job_of(call, slack) -> str:
    """The job a parent message belongs to, from the metadata the bot tags it with."""
    if call.method == "chat.postMessage":
        return call.params["metadata"]["event_payload"]["job_id"]
    [message] = [m for m in slack.messages() if m["ts"] == call.params["ts"]]
    return message["metadata"]["event_payload"]["job_id"]


def _form(payload: object) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


def _signed(body: bytes, content_type: str = sr.FORM_CONTENT_TYPE) -> sr.SignedRequest:
    return sr.SignedRequest(body, {"Content-Type": content_type, **sr.sign(body)})


def _without(request: sr.SignedRequest, *path: str) -> sr.SignedRequest:
    """The same payload with one field removed, signed again as Slack would have."""
    payload = request.payload
    node = payload
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return _signed(_form(payload))


def _replaced(request: sr.SignedRequest, value: object, *path: str) -> sr.SignedRequest:
    payload = request.payload
    node = payload
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return _signed(_form(payload))


def test_malformed_and_oversized_requests_get_a_clean_4xx(
    make_bot, sandbox, slack, caplog, figures
):
    bot = make_bot()
    good = submission(sandbox, "v3", "Hello")
    button = sr.block_actions([{"action_id": "no_such_button", "type": "button"}], channel_id="C1")
    huge = b"payload=" + b"x" * 2_000_000
    cases: dict[str, tuple[sr.SignedRequest, int]] = {
        "payload is not JSON": (_signed(b"payload=%7Bnot-json"), 400),
        "payload is a list": (_signed(_form([1, 2])), 400),
        "payload is null": (_signed(_form(None)), 400),
        "events body is not JSON": (_signed(b"{oops", "application/json"), 400),
        "body is not UTF-8 (cannot be verified)": (_signed(b"payload=\xff\xfe"), 401),
        "submission without user": (_without(good, "user"), 400),
        "submission without view.state": (_without(good, "view", "state"), 400),
        "submission without view": (_without(good, "view"), 400),
        "state.values is a list": (_replaced(good, [], "view", "state", "values"), 400),
        "a block's state is text": (_replaced(good, "x", "view", "state", "values", "avatar"), 400),
        "button without actions": (_replaced(button, [], "actions"), 400),
        "command without trigger_id": (_signed(b"command=%2Fheygen&user_id=U1&text=hi"), 400),
        "unknown action id": (button, 404),
        "unknown payload type": (_replaced(good, "mystery", "type"), 404),
        "unknown modal": (_replaced(good, "not_ours", "view", "callback_id"), 404),
        "empty body": (_signed(b""), 404),
        "2 MB body, signed": (_signed(huge), 413),
        "2 MB body, unsigned": (
            sr.SignedRequest(huge, {"Content-Type": sr.FORM_CONTENT_TYPE}),
            413,
        ),
    }
    caplog.set_level(logging.INFO)
    for name, (request, status) in cases.items():
        answer = bot.send(request)
        assert answer.status_code == status, f"{name}: {answer.status_code} {answer.text[:200]}"
        assert "error" in answer.json() and "Traceback" not in answer.text, name

    def streamed():  # no Content-Length: the limit must count what arrives
        for _ in range(40):
            yield b"x" * 65536

    answer = httpx.post(f"{bot.url}/slack/events", content=streamed(), timeout=10)
    assert answer.status_code == 413
    link = sr.block_actions([{"action_id": "open_video", "type": "button"}], channel_id="C1")
    assert bot.send(link).status_code == 200  # our own link button is acknowledged, not 404
    long_command = bot.send(sr.slash_command("é" * 10_000))
    assert long_command.status_code == 200 and slack.wait_for("views.open")[0].ok

    failures = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert failures == [], [r.getMessage()[:300] for r in failures]
    assert job_rows(bot) == [] and creates(sandbox) == []
    assert httpx.get(f"{bot.url}/healthz").status_code == 200
    assert bot.send(good).status_code == 200  # and the bot still works
    wait_until(lambda: len(job_rows(bot)) == 1, message="the good submission's job")
    figures(malformed_requests=len(cases) + 2)
