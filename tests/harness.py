"""Runs the real bot over loopback HTTP: in a thread (fast) or as a subprocess (restarts).

Both ways go through `python -m bot`'s own code path (settings from an environment,
the Starlette app, uvicorn), pointed at the fake Slack and the HeyGen sandbox.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from bot.config import load_settings
from bot.playground.inbound import BOT_TOKEN, SIGNING_SECRET, USER_ID, SignedRequest
from bot.server import create_http_app

ROOT = Path(__file__).resolve().parent.parent
# One client for every test request: `httpx.get()` builds a client (and a TLS context)
# per call, about 70 ms each, which adds up across hundreds of waits and sends.
HTTP = httpx.Client(timeout=10.0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bot_env(slack_url: str, heygen_url: str | None, db_path: str, **extra: Any) -> dict[str, str]:
    """The environment an operator would set, aimed at the local fakes."""
    env = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack_url,
        "DATABASE_PATH": db_path,
        "POLL_INTERVAL_SECONDS": "0.2",
        "POLL_MAX_INTERVAL_SECONDS": "0.5",
        "HEYGEN_RENDER_ESTIMATE_SECONDS": "0.5",  # the test sandbox renders in about 1 s
        "SANDBOX_PORT": "0",
        "HEYGEN_MAX_RPS": "500",
        # Per-person limits are tested on their own (test_limits.py); elsewhere one test
        # user may start many videos at once.
        "MAX_RUNNING_PER_USER": "0",
        "MAX_VIDEOS_PER_USER_PER_DAY": "0",
    }
    if heygen_url:
        env |= {"HEYGEN_API_URL": heygen_url, "HEYGEN_API_KEY": "test-heygen-key"}
    env |= {k: str(v) for k, v in extra.items()}
    return env


class ThreadBot:
    """The bot's HTTP app served by uvicorn in a background thread."""

    def __init__(self, env: dict[str, str], *, healthy: bool = True) -> None:
        """`healthy=False`: wait only until /healthz answers (a bot started with a key HeyGen
        rejects is serving, and rightly says 503)."""
        self.env = env
        self.settings = load_settings(env)
        # IPPROTO_TCP explicitly: with proto=0 asyncio skips TCP_NODELAY (~40 ms a reply).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind(("127.0.0.1", int(env.get("PORT") or 0)))  # PORT: a URL known beforehand
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        config = uvicorn.Config(
            create_http_app(self.settings), log_config=None, access_log=False, lifespan="on"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self._thread.start()
        wait_healthy(self.url, answering=not healthy)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)

    @property
    def services(self) -> Any:
        """The running bot's Services (for tests that break what Slack cannot)."""
        return self._server.config.app.state.services

    def send(self, request: SignedRequest, path: str = "/slack/events") -> httpx.Response:
        return HTTP.post(self.url + path, content=request.body, headers=request.headers, timeout=10)

    def send_get(self, path: str) -> httpx.Response:
        return httpx.get(self.url + path, timeout=10)


class ProcessBot:
    """`python -m bot` as a child process, for kill-and-restart tests."""

    def __init__(
        self,
        env: dict[str, str],
        log_path: Path,
        *,
        args: tuple[str, ...] = (),
        cwd: Path = ROOT,
    ) -> None:
        self.port = int(env.get("PORT") or free_port())
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), **env, "PORT": str(self.port)}
        self.log_path = log_path
        self.args, self.cwd = args, cwd
        self.proc: subprocess.Popen | None = None

    def launch(self) -> ProcessBot:
        """Start the process without waiting for it to become healthy."""
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot", *self.args],
                cwd=self.cwd,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    def start(self) -> ProcessBot:
        self.launch()
        wait_healthy(self.url, proc=self.proc)
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_exit(self, timeout: float = 30) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def terminate(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(20)

    def send(self, request: SignedRequest, path: str = "/slack/events") -> httpx.Response:
        return HTTP.post(self.url + path, content=request.body, headers=request.headers, timeout=10)


def wait_healthy(
    url: str, timeout: float = 30.0, proc: subprocess.Popen | None = None, answering: bool = False
) -> None:
    """Until /healthz says 200 (or, with `answering`, says anything at all)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"bot exited with {proc.returncode} before becoming healthy")
        try:
            status = HTTP.get(url + "/healthz", timeout=1).status_code
            if status == 200 or (answering and status == 503):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"bot at {url} not healthy within {timeout}s")


def wait_until(predicate: Any, timeout: float = 30.0, message: str = "condition") -> Any:
    """Poll `predicate` until it returns something truthy; fail with `message`.

    The timeout is generous on purpose: a passing test never waits for it, and a loaded
    machine must not turn a slow pass into a failure.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {message}")


NO_SLACK = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "DOTENV_PATH")
PLAYGROUND_FAST = {
    "SANDBOX_PORT": "0",
    "SANDBOX_RENDER": "static",
    "SANDBOX_RENDER_SECONDS": "0.5",
    "POLL_INTERVAL_SECONDS": "0.2",
    "POLL_MAX_INTERVAL_SECONDS": "0.5",
}


def playground_environment(**env: str) -> dict[str, str]:
    """This process's environment without any Slack setting, renders made fast, then `env`."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK", *NO_SLACK))}
    return {**inherited, "PYTHONPATH": str(ROOT), **PLAYGROUND_FAST, **env}


class PlaygroundProcess:
    """`python -m bot [playground]` in a fresh folder with no Slack setting, and its page API.

    Ready once it says "Playground: open": the page answers earlier, while the bot behind
    it is still starting, and a command sent then fails as Slack's would.
    """

    def __init__(self, folder: Path, *args: str, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = folder / "playground.log"
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot", *args],
                cwd=folder,
                env=playground_environment(**env, PORT=str(self.port)),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_until(
            lambda: "Playground: open" in self.log() or self.proc.poll() is not None,
            timeout=60,
            message="the playground to start",
        )
        assert self.proc.poll() is None, self.log()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def state(self, user: str = USER_ID) -> dict[str, Any]:
        return HTTP.get(f"{self.url}/playground/state", params={"as": user}).json()

    def post(self, route: str, **body: Any) -> dict[str, Any]:
        answer = HTTP.post(f"{self.url}/playground/{route}", json=body, timeout=15)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def interact(self, kind: str, user: str = USER_ID, **body: Any) -> dict[str, Any]:
        return self.post("interact", type=kind, **{"as": user}, **body)

    def stop(self) -> int:
        self.proc.terminate()
        return self.proc.wait(30)
