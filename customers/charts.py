"""Plotly figure dicts of a customer's usage (arrays in, figure out; charts never query)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from billing.charts import COLOURS as BILLING_COLOURS
from billing.periods import PERIOD_NAMES

COLOURS = {**BILLING_COLOURS, "all_hours": "#0d6efd"}
LABELS = {
    "off_peak": "Off-peak",
    "mid_peak": "Mid-peak",
    "on_peak": "On-peak",
    "ultra_low_overnight": "Ultra-low overnight",
    "weekend_off_peak": "Weekend off-peak",
    "all_hours": "All hours",
    "tier1": "Tier 1",
    "tier2": "Tier 2",
}
PLAN_LABELS = {"tou": "Time-of-use", "ulo": "Ultra-low overnight", "tiered": "Tiered"}
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
_MARGIN = {"t": 30, "r": 10, "b": 40, "l": 45}


def _layout(**extra: Any) -> dict[str, Any]:
    layout = {
        "margin": dict(_MARGIN),
        "legend": {"orientation": "h", "y": -0.18},
        "height": 340,
        "autosize": True,
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {"size": 12},
    }
    layout.update(extra)
    return layout


def hour_labels(local_hours: Sequence[int]) -> list[str]:
    """'07:00' per hour; a repeated hour (the fall-back day) gets ' (2)'."""
    seen: set[str] = set()
    out = []
    for hour in local_hours:
        label = f"{int(hour):02d}:00"
        out.append(label + " (2)" if label in seen else label)
        seen.add(label)
    return out


def day_bars(
    labels: list[str],
    kwh: np.ndarray,
    codes: np.ndarray,
    cost: np.ndarray,
    estimated: np.ndarray,
    missing: np.ndarray,
    plan: str,
) -> dict[str, Any]:
    """One bar per hour coloured by price period; estimated hours hatched and lighter."""
    names = PERIOD_NAMES[plan]
    traces = []
    for code, name in enumerate(names):
        for est in (False, True):
            sel = (codes == code) & (estimated == est) & ~missing
            if not sel.any():
                continue
            label = LABELS[name] + (" (estimated)" if est else "")
            traces.append(
                {
                    "type": "bar",
                    "name": label,
                    "x": [labels[i] for i in np.flatnonzero(sel)],
                    "y": np.round(kwh[sel], 3).tolist(),
                    "customdata": np.round(cost[sel] * 100, 1).tolist(),
                    "marker": {
                        "color": COLOURS[name],
                        "opacity": 0.45 if est else 1.0,
                        "pattern": {"shape": "/" if est else ""},
                    },
                    "hovertemplate": "%{x}<br>%{y:.3f} kWh · %{customdata:.1f}¢<extra>"
                    + label
                    + "</extra>",
                }
            )
    return {
        "data": traces,
        "layout": _layout(
            barmode="overlay",
            bargap=0.12,
            xaxis={"type": "category", "categoryorder": "array", "categoryarray": labels},
            yaxis={"title": {"text": "kWh"}, "rangemode": "tozero"},
        ),
    }


def range_bars(
    labels: list[str],
    kwh: np.ndarray,
    cost: np.ndarray,
    last_year_kwh: np.ndarray | None,
    plan: str,
    present: np.ndarray | None = None,
) -> dict[str, Any]:
    """kWh stacked by period per day or month, the cost as a line, last year's kWh as dots;
    the cost line has a gap where there are no reads (``present`` False)."""
    has = np.ones(len(labels), bool) if present is None else np.asarray(present, bool)
    names = PERIOD_NAMES[plan]
    traces: list[dict[str, Any]] = [
        {
            "type": "bar",
            "name": LABELS[name],
            "x": labels,
            "y": np.round(kwh[:, code], 2).tolist(),
            "marker": {"color": COLOURS[name]},
            "hovertemplate": "%{x}<br>%{y:.2f} kWh<extra>" + LABELS[name] + "</extra>",
        }
        for code, name in enumerate(names)
        if kwh[:, code].any()
    ]
    if last_year_kwh is not None and np.any(last_year_kwh > 0):
        traces.append(
            {
                "type": "scatter",
                "mode": "markers+lines",
                "name": "Same period last year (kWh)",
                "x": labels,
                "y": [round(float(v), 2) if v > 0 else None for v in last_year_kwh],
                "line": {"color": "#6c757d", "dash": "dot"},
                "marker": {"color": "#6c757d", "symbol": "diamond"},
                "hovertemplate": "%{x}<br>last year %{y:.2f} kWh<extra></extra>",
            }
        )
    traces.append(
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": "Cost ($)",
            "x": labels,
            "y": [round(float(c), 2) if h else None for c, h in zip(cost, has, strict=True)],
            "yaxis": "y2",
            "line": {"color": "#212529", "width": 2},
            "marker": {"size": 5},
            "hovertemplate": "%{x}<br>$%{y:.2f}<extra>cost</extra>",
        }
    )
    return {
        "data": traces,
        "layout": _layout(
            barmode="stack",
            xaxis={"type": "category"},
            yaxis={"title": {"text": "kWh"}, "rangemode": "tozero"},
            yaxis2={
                "tickprefix": "$",
                "tickformat": ",.2~f",
                "overlaying": "y",
                "side": "right",
                "rangemode": "tozero",
                "showgrid": False,
            },
            margin={**_MARGIN, "r": 45},
        ),
    }


def heatmap(grid: np.ndarray) -> dict[str, Any]:
    """Mean kWh by weekday and hour."""
    z = [[None if np.isnan(v) else round(float(v), 3) for v in row] for row in grid]
    return {
        "data": [
            {
                "type": "heatmap",
                "z": z,
                "x": [f"{h:02d}" for h in range(24)],
                "y": WEEKDAYS,
                "colorscale": "YlOrRd",
                "reversescale": True,
                "hovertemplate": "%{y} %{x}:00<br>%{z:.3f} kWh on average<extra></extra>",
                "colorbar": {"title": {"text": "kWh"}, "thickness": 10},
            }
        ],
        "layout": _layout(
            height=280,
            yaxis={"autorange": "reversed"},
            xaxis={"title": {"text": "hour of the day"}},
            margin={**_MARGIN, "b": 45},
        ),
    }


def plan_bars(plans: list[dict[str, Any]], cheapest: str | None) -> dict[str, Any]:
    """The energy charge under each plan, the cheapest in green."""
    return {
        "data": [
            {
                "type": "bar",
                "x": [PLAN_LABELS[p["plan"]] for p in plans],
                "y": [p["charge"] for p in plans],
                "marker": {
                    "color": ["#198754" if p["plan"] == cheapest else "#adb5bd" for p in plans]
                },
                "text": [f"${p['charge']:,.2f}" for p in plans],
                "textposition": "auto",
                "hovertemplate": "%{x}<br>$%{y:,.2f}<extra></extra>",
            }
        ],
        "layout": _layout(
            height=280, yaxis={"title": {"text": "$ (electricity charge)"}}, showlegend=False
        ),
    }


def share_bars(mine: dict[str, float], typical: dict[str, float]) -> dict[str, Any]:
    """The customer's TOU split against Ontario's typical one."""
    names = list(typical)
    return {
        "data": [
            {
                "type": "bar",
                "orientation": "h",
                "name": who,
                "y": [["You", "Typical Ontario home"][i]],
                "x": [round(shares[name] * 100, 1)],
                "marker": {"color": COLOURS[name]},
                "showlegend": i == 0,
                "legendgroup": name,
                "hovertemplate": "%{y}: %{x:.1f} %<extra>" + who + "</extra>",
            }
            for name in names
            for i, shares in enumerate((mine, typical))
            for who in [LABELS[name]]
        ],
        "layout": _layout(
            height=200,
            barmode="stack",
            xaxis={"ticksuffix": " %", "range": [0, 100]},
            margin={**_MARGIN, "l": 140},
        ),
    }
