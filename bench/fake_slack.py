"""A deliberately thin Slack Web API for the benchmark: answers `ok` and records arrivals.

tests/fakes/slack_api.py validates every Block Kit payload in a thread per connection;
that is right for tests and wrong for a benchmark, where the fake must never be the
slow part. This one is a bare asyncio HTTP/1.1 server (keep-alive, one write per answer)
in its own process. It records, per call, what the benchmark measures: the method, when it
arrived, and for messages the job id the bot puts in `metadata`.

Run: `python -m bench.fake_slack` prints `listening on http://127.0.0.1:PORT`.
`GET /_bench/calls?after=N` returns the calls recorded after the N-th.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import time
from typing import Any
from urllib.parse import parse_qsl, urlsplit

BOT = {"user_id": "U0BOT", "bot_id": "B0001", "team_id": "T0001", "team": "Fake", "user": "bot"}


class Recorder:
    """Every Web API call, in arrival order, and Slack-like answers to them."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self._ts = itertools.count(1)

    def answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        arrived = time.time()
        meta = params.get("metadata")
        if isinstance(meta, str):
            meta = _json(meta)
        payload = (meta or {}).get("event_payload") or {}
        self.calls.append(
            {
                "method": method,
                "at": arrived,
                "channel": params.get("channel"),
                "thread_ts": params.get("thread_ts"),
                "job_id": payload.get("job_id"),
                "kind": payload.get("kind"),
            }
        )
        ts = f"{int(arrived)}.{next(self._ts):06d}"
        if method in ("chat.postMessage", "chat.update"):
            return {"ok": True, "channel": params.get("channel"), "ts": params.get("ts") or ts}
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
        body = await reader.readexactly(length) if length else b""
        url = urlsplit(target)
        if url.path == "/_bench/calls":
            after = int(dict(parse_qsl(url.query)).get("after", 0))
            answer: Any = {"calls": recorder.calls[after:]}
        else:
            api = url.path.rsplit("/", 1)[-1]
            answer = recorder.answer(api, _params(url.query, body, headers.get("content-type", "")))
        data = json.dumps(answer).encode()
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n"
            b"Content-Length: " + str(len(data)).encode() + b"\r\n\r\n" + data
        )
        await writer.drain()
        if headers.get("connection", "").lower() == "close":
            break
    writer.close()


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
