"""VEE benchmark: validation and estimation over stored meter-days, read and write included.

    python bench/vee.py --meters 10000 --days 30

Stores N meters x D days of hourly reads (load shapes, 0.1 % gaps, a few spikes) straight into
the interval table on PostgreSQL (DATABASE_URL, or a throwaway server started here), then times
meters.vee.service.vee_run_chunks over all of them in chunks of meters, as the daily sweep does
(--workers threads, each chunk its own transaction).
The last line is JSON with intervals_per_s.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import postgres_url, register, setup_django, store_days  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--meters", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--chunk", type=int, default=2000, help="most meters per transaction")
    parser.add_argument("--workers", type=int, default=2, help="threads running chunks")
    args = parser.parse_args()
    with postgres_url() as url:
        return run(args.meters, args.days, args.chunk, args.workers, url)


def run(meters: int, days: int, chunk: int, workers: int, url: str) -> int:
    setup_django(url)
    import datetime as dt

    from django.utils import timezone

    from meters.models import Meter, VeeException
    from meters.vee.service import vee_run_chunks
    from portal.calendar.localtime import day_number

    ldc = register(f"vee-{int(time.time())}", meters)
    first = day_number(dt.date(2026, 1, 5))
    t0 = time.perf_counter()
    intervals = store_days(ldc, meters, days, first, seed=11)
    print(
        f"stored {intervals:,} intervals ({meters:,} meters x {days} days) "
        f"in {time.perf_counter() - t0:.1f} s"
    )
    pks = sorted(Meter.objects.filter(ldc=ldc).values_list("pk", flat=True))
    now = timezone.now()
    started = time.perf_counter()
    outcome = vee_run_chunks(
        ldc=ldc,
        meter_ids=pks,
        first_day=first,
        last_day=first + days - 1,
        now=now,
        chunk=chunk,
        workers=workers,
    )
    written, estimated = outcome.written, outcome.estimated
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
                "chunk": chunk,
                "workers": workers,
                "database": "postgresql",
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
