"""The container files, tested without a Docker engine: what compose runs, what the
image is built from, and the HEALTHCHECK command against a real bot."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import PurePosixPath

import pytest
import yaml

from tests.harness import ROOT, free_port


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile as (INSTRUCTION, arguments), continuation lines joined."""
    joined = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in joined.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def instruction(name: str) -> list[str]:
    return [args for kind, args in instructions() if kind == name]


def image_env() -> dict[str, str]:
    """ENV of the image (the `KEY=value ...` form)."""
    env: dict[str, str] = {}
    for args in instruction("ENV"):
        env |= dict(pair.split("=", 1) for pair in args.split())
    return env


def healthcheck_command() -> list[str]:
    (args,) = instruction("HEALTHCHECK")
    return json.loads(args.split("CMD", 1)[1])


def test_image_runs_the_bot_as_a_user_with_its_database_on_a_volume() -> None:
    (base,) = instruction("FROM")
    assert base.startswith("python:3.11-slim")
    assert instruction("USER") and instruction("USER")[-1].split(":")[0] not in ("root", "0")
    (volume,) = instruction("VOLUME")
    assert PurePosixPath(image_env()["DATABASE_PATH"]).parent == PurePosixPath(volume)
    assert instruction("EXPOSE") == [image_env()["PORT"]]
    assert json.loads(instruction("CMD")[-1]) == ["python", "-m", "bot"]
    assert any("espeak-ng" in run for run in instruction("RUN"))


def test_compose_runs_the_dockerfile_with_a_named_volume_and_the_healthcheck() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    (service,) = compose["services"].values()
    build = service["build"]
    assert (ROOT / build["context"] / build.get("dockerfile", "Dockerfile")).resolve() == (
        ROOT / "Dockerfile"
    )
    assert service["env_file"] == ".env"
    env = service["environment"]
    volumes = dict(v.split(":", 1) for v in service["volumes"])
    database_dir = str(PurePosixPath(env["DATABASE_PATH"]).parent)
    named = [name for name, target in volumes.items() if target == database_dir]
    assert named and named[0] in compose["volumes"], "the database is on a named volume"
    assert service["healthcheck"]["test"] == ["CMD", *healthcheck_command()]
    assert f"3000:{env['PORT']}" in service["ports"]
    assert env["METRICS_PORT"] == env["PORT"]  # Socket Mode: the same port answers /healthz


def test_the_image_files_build_the_bot(tmp_path) -> None:
    """`docker build` installs from exactly the files the Dockerfile copies; so does this."""
    context = tmp_path / "src"
    for args in instruction("COPY"):
        *sources, target = args.split()
        for source in sources:
            destination = context / PurePosixPath(target).relative_to("/src")
            if (ROOT / source).is_dir():  # Docker copies a folder's contents into the target
                shutil.copytree(ROOT / source, destination, dirs_exist_ok=True)
            else:
                destination.mkdir(parents=True, exist_ok=True)
                shutil.copy(ROOT / source, destination)
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", wheels, context],
        check=True,
        timeout=300,
    )
    (wheel,) = wheels.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"bot/__main__.py", "bot/healthcheck.py", "bot/sandbox/assets/video.mp4"} <= names


class _Healthz(BaseHTTPRequestHandler):
    status = 503

    def do_GET(self) -> None:
        body = json.dumps({"ok": False, "database": "unavailable"}).encode()
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def unhealthy_port() -> Iterator[int]:
    """A server whose /healthz answers 503, as the bot's does when something is wrong."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Healthz)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


def run_healthcheck(**env: str) -> subprocess.CompletedProcess:
    """The image's HEALTHCHECK command, with this interpreter as the image's `python`."""
    command = healthcheck_command()
    assert command[0] == "python"
    clean = {k: v for k, v in os.environ.items() if k not in ("SLACK_APP_TOKEN", "METRICS_PORT")}
    return subprocess.run(
        [sys.executable, *command[1:]],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_healthcheck_passes_for_a_running_bot(make_bot) -> None:
    bot = make_bot()
    port = bot.url.rsplit(":", 1)[1]
    assert run_healthcheck(PORT=port).returncode == 0


def test_healthcheck_fails_when_healthz_says_503_or_nothing_answers(unhealthy_port) -> None:
    sick = run_healthcheck(PORT=str(unhealthy_port))
    assert sick.returncode == 1 and "503" in sick.stderr and "unavailable" in sick.stderr
    down = run_healthcheck(PORT=str(free_port()))
    assert down.returncode == 1 and "did not answer" in down.stderr


def test_healthcheck_asks_metrics_port_in_socket_mode(unhealthy_port, make_bot) -> None:
    bot = make_bot()
    healthy = bot.url.rsplit(":", 1)[1]
    socket_mode = {"SLACK_APP_TOKEN": "xapp-standin-not-a-real-token", "PORT": healthy}
    assert run_healthcheck(**socket_mode, METRICS_PORT=str(unhealthy_port)).returncode == 1
    assert run_healthcheck(**socket_mode, METRICS_PORT=healthy).returncode == 0


def test_replicas_compose_runs_two_bots_on_postgres_behind_one_entry() -> None:
    compose = yaml.safe_load((ROOT / "compose.replicas.yaml").read_text())
    services = compose["services"]
    bot = services["bot"]
    assert bot["deploy"]["replicas"] >= 2
    assert bot["environment"]["DATABASE_URL"].startswith("postgresql://")
    assert "@postgres:" in bot["environment"]["DATABASE_URL"]
    assert bot["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert bot["healthcheck"]["test"] == ["CMD", *healthcheck_command()]
    assert "ports" not in bot, "replicas share the entry point's port"
    assert "3000:80" in services["entry"]["ports"]
    assert "bot:3000" in compose["configs"]["entry"]["content"]
    (volume,) = services["postgres"]["volumes"]
    assert volume.split(":", 1)[0] in compose["volumes"], "the database is on a named volume"
