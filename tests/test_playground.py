"""The playground as a newcomer meets it: plain `python -m bot` with no Slack settings, then
only the page's API (`/playground/*`), never the bot or the stand-in directly."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import flows
from tests.harness import HTTP, playground_environment, wait_until
from tests.harness import PlaygroundProcess as Playground

ALICE, BEN = "U0USER", "U0BEN"
GENERAL, RANDOM = "C0CHAN", "C0RAND"


@pytest.fixture(scope="module")
def playground(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Playground]:
    running = Playground(tmp_path_factory.mktemp("playground"))
    yield running
    if running.proc.poll() is None:
        assert running.stop() == 0
    log = running.log()
    assert " ERROR " not in log and " WARNING " not in log and "Traceback" not in log, log


def _open_modal(playground: Playground, text: str, user: str = ALICE) -> dict[str, Any]:
    assert playground.post("send", **{"as": user}, channel=GENERAL, text=text) == {"ok": True}
    return wait_until(lambda: playground.state(user)["modal"], message="the modal")


def _element(view: dict[str, Any], block_id: str) -> dict[str, Any]:
    return next(b["element"] for b in view["blocks"] if b.get("block_id") == block_id)


def _options(playground: Playground, modal: dict[str, Any], block_id: str) -> list[dict]:
    answer = playground.interact(
        "block_suggestion",
        view_id=modal["id"],
        block_id=block_id,
        action_id=_element(modal["view"], block_id)["action_id"],
        value="",
    )
    assert answer["ok"], answer
    return answer.get("options") or [o for g in answer["option_groups"] for o in g["options"]]


def test_plain_python_m_bot_without_slack_settings_is_the_playground(
    playground: Playground,
) -> None:
    first = playground.log().splitlines()[0]
    assert "playground: no Slack settings" in first
    assert f"Playground: open http://127.0.0.1:{playground.port}/" in playground.log()
    assert "<title>" in HTTP.get(playground.url + "/").text
    state = playground.state(BEN)
    assert [p["name"] for p in state["people"]] == ["alice", "ben", "chen"]
    names = [(c["name"], c["is_im"]) for c in state["channels"]]
    assert names == [("general", False), ("marketing", False), ("random", False), ("HeyGen", True)]
    assert state["me"] == BEN and state["modal"] is None
    assert [c["command"] for c in state["commands"]] == ["/heygen"]
    assert {s["type"] for s in state["shortcuts"]} == {"global", "message"}


def test_heygen_in_the_page_makes_a_video_in_the_thread(playground: Playground) -> None:
    modal = _open_modal(playground, "/heygen Hello team")
    assert modal["view"]["title"]["text"] and modal["stack_depth"] == 1
    assert _element(modal["view"], "script")["initial_value"] == "Hello team"
    avatar = _options(playground, modal, "avatar")[0]["value"]
    voice = _options(playground, modal, "voice")[0]["value"]

    missing = flows.form_values(None, None, "Hello team")
    answer = playground.interact("view_submission", view_id=modal["id"], values=missing)
    assert answer["response_action"] == "errors"
    assert {"avatar", "voice"} <= answer["errors"].keys()
    wrong = flows.form_values(avatar, voice, "Hello team", pitch="0", background="blue")
    answer = playground.interact("view_submission", view_id=modal["id"], values=wrong)
    assert answer["errors"] == {"background": "Use a hex colour like #FFFFFF (or leave it empty)."}
    assert playground.state()["modal"]["id"] == modal["id"]  # still open

    values = flows.form_values(avatar, voice, "Hello team", pitch="0")
    answer = playground.interact("view_submission", view_id=modal["id"], values=values)
    assert answer == {"ok": True}
    assert playground.state()["modal"] is None

    def finished() -> tuple[dict, list[dict]] | None:
        state = playground.state()
        for parent in state["messages"][GENERAL]:
            replies = state["threads"].get(f"{GENERAL}/{parent['ts']}", [])
            if parent.get("bot_id") and parent["edited"] and any(r.get("files") for r in replies):
                return parent, replies
        return None

    parent, replies = wait_until(finished, timeout=60, message="the video in the thread")
    assert any(f"<@{ALICE}>" in r["text"] for r in replies if not r.get("files"))
    [video] = [f for r in replies for f in r.get("files", [])]
    assert video["mimetype"] == "video/mp4" and video["url"].startswith("/playground/files/")
    part = HTTP.get(playground.url + video["url"], headers={"Range": "bytes=0-7"})
    assert part.status_code == 206 and part.headers["Accept-Ranges"] == "bytes"
    assert part.content[4:8] == b"ftyp" and part.headers["Content-Range"].startswith("bytes 0-7/")
    wait_until(
        lambda: any(
            m["ts"] == parent["ts"] and "Done" in str(m.get("blocks"))
            for m in playground.state()["messages"][GENERAL]
        ),
        message="the announcement to say Done",
    )


def test_an_unknown_command_answers_as_slack_does(playground: Playground) -> None:
    answer = playground.post("send", **{"as": ALICE}, channel=GENERAL, text="/foo bar")
    assert answer["ok"] is False and answer["error"].startswith("/foo is not a valid command.")


def test_a_plain_message_is_posted_and_help_is_only_for_the_asker(
    playground: Playground,
) -> None:
    posted = playground.post("send", **{"as": BEN}, channel=RANDOM, text="lunch?")
    assert posted["ok"]
    [mine] = [m for m in playground.state()["messages"][RANDOM] if m["ts"] == posted["ts"]]
    assert (mine["user"], mine["username"], mine["text"]) == (BEN, "Ben Okafor", "lunch?")
    assert playground.post("send", **{"as": BEN}, channel=GENERAL, text="/heygen help")["ok"]
    wait_until(
        lambda: any("/heygen" in e["text"] for e in playground.state(BEN)["ephemerals"]),
        message="the help, for Ben",
    )
    assert not any("opens a form" in e["text"] for e in playground.state(ALICE)["ephemerals"])


def test_permalinks_lead_back_into_the_page(playground: Playground) -> None:
    """The workspace's links (the DM's "in the thread") open the page, never slack.com."""
    parent = playground.post("send", **{"as": ALICE}, channel=GENERAL, text="see thread")["ts"]
    reply = playground.post("send", **{"as": BEN}, channel=GENERAL, text="here", thread_ts=parent)[
        "ts"
    ]
    alone = playground.post("send", **{"as": ALICE}, channel=GENERAL, text="no replies")["ts"]

    def lands(ts: str, query: str = "") -> str:
        link = f"{playground.url}/archives/{GENERAL}/p{ts.replace('.', '')}{query}"
        answer = HTTP.get(link, follow_redirects=False)
        assert answer.status_code == 302, answer.text
        return answer.headers["Location"]

    assert lands(reply, f"?thread_ts={parent}&cid={GENERAL}") == f"/#{GENERAL}/{parent}"
    assert lands(parent) == f"/#{GENERAL}/{parent}"  # a message with replies opens its thread
    assert lands(alone) == f"/#{GENERAL}"
    assert lands(alone, "?thread_ts=1%0D%0AX-Evil:1") == f"/#{GENERAL}"


def test_the_home_tab_is_published_for_the_person_who_opens_it(
    playground: Playground,
) -> None:
    assert playground.post("home", **{"as": BEN}) == {"ok": True}
    home = wait_until(lambda: playground.state(BEN)["home"], message="the Home view")
    assert home["view"]["type"] == "home"
    assert playground.state("U0CHEN")["home"] is None


def test_the_event_stream_counts_changes(playground: Playground) -> None:
    before = playground.state()["version"]
    with (
        httpx.Client(timeout=10) as client,
        client.stream("GET", playground.url + "/playground/events") as events,
    ):
        assert events.headers["content-type"].startswith("text/event-stream")
        lines = events.iter_lines()
        assert next(line for line in lines if line.startswith("data:"))
        playground.post("send", **{"as": ALICE}, channel=GENERAL, text="ping")
        later = next(line for line in lines if line.startswith("data:"))
        assert int(later.split('"version": ')[1].rstrip("}")) > before


def test_sigterm_stops_the_playground(tmp_path: Path) -> None:
    other = Playground(tmp_path)
    with httpx.Client(timeout=10) as client, client.stream("GET", other.url + "/playground/events"):
        assert other.stop() == 0  # an open event stream does not hold it up
    assert "Traceback" not in other.log()


def test_any_slack_setting_means_slack_as_today(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,
        env=playground_environment(SLACK_BOT_TOKEN="xoxb-1"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: SLACK_SIGNING_SECRET is required in HTTP mode (no SLACK_APP_TOKEN)"
    ]
