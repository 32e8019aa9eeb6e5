"""Issue #19 point 7: a warning when no OEB price set covers a priced date."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from billing.prices import PRICE_TABLE, stale_price_warning

D = dt.date


def test_a_date_past_the_newest_sets_term_warns_and_a_covered_one_does_not() -> None:
    newest = max(PRICE_TABLE, key=lambda s: s.effective)
    # Prices from Nov 1 2025 cover to Apr 30 2026 (RPP prices change May 1 and Nov 1).
    table = (replace(newest, effective=D(2025, 11, 1)),)
    assert stale_price_warning(D(2026, 3, 1), D(2026, 4, 30), table) is None
    warning = stale_price_warning(D(2026, 4, 20), D(2026, 5, 10), table)
    assert warning is not None and warning["code"] == "stale_prices"
    assert "2026-05-01" in warning["message"]
    before = stale_price_warning(D(2025, 10, 1), D(2025, 11, 5), table)
    assert before is not None and before["code"] == "stale_prices"
    assert stale_price_warning(D(2026, 1, 1), D(2026, 1, 2), ())["code"] == "no_price_set"
