"""Read-success benchmark: counting an LDC's week of reads from the stored days, as the LDC's
dashboard and the SME's rollout pages do when that LDC's reads changed.

    python bench/read_success.py --meters 10000

Stores N meters x 9 days of hourly reads straight into the interval table on PostgreSQL
(DATABASE_URL, or a throwaway server started here), then times meters.read_success over the 7
local days of a week: counted from the stored days (cache empty) and once counted (cache full),
and after a delivery of one day (that day and its neighbours recounted).
The last line is JSON with meter_days_per_s (cold count) and the seconds of each case.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import postgres_url, register, setup_django, store_days  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--meters", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with postgres_url() as url:
        return run(args.meters, args.repeat, url)


def run(meters: int, repeat: int, url: str) -> int:
    setup_django(url)
    from django.core.cache import cache
    from django.db import connection

    from meters import read_success
    from portal.calendar.localtime import day_number

    ldc = register(f"rs-{int(time.time())}", meters)
    week = [dt.date(2026, 1, 5) + dt.timedelta(days=i) for i in range(7)]
    t0 = time.perf_counter()
    store_days(ldc, meters, 9, day_number(week[0]) - 1, seed=5)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE meters_intervalday")
    print(f"stored {meters:,} meters x 9 days in {time.perf_counter() - t0:.1f} s")

    def timed(prepare: object) -> float:
        runs = []
        for _ in range(repeat):
            prepare()  # type: ignore[operator]
            started = time.perf_counter()
            counted = read_success.read_success(week, ldc=ldc)  # type: ignore[arg-type]
            runs.append(time.perf_counter() - started)
        assert counted[ldc.pk][week[3]].meters == meters  # type: ignore[attr-defined]
        return statistics.median(runs)

    cold = timed(cache.clear)
    warm = timed(lambda: None)
    delivered = day_number(week[3])  # a delivery of one UTC day: its two local days recounted
    one_day = timed(lambda: read_success.forget(ldc, delivered, delivered))  # type: ignore[attr-defined]
    pct = read_success.success_pct(read_success.read_success(week, ldc=ldc)[ldc.pk])  # type: ignore[attr-defined]
    meter_days = meters * len(week)
    print(
        f"read success of {meters:,} meters x 7 days ({pct} %): cold {cold:.3f} s "
        f"({meter_days / cold:,.0f} meter-days/s), cached {warm * 1000:.1f} ms, "
        f"after a change {one_day:.3f} s"
    )
    print(
        json.dumps(
            {
                "meters": meters,
                "days": len(week),
                "cold_s": round(cold, 3),
                "meter_days_per_s": round(meter_days / cold),
                "cached_ms": round(warm * 1000, 2),
                "after_change_s": round(one_day, 3),
                "read_success_pct": pct,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
