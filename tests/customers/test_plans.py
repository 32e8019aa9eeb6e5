"""Plan comparison over the customer's own hours agrees with billing's own comparison."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from billing.bills import plan_compare
from billing.prices import PRICE_TABLE
from customers import insights, selectors, usage
from customers.usage import Hours
from meters.reads.intervals import local_range_utc

TZ = ZoneInfo("America/Toronto")


def _hours(values: np.ndarray, day: dt.date) -> Hours:
    first, _ = local_range_utc(day, day, TZ)
    n = values.size
    return Hours(
        first + np.arange(n, dtype=np.int64) * 3600,
        values.astype(float),
        np.zeros(n, bool),
        np.zeros(n, bool),
    )


def test_night_owl_is_cheapest_on_ulo_and_peak_user_on_tiered() -> None:
    night = np.tile(np.r_[np.full(7, 3.0), np.full(17, 0.1)], 30)
    result = insights.plan_comparison(_hours(night, dt.date(2026, 3, 2)), TZ, PRICE_TABLE, "")
    assert result["cheapest"] == "ulo"
    assert [p["cheapest"] for p in result["plans"]].count(True) == 1
    peaky = np.tile(np.r_[np.full(16, 0.2), np.full(5, 4.0), np.full(3, 0.2)], 30)
    result = insights.plan_comparison(_hours(peaky, dt.date(2026, 3, 2)), TZ, PRICE_TABLE, "")
    assert result["cheapest"] == "tiered"


def test_no_reads_means_no_cheapest_plan() -> None:
    empty = insights.plan_comparison(_hours(np.zeros(0), dt.date(2026, 3, 2)), TZ, PRICE_TABLE, "")
    assert empty["cheapest"] is None


def test_insights_compare_with_the_typical_split_and_give_tips() -> None:
    peaky = np.tile(np.r_[np.full(16, 0.2), np.full(5, 4.0), np.full(3, 0.2)], 30)
    figures = insights.insight_figures(
        _hours(peaky, dt.date(2026, 3, 2)), TZ, PRICE_TABLE, cheapest="tiered", plan="tou"
    )
    assert figures["typical"] == {"off_peak": 0.65, "mid_peak": 0.17, "on_peak": 0.18}
    assert sum(figures["split"].values()) == pytest.approx(1)
    titles = " ".join(t["title"] for t in figures["tips"])
    assert "on-peak" in titles and "tiered plan would have cost you less" in titles
    assert figures["base_kw"] == pytest.approx(0.2)


@pytest.mark.django_db
def test_comparison_matches_billing_plan_compare(world: Any, north_reads: Any) -> None:
    sdp = world.objects["north_sdp"]
    start, end = dt.date(2025, 3, 1), dt.date(2026, 2, 28)
    first, after = local_range_utc(start, end, TZ)
    spans = selectors.meter_spans(sdp, first, after)
    rows = selectors.stored_rows(sdp.ldc_id, spans, first, after)
    hours = usage.hours_from_days(selectors.day_blocks(rows, spans), first, after)
    mine = insights.plan_comparison(hours, TZ, PRICE_TABLE, sdp.rate_class)
    billing = plan_compare(ldc=world.north, sdp=sdp, start=start, end=end)
    assert mine["cheapest"] == billing["cheapest"]
    for ours, theirs in zip(mine["plans"], billing["plans"], strict=True):
        assert ours["plan"] == theirs["plan"]
        assert ours["charge"] == pytest.approx(theirs["charge"], abs=0.02)
        assert ours["total_kwh"] == pytest.approx(theirs["total_kwh"], abs=0.01)
