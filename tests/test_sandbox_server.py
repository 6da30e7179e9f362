"""Serving and configuring the sandbox: env settings, the async server, state across restarts."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from bot.sandbox import SandboxServer, SandboxSettings, settings_from_env, start_in_thread

CREATE = {"type": "avatar", "avatar_id": "Angela-inTshirt-20220820", "script": "Still here?"}


def test_settings_from_env_defaults_and_values() -> None:
    assert settings_from_env({}) == SandboxSettings()
    defaults = SandboxSettings()
    assert defaults.render == "real" and defaults.render_seconds == 0  # ready when rendered
    settings = settings_from_env(
        {
            "SANDBOX_API_KEY": "sk-never-shown",
            "SANDBOX_RENDER": "Static",
            "SANDBOX_RENDER_SECONDS": "0.5",
            "SANDBOX_CONCURRENCY": "3",
            "SANDBOX_AVATARS": "5000",
            "SANDBOX_VOICES": "2000",
            "SANDBOX_STATE_PATH": "/tmp/sandbox.db",
            "SANDBOX_PUBLIC_URL": "https://sandbox.example.com/",
            "SANDBOX_FAULTS": '{"rates": {"500": 0.1}}',
        }
    )
    assert settings == SandboxSettings(
        api_key="sk-never-shown",
        render="static",
        render_seconds=0.5,
        concurrency=3,
        avatars=5000,
        voices=2000,
        state_path="/tmp/sandbox.db",
        public_url="https://sandbox.example.com",
        faults={"rates": {"500": 0.1}},
    )
    assert "sk-never-shown" not in repr(settings)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SANDBOX_RENDER", "fancy"),
        ("SANDBOX_RENDER_SECONDS", "soon"),
        ("SANDBOX_RENDER_SECONDS", "-1"),
        ("SANDBOX_CONCURRENCY", "0"),
        ("SANDBOX_CONCURRENCY", "2.5"),
        ("SANDBOX_AVATARS", "many"),
        ("SANDBOX_VOICES", "0"),
        ("SANDBOX_PUBLIC_URL", "sandbox.local"),
        ("SANDBOX_FAULTS", "[1]"),
    ],
)
def test_bad_env_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=name):
        settings_from_env({name: value})


def test_async_server_in_the_callers_loop() -> None:
    async def main() -> None:
        server = SandboxServer(SandboxSettings())
        url = await server.start()
        assert url == server.url and url.startswith("http://127.0.0.1:")
        async with httpx.AsyncClient(base_url=url) as http:
            assert (await http.get("/v3/voices")).status_code == 200
        await server.stop()
        with pytest.raises(httpx.ConnectError):
            async with httpx.AsyncClient(base_url=url) as http:
                await http.get("/v3/voices")

    asyncio.run(main())


def test_busy_port_raises_oserror_so_callers_can_fall_back() -> None:
    async def main(port: int) -> None:
        with pytest.raises(OSError):
            await SandboxServer(SandboxSettings(), port=port).start()

    with start_in_thread(SandboxSettings()) as taken:
        asyncio.run(main(int(taken.url.rsplit(":", 1)[1])))


def test_state_survives_a_restart(tmp_path: Path) -> None:
    settings = SandboxSettings(
        render="static", render_seconds=0.3, state_path=str(tmp_path / "sandbox.db")
    )
    with start_in_thread(settings) as first, httpx.Client(base_url=first.url) as http:
        video_id = http.post("/v3/videos", json=CREATE).json()["data"]["video_id"]
        time.sleep(0.35)
        old_link = http.get(f"/v3/videos/{video_id}").json()["data"]["video_url"]
    with start_in_thread(settings) as second, httpx.Client(base_url=second.url) as http:
        data = http.get(f"/v3/videos/{video_id}").json()["data"]
        assert data["status"] == "completed"
        assert http.get(old_link.replace(first.url, second.url)).status_code == 200


def test_status_is_computed_from_creation_time_across_restarts(tmp_path: Path) -> None:
    settings = SandboxSettings(
        render="static", render_seconds=0.4, state_path=str(tmp_path / "sandbox.db")
    )
    with start_in_thread(settings) as first, httpx.Client(base_url=first.url) as http:
        video_id = http.post("/v3/videos", json=CREATE).json()["data"]["video_id"]
    time.sleep(0.45)  # the render finishes while no sandbox is running
    with start_in_thread(settings) as second, httpx.Client(base_url=second.url) as http:
        assert http.get(f"/v3/videos/{video_id}").json()["data"]["status"] == "completed"


def test_public_url_is_the_base_of_file_links() -> None:
    settings = SandboxSettings(
        render="static", render_seconds=0, public_url="https://cdn.sandbox.test"
    )
    with start_in_thread(settings) as sandbox, httpx.Client(base_url=sandbox.url) as http:
        video_id = http.post("/v3/videos", json=CREATE).json()["data"]["video_id"]
        data = http.get(f"/v3/videos/{video_id}").json()["data"]
        assert data["video_url"].startswith("https://cdn.sandbox.test/files/videos/")
        looks = http.get("/v3/avatars/looks").json()["data"]
        assert looks[0]["preview_image_url"].startswith("https://cdn.sandbox.test/")


def test_large_catalog_for_benchmarks() -> None:
    settings = SandboxSettings(avatars=5000, voices=2000)
    with start_in_thread(settings) as sandbox, httpx.Client(base_url=sandbox.url) as http:
        avatars = http.get("/v2/avatars").json()["data"]["avatars"]
        assert len(avatars) == 5000 and len({a["avatar_id"] for a in avatars}) == 5000
        page = http.get("/v3/voices", params={"limit": 100}).json()
        assert len(page["data"]) == 100 and page["has_more"]
        assert len(http.get("/v2/voices").json()["data"]["voices"]) == 2000


def test_same_sizes_give_the_same_catalog() -> None:
    ids = []
    for _ in range(2):
        with start_in_thread(SandboxSettings()) as sandbox:
            looks = httpx.get(f"{sandbox.url}/v3/avatars/looks", params={"limit": 50}).json()
            ids.append([look["id"] for look in looks["data"]])
    assert ids[0] == ids[1]


def test_serve_forever_stops_cleanly_on_sigterm() -> None:
    code = (
        "from bot.sandbox import SandboxSettings, serve_forever\n"
        "serve_forever(SandboxSettings(), port=0, announce=lambda line: print(line, flush=True))"
    )
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen(
        [sys.executable, "-c", code], cwd=root, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        url = line.strip().rsplit(" ", 1)[-1]
        assert line.startswith("HeyGen sandbox listening on http://127.0.0.1:")
        assert httpx.get(f"{url}/v3/voices").status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        proc.kill()
