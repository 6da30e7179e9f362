"""What the benchmark asks of the bot: scripts with realistic render times, signed Slack
requests, and a steady-rate sender that times each answer.

Render times follow script length, as HeyGen's do: a few minutes of fixed overhead plus a
share per spoken second, ±15 % jitter, and a tail of slow renders ("sometimes more").
Everything is in real seconds here; a run multiplies by its time scale.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from bot.playground import inbound as sr
from bot.sandbox.catalog import build_catalog
from tests.flows import form_values

WORDS = [
    "team",
    "quarterly",
    "update",
    "launch",
    "customer",
    "welcome",
    "product",
    "roadmap",
    "thanks",
    "everyone",
    "progress",
    "goals",
    "feedback",
    "onboarding",
    "release",
    "support",
    "training",
    "video",
    "summary",
]
SPOKEN_WORDS_PER_SECOND = 2.5  # the sandbox's and a typical avatar's pace
SLOW_SHARE = 0.05  # one render in twenty takes about twice as long


@dataclass(frozen=True)
class Order:
    """One video a benchmark user asks for, and how long the sandbox will render it."""

    script: str
    render_seconds: float  # real seconds, before scaling


def render_seconds(words: int, rng: random.Random) -> float:
    """5–15 minutes for 20–300 words: 240 s overhead + 5 s per spoken second, jittered."""
    spoken = words / SPOKEN_WORDS_PER_SECOND
    seconds = (240 + 5 * spoken) * rng.uniform(0.85, 1.15)
    if rng.random() < SLOW_SHARE:
        seconds *= rng.uniform(1.6, 2.0)
    return seconds


def orders(count: int, scale: float, rng: random.Random, max_chars: int) -> list[Order]:
    """`count` scripts with their scaled render time written in as a sandbox marker.

    Scripts run from 20 to 300 words, fewer where the API's script limit (`max_chars`,
    1,500 on v2) does not allow that many.
    """
    most = min(300, (max_chars - 40) // 10)
    made = []
    for _ in range(count):
        words = rng.randint(20, most)
        seconds = render_seconds(words, rng)
        text = " ".join(rng.choice(WORDS) for _ in range(words))[: max_chars - 40]
        made.append(Order(f"{text} [sandbox:render:{seconds * scale:.3f}]", seconds))
    return made


@dataclass(frozen=True)
class Catalog:
    """Ids and search words the benchmark can use (the sandbox catalog is deterministic)."""

    avatar_ids: list[str]
    voice_ids: list[str]
    avatar_queries: list[str]
    voice_queries: list[str]


def catalog(avatars: int, voices: int) -> Catalog:
    built = build_catalog(avatars, voices)
    usable = [a for a in built.avatars if a.engines]
    words = sorted({w.lower() for a in usable for w in a.name.split()})
    voice_words = sorted({w.lower() for v in built.voices for w in v.name.split()})
    return Catalog(
        avatar_ids=[a.avatar_id for a in usable],
        voice_ids=[v.voice_id for v in built.voices],
        avatar_queries=["", "female", "male", *words[:200], *(w[:3] for w in words[:100])],
        voice_queries=["", "english", "spanish female", *voice_words[:200]],
    )


def submission(order: Order, cat: Catalog, rng: random.Random, n: int) -> sr.SignedRequest:
    # Spread over channels as people would: Slack (and the bot's pacing) allows about one
    # message a second per channel, which would otherwise be the whole measurement.
    channel = f"C0BENCH{n % 100:03d}"
    values = form_values(
        rng.choice(cat.avatar_ids), rng.choice(cat.voice_ids), order.script, post_to=channel
    )
    meta = json.dumps({"channel_id": sr.CHANNEL_ID, "thread_ts": None})
    return sr.view_submission(
        "heygen_create", values, private_metadata=meta, user_id=f"U{n % 50:04d}"
    )


def command(rng: random.Random) -> sr.SignedRequest:
    return sr.slash_command(rng.choice(["", "Hello team!", "Quarterly update for everyone"]))


def typeahead(cat: Catalog, rng: random.Random) -> sr.SignedRequest:
    if rng.random() < 0.5:
        return sr.block_suggestion("avatar", "avatar", rng.choice(cat.avatar_queries))
    return sr.block_suggestion("voice", "voice", rng.choice(cat.voice_queries))


@dataclass
class Timed:
    """One request's answer: which kind, its latency in seconds, and its HTTP status."""

    kind: str
    seconds: float
    status: int
    options: int = 0


async def fire(
    client: httpx.AsyncClient,
    url: str | list[str],
    make: list[tuple[str, Callable[[], sr.SignedRequest]]],
    rate: float,
) -> list[Timed]:
    """Send each request at a steady `rate` per second, without waiting for answers.

    Each request is built (and signed) just before its slot, so its timestamp is fresh,
    and timed from the moment it is handed to the connection until the whole answer is in.
    Several URLs (replicas) take the requests in turn, as a round-robin load balancer.
    """
    urls = [url] if isinstance(url, str) else url
    results: list[Timed] = []
    tasks = []
    start = time.perf_counter()

    async def one(kind: str, request: sr.SignedRequest, target: str) -> None:
        began = time.perf_counter()
        try:
            answer = await client.post(target, content=request.body, headers=request.headers)
            status, body = answer.status_code, answer.content
        except httpx.HTTPError:
            status, body = 0, b""
        seconds = time.perf_counter() - began
        if kind == "submit" and b'"response_action"' in body:
            status = 422  # the modal was sent back with errors: the job was not recorded
        options = body.count(b'"value"') if kind == "typeahead" else 0
        results.append(Timed(kind, seconds, status, options))

    for i, (kind, build) in enumerate(make):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(kind, build(), urls[i % len(urls)])))
    await asyncio.gather(*tasks)
    return results
