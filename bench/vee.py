"""VEE benchmark: validation and estimation over stored meter-days, read and write included.

    python bench/vee.py --meters 10000 --days 30

Stores N meters x D days of hourly reads (load shapes, 0.1 % gaps, a few spikes) straight into
the interval table on PostgreSQL (DATABASE_URL, or a throwaway server started here), then times
meters.vee_service.vee_run_days over all of them in chunks of meters, as the daily sweep does.
The last line is JSON with intervals_per_s.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.ingest import register, setup_django  # noqa: E402


def store_days(ldc: object, meters: int, days: int, first_day: int, seed: int = 11) -> int:
    """Write synthetic hourly days for every meter; returns the intervals stored."""
    from meters import store
    from meters.interfaces.base import Quality
    from meters.models import Meter
    from meters.storage import FLAGS_OF_QUALITY, DayBlock, day_key
    from meters.synthetic import hourly_shape

    rng = np.random.default_rng(seed)
    pks = np.array(sorted(Meter.objects.filter(ldc=ldc).values_list("pk", flat=True)), np.int64)
    shape = hourly_shape(rng, meters)
    for d in range(days):
        wh = np.rint(shape * rng.gamma(8, 1 / 8, (meters, 24)) * 1000).astype(np.int32)
        quality = np.full((meters, 24), Quality.ACTUAL, np.uint8)
        gaps = rng.random((meters, 24)) < 0.001
        quality[gaps], wh[gaps] = Quality.MISSING, 0
        wh[rng.random((meters, 24)) < 0.0005] *= 6
        keys = day_key(pks, 1, np.full(meters, first_day + d))
        block = DayBlock(
            keys, 60, wh, FLAGS_OF_QUALITY[quality], wh.copy(), quality, np.ones(meters, np.int64)
        )
        store.ensure_partitions(block.day)
        store.save_days(ldc, block)
    return meters * days * 24


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--meters", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--chunk", type=int, default=2000, help="meters per VEE run")
    args = parser.parse_args()
    server = None
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        from portal.testing.services import PostgresServer

        server = PostgresServer.start()
        url = server.url
    try:
        return run(args.meters, args.days, args.chunk, url)
    finally:
        if server is not None:
            server.cleanup()


def run(meters: int, days: int, chunk: int, url: str) -> int:
    setup_django(url)
    import datetime as dt

    from django.utils import timezone

    from meters.localtime import day_number
    from meters.models import Meter, VeeException
    from meters.vee_service import vee_run_days

    ldc = register(f"vee-{int(time.time())}", meters)
    first = day_number(dt.date(2026, 1, 5))
    t0 = time.perf_counter()
    intervals = store_days(ldc, meters, days, first)
    print(
        f"stored {intervals:,} intervals ({meters:,} meters x {days} days) "
        f"in {time.perf_counter() - t0:.1f} s"
    )
    pks = sorted(Meter.objects.filter(ldc=ldc).values_list("pk", flat=True))
    now = timezone.now()
    started = time.perf_counter()
    written = estimated = 0
    for i in range(0, len(pks), chunk):
        outcome = vee_run_days(
            ldc=ldc,
            meter_ids=pks[i : i + chunk],
            first_day=first,
            last_day=first + days - 1,
            now=now,
        )
        written += outcome.written
        estimated += outcome.estimated
    elapsed = time.perf_counter() - started
    per_s = intervals / elapsed
    exceptions = VeeException.objects.filter(ldc=ldc).count()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"VEE: {intervals:,} intervals in {elapsed:.1f} s = {per_s:,.0f} intervals/s; "
        f"{written:,} days written, {estimated:,} intervals estimated, {exceptions:,} exceptions; "
        f"peak RSS {peak:.0f} MB"
    )
    print(
        json.dumps(
            {
                "meters": meters,
                "days": days,
                "intervals": intervals,
                "seconds": round(elapsed, 2),
                "intervals_per_s": round(per_s),
                "days_written": written,
                "estimated": estimated,
                "exceptions": exceptions,
                "peak_rss_mb": round(peak),
                "database": "postgresql",
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
