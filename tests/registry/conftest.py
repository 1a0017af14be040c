"""Registry fixtures: every store test runs on SQLite and on a throwaway PostgreSQL.

The PostgreSQL server is started once per session on 127.0.0.1 with trust
authentication in a temporary directory, and stopped at the end. initdb refuses
to run as root, so under root the server runs as the ``postgres`` system user.
Without PostgreSQL binaries the fixture fails, unless LLMCERT_TEST_POSTGRES=skip.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from llmcert.registry import Registry, open_registry

BACKENDS = ("sqlite", "postgresql")


def _find_binaries() -> tuple[str, str] | None:
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl:
        return initdb, pg_ctl
    # Debian keeps them off PATH, one directory per major version: newest first.
    dirs = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda d: int(Path(d).parent.name) if Path(d).parent.name.isdigit() else 0,
        reverse=True,
    )
    for directory in dirs:
        initdb, pg_ctl = f"{directory}/initdb", f"{directory}/pg_ctl"
        if os.access(initdb, os.X_OK) and os.access(pg_ctl, os.X_OK):
            return initdb, pg_ctl
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/{database}"

    def admin(self) -> psycopg.Connection[Any]:
        return psycopg.connect(
            host=self.host, port=self.port, user="postgres", dbname="postgres", autocommit=True
        )


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    binaries = _find_binaries()
    if binaries is None:
        if os.environ.get("LLMCERT_TEST_POSTGRES") == "skip":
            pytest.skip("PostgreSQL tests disabled by LLMCERT_TEST_POSTGRES=skip")
        pytest.fail(
            "PostgreSQL binaries (initdb, pg_ctl) not found on PATH or in /usr/lib/postgresql/*/bin;"
            " install them (Debian: apt-get install postgresql) or set LLMCERT_TEST_POSTGRES=skip",
            pytrace=False,
        )
    initdb, pg_ctl = binaries
    run_as: dict[str, Any] = {}
    workdir = Path(tempfile.mkdtemp(prefix="llmcert-pg-"))
    if os.geteuid() == 0:
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(workdir)
            pytest.fail(
                "running as root, and initdb refuses root: create a 'postgres' system user "
                "(the Debian postgresql package does)",
                pytrace=False,
            )
        os.chown(workdir, account.pw_uid, account.pw_gid)
        run_as = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "HOME": str(workdir)}
    data, logfile, port = workdir / "data", workdir / "server.log", _free_port()

    def run(*args: str) -> None:
        done = subprocess.run(
            args, env=env, cwd=workdir, capture_output=True, text=True, check=False, **run_as
        )
        if done.returncode != 0:
            log = logfile.read_text(errors="replace")[-2000:] if logfile.exists() else ""
            pytest.fail(
                f"{Path(args[0]).name} failed ({done.returncode}):\n{done.stdout}{done.stderr}{log}",
                pytrace=False,
            )

    options = f"-c listen_addresses=127.0.0.1 -c port={port} -k {workdir} -c fsync=off"
    started = False
    try:
        run(initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
            "--locale=C", "--no-sync")  # fmt: skip
        run(pg_ctl, "-D", str(data), "-l", str(logfile), "-w", "-t", "60", "-o", options, "start")
        started = True
        yield PostgresServer("127.0.0.1", port)
    finally:
        if started:
            run(pg_ctl, "-D", str(data), "-m", "fast", "-w", "-t", "60", "stop")
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def pg_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database on the session's server, dropped afterwards."""
    name = "t_" + uuid.uuid4().hex[:16]
    with postgres_server.admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield postgres_server.url(name)
    with postgres_server.admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'registry.sqlite'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def registry(db_url: str) -> Iterator[Registry]:
    opened = open_registry(db_url)
    yield opened
    opened.close()
