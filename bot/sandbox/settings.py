"""What one sandbox is told at start: keys, rendering, limits, catalog size, storage, faults.

`settings_from_env` is how `python -m bot sandbox` (and anyone embedding the sandbox from
the environment) reads them; a bad value raises ValueError naming the variable.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from ..config import Setting

Number = TypeVar("Number", int, float)

MAX_CATALOG = 100_000
RENDER_MODES = ("real", "static")
DEFAULT_PORT = 4010


@dataclass(frozen=True)
class SandboxSettings:
    """Everything that shapes one sandbox; frozen so a running sandbox cannot drift.

    `render`: "real" renders each video (speech, animated avatar card, GIF, thumbnail,
    captions) and completes it when its files exist; "static" serves the same tiny files for
    every video, instantly (for fast tests of client code). `render_seconds`: with "real",
    the shortest time from create to `completed` (0: as soon as the render is done; more
    stretches the statuses for demos); with "static", the whole timeline.
    `api_key` is the key of the default account; `api_keys` are more accounts, one per key,
    each with its own private avatars, credit, render slots, videos and webhooks.
    """

    api_key: str | None = None
    api_keys: tuple[str, ...] = ()
    render: str = "real"
    render_seconds: float = 0.0
    concurrency: int = 10
    avatars: int = 40
    voices: int = 30
    state_path: str | None = None
    public_url: str | None = None
    faults: dict | None = None

    def __post_init__(self) -> None:
        if self.render not in RENDER_MODES:
            raise ValueError(f"render must be one of {RENDER_MODES}, got {self.render!r}")
        keys = [k for k in (self.api_key, *self.api_keys) if k]
        if len(set(keys)) != len(keys) or len(keys) != len(self.api_keys) + bool(self.api_key):
            raise ValueError("api keys must be non-empty and distinct")

    def __repr__(self) -> str:
        """Never print a key: say only whether one is set, and how many more there are."""
        key = "***" if self.api_key else None
        return (
            f"SandboxSettings(api_key={key}, api_keys={len(self.api_keys)}, "
            f"render={self.render!r}, "
            f"render_seconds={self.render_seconds}, "
            f"concurrency={self.concurrency}, avatars={self.avatars}, voices={self.voices}, "
            f"state_path={self.state_path!r}, public_url={self.public_url!r}, "
            f"faults={self.faults!r})"
        )


def _documented() -> tuple[Setting, ...]:
    """Every SANDBOX_* variable of `python -m bot sandbox`, defaults from SandboxSettings."""
    d = SandboxSettings()
    return (
        Setting("SANDBOX_PORT", str(DEFAULT_PORT), "port to listen on (0 picks a free one)"),
        Setting(
            "SANDBOX_API_KEY",
            None,
            "when set, every call must send it as X-Api-Key (else any key is accepted)",
        ),
        Setting(
            "SANDBOX_API_KEYS",
            None,
            "more keys, comma-separated, each a separate account (own private avatars, "
            "credit, render slots, videos, webhooks); once any key is set, only those work",
        ),
        Setting(
            "SANDBOX_RENDER",
            d.render,
            "real renders every video; static serves the same tiny files, instantly",
        ),
        Setting(
            "SANDBOX_RENDER_SECONDS",
            f"{d.render_seconds:g}",
            "shortest time from create to completed (0: as soon as the render is done); "
            "with static, the whole timeline",
        ),
        Setting(
            "SANDBOX_CONCURRENCY",
            str(d.concurrency),
            "videos in progress at once before create answers 429 with Retry-After",
        ),
        Setting(
            "SANDBOX_AVATARS", str(d.avatars), f"size of the avatar catalog (up to {MAX_CATALOG})"
        ),
        Setting(
            "SANDBOX_VOICES", str(d.voices), f"size of the voice catalog (up to {MAX_CATALOG})"
        ),
        Setting(
            "SANDBOX_STATE_PATH",
            None,
            "SQLite file keeping videos and webhooks across restarts (unset: in memory)",
        ),
        Setting(
            "SANDBOX_PUBLIC_URL",
            None,
            "base URL of file links and webhook payloads, when clients use another address",
        ),
        Setting(
            "SANDBOX_FAULTS",
            None,
            'a JSON fault plan, e.g. {"rates": {"429": 0.1}, "seed": 1} (bot/sandbox/faults.py)',
        ),
    )


SANDBOX_SETTINGS: tuple[Setting, ...] = _documented()


def settings_from_env(environ: Mapping[str, str]) -> SandboxSettings:
    """Read SANDBOX_* variables; unset or empty ones keep their defaults."""
    defaults = SandboxSettings()
    public_url = _text(environ, "SANDBOX_PUBLIC_URL")
    if public_url and not public_url.startswith(("http://", "https://")):
        raise ValueError(f"SANDBOX_PUBLIC_URL must be an http(s) URL, got {public_url!r}")
    render = (_text(environ, "SANDBOX_RENDER") or defaults.render).lower()
    if render not in RENDER_MODES:
        raise ValueError(f"SANDBOX_RENDER must be real or static, got {render!r}")
    return SandboxSettings(
        api_key=_text(environ, "SANDBOX_API_KEY"),
        api_keys=_keys(environ, "SANDBOX_API_KEYS"),
        render=render,
        render_seconds=_number(
            environ, "SANDBOX_RENDER_SECONDS", float, 0, defaults.render_seconds
        ),
        concurrency=_number(environ, "SANDBOX_CONCURRENCY", int, 1, defaults.concurrency),
        avatars=_number(environ, "SANDBOX_AVATARS", int, 1, defaults.avatars, MAX_CATALOG),
        voices=_number(environ, "SANDBOX_VOICES", int, 1, defaults.voices, MAX_CATALOG),
        state_path=_text(environ, "SANDBOX_STATE_PATH"),
        public_url=public_url.rstrip("/") if public_url else None,
        faults=_faults(environ),
    )


def _text(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name, "").strip()
    return value or None


def _keys(environ: Mapping[str, str], name: str) -> tuple[str, ...]:
    """A comma-separated list of keys; a repeated key is an error (it would be two accounts
    with one key), and the message never shows a key."""
    keys = tuple(k.strip() for k in (_text(environ, name) or "").split(",") if k.strip())
    if len(set(keys)) != len(keys):
        raise ValueError(f"{name} lists the same key twice")
    if _text(environ, "SANDBOX_API_KEY") in keys:
        raise ValueError(f"{name} repeats SANDBOX_API_KEY (that key is the default account)")
    return keys


def _number(
    environ: Mapping[str, str],
    name: str,
    parse: Callable[[str], Number],
    low: Number,
    default: Number,
    high: Number | None = None,
) -> Number:
    raw = _text(environ, name)
    if raw is None:
        return default
    try:
        value = parse(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None
    if value != value or value < low or (high is not None and value > high):  # NaN too
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ValueError(f"{name} must be {bounds}, got {raw!r}")
    return value


def _faults(environ: Mapping[str, str]) -> dict[str, Any] | None:
    raw = _text(environ, "SANDBOX_FAULTS")
    if raw is None:
        return None
    try:
        plan = json.loads(raw)
    except json.JSONDecodeError:
        raise ValueError("SANDBOX_FAULTS must be a JSON object") from None
    if not isinstance(plan, dict):
        raise ValueError("SANDBOX_FAULTS must be a JSON object")
    return plan
