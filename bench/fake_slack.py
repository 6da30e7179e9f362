"""A deliberately thin Slack Web API for the benchmark: answers `ok` and records arrivals.

The Slack stand-in of the tests (bot/playground/web_api.py) validates every Block Kit
payload in a thread per connection; that is right for tests and wrong for a benchmark,
where the fake must never be the slow part. This one is a bare asyncio HTTP/1.1 server
(keep-alive, one write per answer) in its own process. It records, per call, what the
benchmark measures: the method, when it arrived, and for messages the job id the bot
puts in `metadata`.

It also takes files the way Slack does (`files.getUploadURLExternal` hands out an
`upload_url`, the bytes are POSTed there, `files.completeUploadExternal` shares them); the
bytes are counted and dropped as they arrive, so the fake never holds a file. Two of Slack's
refusals can be switched on (`POST /_bench/config`, JSON): `throttle` answers the listed
methods with 429 and `Retry-After` until a given time (`{"methods": [...], "until": epoch,
"retry_after": s}`), and `pace` enforces a per-channel `chat.postMessage` limit as a token
bucket (`{"rate": 1.0, "burst": 3}`: Slack's "about one a second, short bursts allowed"),
answering 429 with the seconds until the next token.

Run: `python -m bench.fake_slack` prints `listening on http://127.0.0.1:PORT`.
`GET /_bench/calls?after=N` returns the calls recorded after the N-th.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

BOT = {"user_id": "U0BOT", "bot_id": "B0001", "team_id": "T0001", "team": "Fake", "user": "bot"}


@dataclass
class Pace:
    """Slack's per-channel limit for chat.postMessage, as a token bucket per channel."""

    rate: float = 1.0
    burst: float = 3.0
    buckets: dict[str, tuple[float, float]] = field(default_factory=dict)  # tokens, at

    def wait(self, channel: str, now: float) -> float:
        """0 when a message may go now (and take its token), else seconds until it may."""
        tokens, at = self.buckets.get(channel, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        if tokens >= 1:
            self.buckets[channel] = (tokens - 1, now)
            return 0.0
        self.buckets[channel] = (tokens, now)
        return (1 - tokens) / self.rate


class Recorder:
    """Every Web API call, in arrival order, and Slack-like answers to them."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self._ts = itertools.count(1)
        self._files = itertools.count(1)
        self.throttle: dict[str, Any] | None = None
        self.pace: Pace | None = None

    def configure(self, config: dict[str, Any]) -> dict[str, Any]:
        if "throttle" in config:
            self.throttle = config["throttle"]
        if "pace" in config:
            self.pace = Pace(**config["pace"]) if config["pace"] else None
        return {"ok": True}

    def refusal(self, method: str, channel: str | None, now: float) -> float | None:
        """Retry-After seconds when Slack would answer this call with 429, else None."""
        rule = self.throttle
        if rule and method in rule["methods"] and now < rule["until"]:
            return float(rule["retry_after"])
        if self.pace and method == "chat.postMessage" and channel:
            wait = self.pace.wait(channel, now)
            return wait or None
        return None

    def record(self, method: str, params: dict[str, Any], arrived: float, **extra: Any) -> None:
        meta = params.get("metadata")
        if isinstance(meta, str):
            meta = _json(meta)
        payload = (meta or {}).get("event_payload") or {} if isinstance(meta, dict) else {}
        self.calls.append(
            {
                "method": method,
                "at": arrived,
                "channel": params.get("channel") or params.get("channel_id"),
                "thread_ts": params.get("thread_ts"),
                "ts": params.get("ts"),
                "job_id": payload.get("job_id"),
                "kind": payload.get("kind"),
                **extra,
            }
        )

    def answer(self, method: str, params: dict[str, Any], base: str) -> tuple[int, Any, float]:
        """(HTTP status, body, Retry-After) for one Web API call, recorded as it arrived."""
        arrived = time.time()
        wait = self.refusal(method, params.get("channel"), arrived)
        if wait is not None:
            self.record(method, params, arrived, status=429)
            return 429, {"ok": False, "error": "ratelimited"}, wait
        ts = f"{int(arrived)}.{next(self._ts):06d}"
        self.record(method, params, arrived, status=200, answer_ts=ts)
        return 200, self._ok(method, params, ts, base), 0.0

    def _ok(self, method: str, params: dict[str, Any], ts: str, base: str) -> dict[str, Any]:
        if method in ("chat.postMessage", "chat.update"):
            return {"ok": True, "channel": params.get("channel"), "ts": params.get("ts") or ts}
        if method == "files.getUploadURLExternal":
            file_id = f"F{next(self._files):08d}"
            return {"ok": True, "upload_url": f"{base}/upload/v1/{file_id}", "file_id": file_id}
        if method == "files.completeUploadExternal":
            files = _json(params["files"]) if isinstance(params.get("files"), str) else None
            files = files or params.get("files") or [{}]
            shared = [{"id": f.get("id"), "title": f.get("title")} for f in files]
            return {"ok": True, "files": shared}
        if method in ("conversations.replies", "conversations.history"):
            return {"ok": True, "messages": [], "has_more": False}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": ts}
        if method == "views.open":
            return {"ok": True, "view": {"id": f"V{ts.replace('.', '')}", "type": "modal"}}
        if method == "auth.test":
            return {"ok": True, "url": "https://fake.slack.com/", **BOT}
        return {"ok": True}


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _params(query: str, body: bytes, content_type: str) -> dict[str, Any]:
    params: dict[str, Any] = dict(parse_qsl(query))
    if body and "json" in content_type:
        params.update(_json(body.decode()) or {})
    elif body:
        params.update(parse_qsl(body.decode()))
    return params


REASONS = {200: b"OK", 404: b"Not Found", 429: b"Too Many Requests"}


async def _serve_one(
    recorder: Recorder, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    while True:
        line = await reader.readline()
        if not line.strip():
            break
        target = line.decode("latin-1").split(" ")[1]
        headers: dict[str, str] = {}
        while (raw := await reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = raw.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length") or 0)
        url = urlsplit(target)
        status, answer, wait = 200, None, 0.0
        if url.path.startswith("/upload/"):
            answer = await _take_upload(recorder, url.path, reader, length)
        else:
            body = await reader.readexactly(length) if length else b""
            if url.path == "/_bench/calls":
                after = int(dict(parse_qsl(url.query)).get("after", 0))
                answer = {"calls": recorder.calls[after:]}
            elif url.path == "/_bench/config":
                answer = recorder.configure(_json(body.decode()) or {})
            else:
                api = url.path.rsplit("/", 1)[-1]
                params = _params(url.query, body, headers.get("content-type", ""))
                base = f"http://{headers.get('host', '127.0.0.1')}"
                status, answer, wait = recorder.answer(api, params, base)
        _respond(writer, status, answer, wait)
        await writer.drain()
        if headers.get("connection", "").lower() == "close":
            break
    writer.close()


async def _take_upload(
    recorder: Recorder, path: str, reader: asyncio.StreamReader, length: int
) -> str:
    """Count and drop an upload's bytes as they arrive (Slack answers `OK - <bytes>`)."""
    began, left = time.time(), length
    while left:
        left -= len(await reader.read(min(left, 256 * 1024)) or b"")  # a short read is fine
    params = {"file_id": path.rsplit("/", 1)[-1]}
    recorder.record("upload", params, began, status=200, bytes=length, done=time.time())
    return f"OK - {length}"


def _respond(writer: asyncio.StreamWriter, status: int, answer: Any, wait: float) -> None:
    data = answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()
    kind = b"text/plain" if isinstance(answer, str) else b"application/json"
    extra = f"Retry-After: {max(1, round(wait + 0.49))}\r\n".encode() if status == 429 else b""
    writer.write(
        b"HTTP/1.1 " + str(status).encode() + b" " + REASONS.get(status, b"OK") + b"\r\n"
        b"Content-Type: "
        + kind
        + b"; charset=utf-8\r\n"
        + extra
        + b"Content-Length: "
        + str(len(data)).encode()
        + b"\r\n\r\n"
        + data
    )


async def serve(port: int = 0) -> None:
    recorder = Recorder()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await _serve_one(recorder, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
    bound = server.sockets[0].getsockname()[1]
    print(f"listening on http://127.0.0.1:{bound}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
