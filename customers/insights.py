"""Conservation figures from a customer's own hours: plan comparison, split, base load, tips.

Arrays in, plain dicts out (the templates show them; charts.py draws them). No ORM.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from billing.bills import energy_charge
from billing.models import Plan
from billing.prices import PriceSet
from billing.quantities import Flat
from customers import usage
from customers.usage import TYPICAL_TOU_SHARE, Hours

HOURS_PER_YEAR = 8_760


def as_flat(hours: Hours) -> Flat:
    """The hours with a value, in billing's flat-interval shape (one item, 60 minutes)."""
    ok = ~hours.missing
    n = int(ok.sum())
    return Flat(
        item=np.zeros(n, np.int64),
        start=hours.start[ok],
        wh=np.rint(hours.kwh[ok] * 1000).astype(np.int64),
        flags=np.zeros(n, np.uint8),
        minutes=np.full(n, 60, np.int64),
    )


def plan_comparison(
    hours: Hours, tz: ZoneInfo, table: tuple[PriceSet, ...], rate_class: str
) -> dict[str, Any]:
    """The electricity charge of the hours under TOU, ULO and tiered, and the cheapest."""
    flat = as_flat(hours)
    plans = [energy_charge(flat, plan, tz, table, rate_class) for plan in Plan.values]
    cheapest = min(plans, key=lambda p: p["charge"])["plan"] if flat.start.size else None
    for p in plans:
        p["cheapest"] = p["plan"] == cheapest
    return {"plans": plans, "cheapest": cheapest, "hours": int(flat.start.size)}


def tou_split(hours: Hours, tz: ZoneInfo) -> dict[str, float]:
    """The share of kWh in each TOU period (whatever the customer's plan)."""
    codes = usage.hour_codes(hours, "tou", tz)
    return usage.shares(usage.period_totals(np.where(hours.missing, 0, hours.kwh), codes, "tou"))


def tips(
    split: dict[str, float],
    base_kw: float | None,
    odd_days: list[tuple[int, float, float]],
    cheapest: str | None,
    plan: str,
    rates: dict[str, float],
) -> list[dict[str, str]]:
    """Advice tied to the customer's own figures (title, text, icon)."""
    out = []
    on = split.get("on_peak", 0.0)
    if on > TYPICAL_TOU_SHARE["on_peak"]:
        out.append(
            {
                "icon": "clock-history",
                "title": f"{on:.0%} of your use is on-peak",
                "text": "That is more than the typical Ontario home (18 %). Run the dishwasher, "
                "washer and dryer after 7 p.m. or on weekends, when every hour is off-peak.",
            }
        )
    else:
        out.append(
            {
                "icon": "hand-thumbs-up",
                "title": f"Only {on:.0%} of your use is on-peak",
                "text": "Better than the typical Ontario home (18 %): keep using the big "
                "appliances in the evening and on weekends.",
            }
        )
    if base_kw is not None and base_kw > 0.15:
        yearly = base_kw * HOURS_PER_YEAR * rates.get("off_peak", 0.1)
        out.append(
            {
                "icon": "plug",
                "title": f"Your always-on load is {base_kw * 1000:,.0f} W",
                "text": f"Around the clock that is about ${yearly:,.0f} a year. Look for a "
                "second fridge, a dehumidifier, a pool pump or devices left on standby; a "
                "power bar with a switch helps.",
            }
        )
    if odd_days:
        day, kwh, typical = odd_days[0]
        when = usage.local_date(day).strftime("%A %B %-d")
        out.append(
            {
                "icon": "exclamation-diamond",
                "title": f"{when} stood out",
                "text": f"You used {kwh:,.1f} kWh against {typical:,.1f} kWh on a usual day. A "
                "heater or air conditioner left on, or guests? Check if it happens again.",
            }
        )
    if cheapest and cheapest != plan:
        names = {"tou": "time-of-use", "ulo": "ultra-low overnight", "tiered": "tiered"}
        out.append(
            {
                "icon": "piggy-bank",
                "title": f"The {names[cheapest]} plan would have cost you less",
                "text": "Ontario customers on the Regulated Price Plan can choose their plan: "
                "ask your utility to switch (see the plan comparison).",
            }
        )
    return out


def insight_figures(
    hours: Hours,
    tz: ZoneInfo,
    table: Sequence[PriceSet],
    *,
    cheapest: str | None,
    plan: str,
) -> dict[str, Any]:
    """Everything the insights page shows, from the last 12 months of hours."""
    split = tou_split(hours, tz)
    base_kw = usage.base_load_kw(hours, tz)
    days = range(
        int(usage.local_day_keys(hours, tz).min()) if len(hours) else 0,
        int(usage.local_day_keys(hours, tz).max()) + 1 if len(hours) else 0,
    )
    codes = usage.hour_codes(hours, "tou", tz)
    grouped = usage.by_day(hours, codes, np.zeros(len(hours)), 3, tz, days)
    odd = usage.unusual_days(grouped.keys, grouped.total_kwh, grouped.hours)
    latest = table[-1].cents_per_kwh.get("tou", {}) if table else {}
    rates = {name: cents / 100 for name, cents in latest.items()}
    return {
        "split": split,
        "typical": TYPICAL_TOU_SHARE,
        "base_kw": base_kw,
        "unusual": [
            {"date": usage.local_date(d), "kwh": k, "typical": t, "ratio": k / t if t else 0}
            for d, k, t in odd
        ],
        "tips": tips(split, base_kw, odd, cheapest, plan, rates),
        "total_kwh": float(np.where(hours.missing, 0, hours.kwh).sum()),
    }
