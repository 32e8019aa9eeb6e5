"""Ingestion benchmark: realistic CMEP for N meters x D days through the whole pipeline.

    python bench/ingest.py --meters 10000 --days 30

Generates the file (one MEPMD01 record per meter and day, load shapes with a few gaps and
spikes), then on PostgreSQL (DATABASE_URL, or a throwaway server started here) times
file -> parse -> checks -> merge -> committed rows, and in the same run PostgreSQL COPY of the
same reads as one row per interval into a plain table. The last line is JSON.

The two are timed ``--repeat`` times (default 3), alternately, each pipeline run delivering the
file for a new LDC (so the later ones load into partitions already holding the earlier LDCs'
days, as a shared table does); each starts after a CHECKPOINT and a sync, so that none pays for
writing out what the one before wrote. This host's speed drifts by up to 1.5x within a minute: the
figures are medians, and ``ratio_vs_copy`` is the median of each pipeline run's ratio to the
COPY timed right after it. Every run's figures are in ``runs``. ``peak_rss_mb`` is this
process's peak; ``peak_tree_pss_mb`` adds the parsing workers (sampled proportional set size).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

NULL = "\\N"  # COPY's text-format null
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import TreeMemory, postgres_url, register, setup_django  # noqa: E402


def copy_rows(path: Path) -> Path:
    """The file's reads as COPY text, one row per interval (written once, copied each run)."""
    rows_path = path.with_suffix(".rows")
    with path.open() as src, rows_path.open("w") as dst:
        for line in src:
            f = line.rstrip("\n").split(",")
            meter = f[7]
            for i in range(14, len(f), 3):
                value = f[i + 2] or NULL
                dst.write(f"{meter}\t{f[i]}\t{value}\t{f[i + 1]}\n")
    return rows_path


def quiesce() -> None:
    """Start each timed run from a quiet machine: PostgreSQL's dirty pages written out and the
    system's flushed to disk, so that no run pays for writing out the one before."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("CHECKPOINT")
    os.sync()


def copy_baseline(rows_path: Path) -> float:
    """Seconds to COPY the same reads, one row per interval, into a plain table."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS bench_copy")
        cur.execute("CREATE TABLE bench_copy (meter text, stamp text, kwh numeric, quality text)")
    started = time.perf_counter()
    with connection.cursor() as cur, rows_path.open("rb") as data:
        with cur.connection.cursor().copy("COPY bench_copy FROM STDIN") as copy:
            for chunk in iter(lambda: data.read(1 << 20), b""):
                copy.write(chunk)
        cur.connection.commit()
    elapsed = time.perf_counter() - started
    with connection.cursor() as cur:
        cur.execute("DROP TABLE bench_copy")
    return elapsed


def _time_phases() -> dict[str, float]:
    """Time the pipeline's phases (receive: hash and store the file; parse: to the spool; load:
    merge and commit every batch) by wrapping the functions that run them."""
    from meters.reads import ingest

    phases: dict[str, float] = {}
    for name, attr in (
        ("receive", "read_file_receive"),
        ("parse", "parse_to_spool"),
        ("load", "_load"),
    ):
        real = getattr(ingest, attr)

        def timed(
            *args: object, _real: object = real, _name: str = name, **kwargs: object
        ) -> object:
            started = time.perf_counter()
            try:
                return _real(*args, **kwargs)  # type: ignore[operator]
            finally:
                phases[_name] = phases.get(_name, 0.0) + time.perf_counter() - started
                peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                phases[f"{_name}_peak_rss_mb"] = peak

        setattr(ingest, attr, timed)
    return phases


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--meters", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3, help="pipeline and COPY runs (median)")
    args = parser.parse_args()

    with postgres_url() as url:
        return run(args.meters, args.days, url, max(args.repeat, 1))


def run(meters: int, days: int, url: str, repeat: int = 3) -> int:
    work = Path(tempfile.mkdtemp(prefix="openmdmr-bench-"))
    var_before = os.environ.get("OPENMDMR_VAR_DIR")
    try:
        reads, runs = _timed_runs(work, meters, days, repeat, url)
    finally:
        # The generated file, and the copies the pipeline stored of it (in the media directory
        # setup_django made), go with the run: also one that fails or is interrupted.
        shutil.rmtree(work, ignore_errors=True)
        var_dir = os.environ.get("OPENMDMR_VAR_DIR")
        if var_dir and var_dir != var_before:
            shutil.rmtree(var_dir, ignore_errors=True)
    middle = sorted(runs, key=lambda r: r["ratio_vs_copy"])[len(runs) // 2]
    result = {
        "meters": meters,
        "days": days,
        "reads": reads,
        "repeat": repeat,
        "seconds": middle["seconds"],
        "reads_per_s": round(statistics.median(r["reads_per_s"] for r in runs)),
        "copy_reads_per_s": round(statistics.median(r["copy_reads_per_s"] for r in runs)),
        "ratio_vs_copy": round(statistics.median(r["ratio_vs_copy"] for r in runs), 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        # This process and its parsing workers (peak_rss_mb is this process alone).
        "peak_tree_pss_mb": max(r["peak_tree_pss_mb"] for r in runs),
        "phases_s": middle["phases_s"],
        "runs": runs,
        "database": "postgresql",
    }
    print(json.dumps(result))
    return 0


def _timed_runs(
    work: Path, meters: int, days: int, repeat: int, url: str
) -> tuple[int, list[dict[str, Any]]]:
    path = work / f"cmep_{meters}x{days}.txt"
    t0 = time.perf_counter()
    from meters.reads.synthetic import write_cmep

    serials = [f"BM{m:07d}" for m in range(meters)]
    reads = write_cmep(path, serials, dt.date(2026, 1, 5), days)
    print(
        f"generated {reads:,} reads in {path.stat().st_size / 1e6:.1f} MB "
        f"({time.perf_counter() - t0:.1f} s)"
    )
    setup_django(url)
    from meters.models import IntervalDay
    from meters.reads import ingest

    phases = _time_phases()
    rows_path = copy_rows(path)
    runs = []
    for number in range(repeat):
        phases.clear()
        ldc = register(f"bench-{int(time.time())}-{number}", meters)
        quiesce()
        with TreeMemory() as memory:
            elapsed, accepted = _pipeline(ingest, ldc, path)
        assert accepted == reads, (accepted, reads)
        days_stored = IntervalDay.objects.filter(ldc=ldc).count()
        reads_per_s = accepted / elapsed
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"run {number + 1}: pipeline {accepted:,} reads in {elapsed:.2f} s = "
            f"{reads_per_s:,.0f} reads/s ({days_stored:,} interval-day rows, "
            f"peak RSS {peak:.0f} MB, with the parsing workers {memory.peak_mb:.0f} MB); "
            + ", ".join(f"{name} {value:.2f}" for name, value in phases.items())
        )
        quiesce()
        copy_s = copy_baseline(rows_path)
        copy_per_s = reads / copy_s
        print(
            f"run {number + 1}: COPY one row per interval: {reads:,} rows in {copy_s:.2f} s = "
            f"{copy_per_s:,.0f} rows/s; ratio {reads_per_s / copy_per_s:.2f}"
        )
        runs.append(
            {
                "seconds": round(elapsed, 2),
                "reads_per_s": round(reads_per_s),
                "copy_reads_per_s": round(copy_per_s),
                "ratio_vs_copy": round(reads_per_s / copy_per_s, 2),
                "peak_tree_pss_mb": round(memory.peak_mb),
                "phases_s": {name: round(seconds, 2) for name, seconds in phases.items()},
            }
        )
    return reads, runs


def _pipeline(ingest: Any, ldc: Any, path: Path) -> tuple[float, int]:
    """Seconds to receive and ingest the file for ``ldc``, and the intervals it accepted."""
    from meters.models import ReadFile

    started = time.perf_counter()
    with path.open("rb") as stream:
        read_file, _ = ingest.read_file_receive(
            ldc=ldc,
            interface="cmep",
            upload=stream,
            name=path.name,
            actor=None,
            via="bench",
            queue=False,
        )
    read_file = ingest.read_file_ingest(read_file=read_file)
    elapsed = time.perf_counter() - started
    assert read_file.status == ReadFile.Status.LOADED, read_file.error
    return elapsed, read_file.intervals_accepted


if __name__ == "__main__":
    sys.exit(main())
