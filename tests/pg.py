"""A PostgreSQL server for the tests: `TEST_DATABASE_URL`, else a throwaway cluster.

The throwaway cluster is Debian's `postgresql` package (`.ci/run` installs it): initdb in
a temp dir, trust authentication, a free port on 127.0.0.1, stopped at the end of the
session. As root the server runs as the `postgres` user, since PostgreSQL refuses root.
When neither is available, `why_not` says why and the PostgreSQL cases are skipped.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass

import psycopg


@dataclass
class PgServer:
    url: str  # the server's maintenance database (postgres)
    stop: object = None

    def new_database(self) -> str:
        """A fresh, empty database on the server; its URL."""
        name = "t_" + uuid.uuid4().hex[:16]
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"create database {name}")
        return self.url.rsplit("/", 1)[0] + "/" + name


def start_server() -> tuple[PgServer | None, str]:
    """A running server and "", or None and the reason there is none."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return PgServer(url), ""
    binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not binaries:
        return None, "no PostgreSQL: set TEST_DATABASE_URL or apt-get install postgresql"
    bindir = os.path.dirname(binaries[-1])
    as_user: list[str] = []
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return None, "running as root and there is no postgres user to run PostgreSQL as"
        as_user = ["runuser", "-u", "postgres", "--"]
    home = tempfile.mkdtemp(prefix="pgtest-")
    data = os.path.join(home, "data")
    if as_user:
        shutil.chown(home, "postgres")
    port = _free_port()
    try:
        _quiet([*as_user, f"{bindir}/initdb", "-D", data, "-A", "trust", "-U", "postgres"])
        options = f"-p {port} -k {home} -c listen_addresses=127.0.0.1 -c fsync=off"
        options += " -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
        ctl = [*as_user, f"{bindir}/pg_ctl", "-D", data]
        _quiet([*ctl, "-o", options, "-l", f"{home}/log", "-w", "start"])
    except (OSError, subprocess.CalledProcessError) as error:
        shutil.rmtree(home, ignore_errors=True)
        return None, f"could not start a throwaway PostgreSQL: {error}"

    def stop() -> None:
        with contextlib.suppress(OSError, subprocess.CalledProcessError):
            _quiet([*as_user, f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "stop"])
        shutil.rmtree(home, ignore_errors=True)

    return PgServer(f"postgresql://postgres@127.0.0.1:{port}/postgres", stop), ""


def _quiet(command: list[str]) -> None:
    subprocess.run(command, check=True, capture_output=True, timeout=120)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
