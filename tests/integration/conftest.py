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

from portal.celery import app as celery_app
from portal.testing.services import RedisServer

ROOT = Path(__file__).resolve().parents[2]


def database_url(settings: Any) -> str:
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def _drop_connections() -> None:
    """Forget pooled broker connections made under the previous broker setting."""
    celery_app.close()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def broker(redis_server: RedisServer, settings: Any, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Point this process's Celery at Redis (not eager) and share a media folder with workers."""
    media = tmp_path / "media"
    media.mkdir()
    settings.MEDIA_ROOT = str(media)
    saved = {k: celery_app.conf[k] for k in ("task_always_eager", "broker_url")}
    celery_app.conf.update(task_always_eager=False, broker_url=redis_server.url)
    _drop_connections()
    env = {
        **os.environ,
        "DATABASE_URL": database_url(settings),
        "CELERY_BROKER_URL": redis_server.url,
        "MEDIA_ROOT": str(media),
        "DB_CONN_MAX_AGE": "0",
    }
    yield env
    celery_app.conf.update(saved)
    _drop_connections()
    import redis

    redis.Redis.from_url(redis_server.url).flushall()


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
                "portal",
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
