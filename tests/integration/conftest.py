"""Real Celery workers (subprocesses) on a real Redis broker, on the PostgreSQL test database."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from portal.celery import app as celery_app
from portal.testing.services import MissingService, PostgresServer, RedisServer
from tests.conftest import service_missing

ROOT = Path(__file__).resolve().parents[2]


def database_url(settings: Any) -> str:
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def drop_broker_connections() -> None:
    """Forget pooled broker connections made under the previous broker setting."""
    celery_app.close()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def broker_redis(redis_server: RedisServer) -> RedisServer:
    """The Redis the broker fixture uses (a test module may override it)."""
    return redis_server


@pytest.fixture
def broker(broker_redis: RedisServer, settings: Any, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Point this process's Celery at Redis (not eager) and share a media folder with workers."""
    media = tmp_path / "media"
    media.mkdir()
    settings.MEDIA_ROOT = str(media)
    saved = {k: celery_app.conf[k] for k in ("task_always_eager", "broker_url")}
    celery_app.conf.update(task_always_eager=False, broker_url=broker_redis.url)
    drop_broker_connections()
    env = {
        **os.environ,
        "DATABASE_URL": database_url(settings),
        "CELERY_BROKER_URL": broker_redis.url,
        "MEDIA_ROOT": str(media),
        "DB_CONN_MAX_AGE": "0",
    }
    yield env
    celery_app.conf.update(saved)
    drop_broker_connections()
    import redis

    redis.Redis.from_url(broker_redis.url).flushall()


@pytest.fixture
def pg_server(settings: Any) -> Iterator[PostgresServer]:
    """The throwaway PostgreSQL this pass runs on, to stop and restart in a fault test.

    The test database's sessions commit synchronously meanwhile (the server runs with
    synchronous_commit off for speed): an immediate stop then loses nothing a client saw
    committed, as on a production server.
    """
    try:
        server = PostgresServer.from_env()
    except MissingService as exc:
        service_missing(exc)
    name = settings.DATABASES["default"]["NAME"]
    with connection.cursor() as cursor:
        cursor.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = on')
    connection.close()
    yield server
    if not server.is_running():
        server.restart()
    connection.close()
    with connection.cursor() as cursor:
        cursor.execute(f'ALTER DATABASE "{name}" RESET synchronous_commit')


@pytest.fixture
def start_worker(
    broker: dict[str, str], tmp_path: Path
) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start real `celery worker` processes; all are stopped at the end of the test."""
    workers: list[subprocess.Popen[bytes]] = []

    def start(name: str = "w1", **env: str) -> subprocess.Popen[bytes]:
        log = (tmp_path / f"{name}.log").open("wb")
        proc = subprocess.Popen(  # noqa: S603
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "tests.integration.worker_app",
                "worker",
                "--pool=solo",
                "--concurrency=1",
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
                "-n",
                f"{name}@%h",
                "-l",
                "info",
            ],
            cwd=ROOT,
            env={**broker, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        workers.append(proc)
        return proc

    yield start
    for proc in workers:
        if proc.poll() is None:
            proc.terminate()
    for proc in workers:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def wait_for(condition: Callable[[], bool], timeout: float = 90.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")
