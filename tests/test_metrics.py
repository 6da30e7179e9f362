"""`GET /metrics`: Prometheus text that moves with a real job, as a scraper would read it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections import Counter

from prometheus_client.parser import text_string_to_metric_families

from bot.playground import inbound as sr
from bot.playground.socket_mode import APP_TOKEN, SocketModeStandIn
from tests import flows
from tests.harness import HTTP, ROOT, bot_env, free_port, wait_until

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(url: str) -> Samples:
    """Every sample of `url`/metrics, keyed by name and sorted labels."""
    response = HTTP.get(url + "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((f"heygen_bot_{name}", tuple(sorted(labels.items()))), 0.0)


def labelled(samples: Samples, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {labels: v for (n, labels), v in samples.items() if n == f"heygen_bot_{name}"}


def slack_answers(slack) -> Counter:
    """What the fake Slack saw: (method, `ok` or Slack's error) per Web API call."""
    seen: Counter = Counter()
    calls = slack.calls
    if calls and calls[0].method == "auth.test":  # asked at start, before metrics exist
        calls = calls[1:]
    for call in calls:
        if call.method in ("response_url", "upload"):  # not Web API methods
            continue
        method = call.method
        seen[(method, "ok" if call.ok else call.error or f"http_{call.status}")] += 1
    return seen


def counted_slack_calls(samples: Samples) -> Counter:
    return Counter(
        {
            (dict(labels)["method"], dict(labels)["error"]): int(v)
            for labels, v in labelled(samples, "slack_calls_total").items()
            if v
        }
    )


def test_metrics_move_with_a_video(make_bot, slack, sandbox) -> None:
    bot = make_bot(HEYGEN_API_VERSION="v3")
    before = scrape(bot.url)
    assert value(before, "jobs", status="completed") == 0
    assert value(before, "videos_finished_total") == 0
    assert value(before, "outbox_backlog") == 0

    # Slack fails the announcement until told otherwise: the message waits in the outbox.
    slack.fail_next("chat.postMessage", "internal_error", times=1000)
    flows.submit_any(bot, sandbox, "v3", "Counting on you")
    waiting = wait_until(
        lambda: (s := scrape(bot.url)) and value(s, "outbox_backlog") >= 1 and s,
        message="an unsent message in the outbox",
    )
    assert value(waiting, "outbox_oldest_unsent_seconds") > 0
    refused = {"method": "chat.postMessage", "error": "internal_error"}
    wait_until(
        lambda: value(scrape(bot.url), "slack_calls_total", **refused) >= 1,
        message="the refused post counted",
    )
    slack.clear_faults()

    posted = slack.wait_for("chat.postMessage", lambda c: c.ok and not c.params.get("thread_ts"))
    parent = posted[0].response
    wait_until(lambda: flows.text_replies(slack, parent["ts"]), timeout=30, message="result")
    wait_until(lambda: flows.file_replies(slack, parent["ts"]), timeout=30, message="upload")
    after = wait_until(
        lambda: (
            (s := scrape(bot.url))
            and value(s, "outbox_backlog") == 0
            and value(s, "uploads_total", outcome="uploaded") == 1
            and s
        ),
        message="the outbox drained",
    )

    assert value(after, "jobs", status="completed") == 1
    assert sum(labelled(after, "jobs").values()) == 1
    assert value(after, "videos_finished_total") == 1
    assert value(after, "videos_failed_total", status="failed") == 0
    assert value(after, "outbox_oldest_unsent_seconds") == 0
    assert value(after, "render_seconds_count") == 1
    assert value(after, "render_seconds_sum") > 0
    assert value(after, "notify_lag_seconds_count") == 1
    assert value(after, "uploads_total", outcome="too_large") == 0

    # HeyGen: the one create, and routes named by template, never by a video's id.
    assert len(flows.creates(sandbox)) == 1
    assert value(after, "heygen_requests_total", method="POST", endpoint="/v3/videos", status="200")
    video_id = flows.job_rows(bot)[0]["video_id"]
    endpoints = {dict(labels)["endpoint"] for labels in labelled(after, "heygen_requests_total")}
    assert not any(video_id in e for e in endpoints)
    if any(video_id in e["path"] for e in flows.heygen_requests(sandbox, "GET", "/v3/videos/")):
        assert "/v3/videos/{id}" in endpoints

    # Slack: every Web API call the fake answered, counted once by method and answer.
    wait_until(
        lambda: counted_slack_calls(scrape(bot.url)) == slack_answers(slack),
        message="Slack calls counted as Slack answered them",
    )


def test_too_large_upload_is_counted(make_bot, slack, sandbox) -> None:
    bot = make_bot(HEYGEN_API_VERSION="v3", UPLOAD_MAX_MB="0.000001")
    flows.submit_and_wait_for_result(bot, sandbox, slack, "v3", "Too big to upload")
    wait_until(
        lambda: value(scrape(bot.url), "uploads_total", outcome="too_large") == 1,
        message="the too-large upload counted",
    )
    assert value(scrape(bot.url), "uploads_total", outcome="uploaded") == 0


def test_socket_mode_serves_metrics_and_health_on_metrics_port(slack, sandbox, tmp_path) -> None:
    socket_mode = SocketModeStandIn(slack)
    port = free_port()
    env = bot_env(
        slack.url,
        sandbox.url,
        str(tmp_path / "bot.db"),
        SLACK_APP_TOKEN=APP_TOKEN,
        METRICS_PORT=str(port),
    )
    env.pop("SLACK_SIGNING_SECRET")
    bot = subprocess.Popen(
        [sys.executable, "-m", "bot"],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=(tmp_path / "bot.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        socket_mode.wait_connected()
        wait_until(lambda: _answers(url + "/healthz") == 200, message="/healthz on METRICS_PORT")
        envelope = socket_mode.send("slash_commands", dict(sr.slash_command("Hi").payload))
        wait_until(lambda: envelope in socket_mode.acks, message="the command ack")
        slack.wait_for("views.open")
        # The modal was opened by Bolt's per-request client: counted all the same.
        wait_until(
            lambda: value(scrape(url), "slack_calls_total", method="views.open", error="ok") == 1,
            message="views.open counted",
        )
        assert value(scrape(url), "jobs", status="new") == 0
    finally:
        bot.send_signal(signal.SIGTERM)
        assert bot.wait(20) == 0


def test_a_busy_metrics_port_stops_the_bot_with_one_line(slack, sandbox, tmp_path) -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        env = bot_env(
            slack.url,
            sandbox.url,
            str(tmp_path / "bot.db"),
            SLACK_APP_TOKEN=APP_TOKEN,
            METRICS_PORT=str(taken.getsockname()[1]),
        )
        env.pop("SLACK_SIGNING_SECRET")
        run = subprocess.run(
            [sys.executable, "-m", "bot"],
            cwd=ROOT,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert run.returncode == 2
    assert "METRICS_PORT" in run.stderr and "Traceback" not in run.stderr + run.stdout


def _answers(url: str) -> int | None:
    try:
        return HTTP.get(url, timeout=2).status_code
    except Exception:
        return None
