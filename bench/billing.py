"""Billing-quantity benchmark: every SDP of an LDC for one month, on PostgreSQL.

    python bench/billing.py --sdps 10000        (--meters is the same)

Registers N SDPs with one meter each in one billing cycle, stores a month of validated hourly
reads straight into the interval table (load shapes, 0.1 % gaps left missing), then times
billing.services.billing_batch_request for the cycle and January 2026: read the stored days,
compute TOU quantities, register reads, store requests and quantities. Then a second, identical
refresh (nothing changes) and the computation alone. The last line is JSON with
meter_months_per_s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import postgres_url, register, setup_django, store_days  # noqa: E402

START, END = dt.date(2026, 1, 1), dt.date(2026, 1, 31)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--meters", "--sdps", type=int, default=10000, help="SDPs, one meter each")
    args = parser.parse_args()
    with postgres_url() as url:
        return run(args.meters, url)


def run(meters: int, url: str) -> int:
    setup_django(url)
    from billing import services
    from billing.models import BillingQuantity, BillingQuantityRequest
    from meters.models import BillingCycle, ServiceDeliveryPoint
    from portal.calendar.localtime import day_number

    ldc = register(f"bq-{int(time.time())}", meters)
    cycle = BillingCycle.objects.create(ldc=ldc, code="C31", read_day=31)
    ServiceDeliveryPoint.objects.filter(ldc=ldc).update(billing_cycle=cycle)
    t0 = time.perf_counter()
    stored = store_days(ldc, meters, 33, day_number(START) - 1, seed=5, validated=True)
    print(f"stored {stored:,} intervals ({meters:,} meters) in {time.perf_counter() - t0:.1f} s")

    started = time.perf_counter()
    services.billing_batch_request(ldc=ldc, cycle=cycle, start=START, end=END, actor=None)
    elapsed = time.perf_counter() - started
    quantities = BillingQuantity.objects.filter(ldc=ldc)
    pending = quantities.filter(status="pending").count()
    requests = list(BillingQuantityRequest.objects.filter(ldc=ldc).select_related("sdp"))

    again = time.perf_counter()
    outcome = services.billing_quantities_refresh(ldc=ldc, requests=requests)
    refresh_s = time.perf_counter() - again

    compute = time.perf_counter()
    services.quantities_compute(ldc=ldc, targets=services._targets(ldc, requests))
    compute_s = time.perf_counter() - compute

    per_s = meters / elapsed
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"batch: {meters:,} meter-months in {elapsed:.2f} s = {per_s:,.0f} meter-months/s "
        f"({quantities.count():,} quantities, {pending:,} pending on gaps); "
        f"refresh with no change {refresh_s:.2f} s ({outcome.updated} updated); "
        f"computation alone {compute_s:.2f} s; peak RSS {peak:.0f} MB"
    )
    print(
        json.dumps(
            {
                "meters": meters,
                "period": f"{START}..{END}",
                "seconds": round(elapsed, 2),
                "meter_months_per_s": round(per_s),
                "refresh_seconds": round(refresh_s, 2),
                "compute_seconds": round(compute_s, 2),
                "pending": pending,
                "peak_rss_mb": round(peak),
                "database": "postgresql",
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
