"""Scale-out benchmark: one large delivery (many CMEP files) loaded by one Celery worker, then by
two, against the same Redis and PostgreSQL.

    python bench/scale.py --files 48 --meters 500 --days 2

Registers N meters, writes the files (each one group of meters for a few days), and for each run
starts the workers (``celery worker --pool=solo --concurrency=1``, as separate processes), queues
every file's ingestion at once and times until every file is loaded. Between the runs the
interval table is emptied and the files are delivered to a fresh LDC, so both runs do the same
work on the same table size. ``--vee`` also runs VEE after each batch (its own tasks). The last
line is JSON with one_worker_s, two_workers_s and speedup.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import postgres_url, register, setup_django  # noqa: E402

FIRST_DAY = dt.date(2026, 3, 2)


def write_files(folder: Path, files: int, meters: int, days: int, groups: int) -> int:
    """``files`` CMEP files: file i holds meter group i % groups for its own days."""
    from meters.reads.synthetic import write_cmep

    per_group = meters // groups
    reads = 0
    for i in range(files):
        group, block = i % groups, i // groups
        serials = [f"BM{m:07d}" for m in range(group * per_group, (group + 1) * per_group)]
        first = FIRST_DAY + dt.timedelta(days=block * days)
        reads += write_cmep(folder / f"scale{i:03d}.txt", serials, first, days, seed=i)
    return reads


def start_workers(count: int, env: dict[str, str], logs: Path) -> list[subprocess.Popen[bytes]]:
    workers = []
    for n in range(count):
        log = (logs / f"worker{count}-{n}.log").open("wb")
        workers.append(
            subprocess.Popen(  # noqa: S603
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
                    f"scale{count}-{n}@%h",
                    "-l",
                    "info",
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    for n in range(count):  # wait until each is ready to take tasks
        path = logs / f"worker{count}-{n}.log"
        deadline = time.monotonic() + 120
        while b" ready." not in path.read_bytes():
            if time.monotonic() > deadline or workers[n].poll() is not None:
                raise RuntimeError(f"worker {n} did not start: see {path}")
            time.sleep(0.2)
    return workers


def queue_empty(broker_url: str) -> bool:
    """No task queued or running (VEE and billing tasks too, with --vee)."""
    import redis

    client = redis.Redis.from_url(broker_url)
    try:
        return client.llen("celery") == 0 and client.hlen("unacked") == 0
    finally:
        client.close()


def stop(workers: list[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        worker.terminate()
    for worker in workers:
        worker.wait(timeout=60)


def cpu_jiffies() -> tuple[int, int]:
    """(busy, total) CPU time of the whole machine so far, from /proc/stat (Linux)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def run_once(
    count: int, paths: list[Path], meters: int, env: dict[str, str], logs: Path
) -> tuple[float, float]:
    """Seconds for ``count`` workers to load every file (delivered to a fresh LDC) and finish
    every task it queued, and how many of the machine's cores were busy meanwhile (workers,
    PostgreSQL, Redis and this process together)."""
    from django.db import connection

    from meters.models import ReadFile
    from meters.reads.ingest import read_file_receive
    from meters.reads.tasks import ingest_read_file

    with connection.cursor() as cursor:  # the same table size for each run
        cursor.execute("TRUNCATE meters_intervalday, meters_intervaldayversion")
    ldc = register(f"scale{count}-{int(time.time())}", meters)
    files = []
    for path in paths:
        with path.open("rb") as stream:
            read_file, _ = read_file_receive(
                ldc=ldc,
                interface="cmep",
                upload=stream,
                name=path.name,
                actor=None,
                via="bench",
                queue=False,
            )
        files.append(read_file)
    workers = start_workers(count, env, logs)
    try:
        started = time.perf_counter()
        busy0, total0 = cpu_jiffies()
        for read_file in files:
            ingest_read_file.delay(ldc_id=ldc.pk, read_file_id=read_file.pk)
        pending = ReadFile.objects.filter(ldc=ldc).exclude(status__in=["loaded", "rejected"])
        while pending.exists() or not queue_empty(env["CELERY_BROKER_URL"]):
            if any(w.poll() is not None for w in workers):
                raise RuntimeError(f"a worker died: see {logs}")
            time.sleep(0.1)
        elapsed = time.perf_counter() - started
        busy1, total1 = cpu_jiffies()
    finally:
        stop(workers)
    cores = (os.cpu_count() or 1) * (busy1 - busy0) / max(total1 - total0, 1)
    loaded = ReadFile.objects.filter(ldc=ldc, status="loaded")
    assert loaded.count() == len(paths), "not every file loaded"
    reads = sum(loaded.values_list("intervals_accepted", flat=True))
    print(
        f"{count} worker{'s' if count > 1 else ''}: {len(paths)} files, {reads:,} reads in "
        f"{elapsed:.1f} s = {reads / elapsed:,.0f} reads/s; {cores:.2f} of "
        f"{os.cpu_count()} cores busy",
        flush=True,
    )
    return elapsed, cores


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=48)
    parser.add_argument("--meters", type=int, default=2000)
    parser.add_argument("--days", type=int, default=2, help="local days in each file")
    parser.add_argument("--groups", type=int, default=4, help="meter groups the files cover")
    parser.add_argument("--vee", action="store_true", help="run VEE after each batch too")
    args = parser.parse_args()
    with postgres_url() as url:
        return run(args, url)


def run(args: argparse.Namespace, url: str) -> int:
    from portal.testing.services import RedisServer

    work = Path(tempfile.mkdtemp(prefix="openmdmr-scale-"))
    redis = RedisServer.start()
    os.environ["CELERY_BROKER_URL"] = redis.url
    os.environ["MEDIA_ROOT"] = str(work / "media")
    os.environ["OPENMDMR_VEE_AFTER_INGEST"] = "1" if args.vee else "0"
    try:
        setup_django(url)
        t0 = time.perf_counter()
        reads = write_files(work, args.files, args.meters, args.days, args.groups)
        paths = sorted(work.glob("scale*.txt"))
        size = sum(p.stat().st_size for p in paths) / 1e6
        print(
            f"generated {len(paths)} files, {reads:,} reads, {size:.0f} MB "
            f"({time.perf_counter() - t0:.1f} s); {os.cpu_count()} CPU cores",
            flush=True,
        )
        env = {**os.environ, "DATABASE_URL": url, "DB_CONN_MAX_AGE": "0"}
        one, one_cores = run_once(1, paths, args.meters, env, work)
        two, two_cores = run_once(2, paths, args.meters, env, work)
    finally:
        redis.stop()
    speedup = one / two
    # The most a second worker can give on this machine: all its cores busy for the same work
    # that one worker's run kept ``one_cores`` busy.
    ceiling = (os.cpu_count() or 1) / one_cores
    print(
        f"speed-up with two workers: {speedup:.2f}x (the machine's ceiling for this work: "
        f"{ceiling:.2f}x, {os.cpu_count()} cores / {one_cores:.2f} busy with one worker)"
    )
    print(
        json.dumps(
            {
                "files": len(paths),
                "reads": reads,
                "meters": args.meters,
                "vee": args.vee,
                "cpus": os.cpu_count(),
                "one_worker_s": round(one, 2),
                "two_workers_s": round(two, 2),
                "speedup": round(speedup, 2),
                "one_worker_cores_busy": round(one_cores, 2),
                "two_workers_cores_busy": round(two_cores, 2),
                "cpu_ceiling_speedup": round(ceiling, 2),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
