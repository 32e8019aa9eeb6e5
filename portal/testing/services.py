"""Throwaway PostgreSQL and Redis servers started from the installed binaries, for tests/benches.

When a binary is missing, ``MissingService`` names the Debian packages to install; the test
suite turns that into a one-line skip, or into a failure when ``OPENMDMR_REQUIRE_SERVICES=1``
(as in CI).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

PG_BIN_DIRS = [Path(p) for p in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)]


class MissingService(RuntimeError):
    """A server binary is not installed."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def services_required() -> bool:
    return os.environ.get("OPENMDMR_REQUIRE_SERVICES", "") in {"1", "true", "yes"}


def _pg_bin(name: str) -> str:
    for directory in PG_BIN_DIRS:
        if (directory / name).exists():
            return str(directory / name)
    found = shutil.which(name)
    if found is None:
        raise MissingService(f"PostgreSQL '{name}' not found: apt-get install postgresql")
    return found


def _as_postgres_user() -> list[str]:
    """PostgreSQL refuses to run as root: run its binaries as the 'postgres' user then."""
    if os.geteuid() != 0:
        return []
    if shutil.which("runuser") is None:
        raise MissingService("running as root needs 'runuser': apt-get install util-linux")
    return ["runuser", "-u", "postgres", "--"]


@dataclass
class PostgresServer:
    """A private PostgreSQL cluster in a temporary directory, on a free loopback port."""

    datadir: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    @classmethod
    def start(cls) -> PostgresServer:
        initdb = _pg_bin("initdb")
        prefix = _as_postgres_user()
        root = Path(tempfile.mkdtemp(prefix="openmdmr-pg-"))
        if prefix:
            shutil.chown(root, user="postgres")
        server = cls(datadir=root / "data", port=free_port())
        subprocess.run(
            [
                *prefix,
                initdb,
                "-D",
                str(server.datadir),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
        )
        server.restart()  # the first start
        return server

    @classmethod
    def from_env(cls) -> PostgresServer:
        """The server `python -m portal.testing.pgserver` started for this process's command
        (OPENMDMR_PG_DATADIR and DATABASE_URL), e.g. to stop and restart it in a fault test."""
        datadir = os.environ.get("OPENMDMR_PG_DATADIR", "")
        url = os.environ.get("DATABASE_URL", "")
        if not datadir or not url.startswith("postgres"):
            raise MissingService(
                "no throwaway PostgreSQL: run under python -m portal.testing.pgserver"
            )
        return cls(datadir=Path(datadir), port=int(url.rsplit(":", 1)[1].split("/", 1)[0]))

    @property
    def options(self) -> str:
        # Fast and unsafe only against an OS crash (fsync off): a killed server loses nothing
        # a client saw committed when the session sets synchronous_commit on.
        return (
            f"-p {self.port} -k {self.datadir.parent} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=200 -c shared_buffers=256MB"
        )

    def stop(self, mode: str = "fast") -> None:
        subprocess.run(
            [
                *_as_postgres_user(),
                _pg_bin("pg_ctl"),
                "-D",
                str(self.datadir),
                "-m",
                mode,
                "-w",
                "stop",
            ],
            check=False,
            capture_output=True,
        )

    def is_running(self) -> bool:
        status = [*_as_postgres_user(), _pg_bin("pg_ctl"), "-D", str(self.datadir), "status"]
        return subprocess.run(status, capture_output=True, check=False).returncode == 0  # noqa: S603

    def restart(self) -> None:
        """Start the (stopped) server again, on the same port with the same options."""
        subprocess.run(
            [
                *_as_postgres_user(),
                _pg_bin("pg_ctl"),
                "-D",
                str(self.datadir),
                "-o",
                self.options,
                "-l",
                str(self.datadir.parent / "log"),
                "-w",
                "start",
            ],
            check=True,
            capture_output=True,
        )

    def cleanup(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.datadir.parent, ignore_errors=True)


@dataclass
class RedisServer:
    """A private Redis on a free loopback port, no persistence."""

    port: int
    process: subprocess.Popen[bytes]
    datadir: Path | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @classmethod
    def start(cls, port: int | None = None, datadir: Path | None = None) -> RedisServer:
        """A Redis without persistence, or with an append-only file in ``datadir`` (as a
        production broker has: queued tasks then survive a restart)."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise MissingService("Redis not found: apt-get install redis-server")
        port = port or free_port()
        persistence = ["--appendonly", "no"]
        if datadir is not None:
            persistence = ["--appendonly", "yes", "--appendfsync", "always", "--dir", str(datadir)]
        process = subprocess.Popen(  # noqa: S603
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", *persistence],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        server = cls(port=port, process=process, datadir=datadir)
        server.wait_ready()
        return server

    def restart(self) -> None:
        """Stop the server (SIGTERM) and start it again on the same port."""
        self.stop()
        self.process = RedisServer.start(port=self.port, datadir=self.datadir).process

    def wait_ready(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis on port {self.port} did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
