"""Plotly figure dicts of billing quantities (figures in, figure out; charts never query)."""

from __future__ import annotations

from typing import Any

COLOURS = {
    "on_peak": "#dc3545",
    "mid_peak": "#fd7e14",
    "off_peak": "#198754",
    "ultra_low_overnight": "#0d6efd",
    "weekend_off_peak": "#20c997",
    "tier1": "#6c757d",
    "tier2": "#6f42c1",
}


def period_bars(rows: list[dict[str, Any]], title: str) -> dict[str, Any]:
    """kWh per price period, one bar per meter (and version), stacked by period."""
    labels = [f"{r['meter_id']} v{r['version']}" for r in rows]
    names = list(dict.fromkeys(name for r in rows for name in r["periods_kwh"]))
    traces = [
        {
            "type": "bar",
            "name": name.replace("_", " "),
            "x": labels,
            "y": [round(r["periods_kwh"].get(name, 0.0), 3) for r in rows],
            "marker": {"color": COLOURS.get(name, "#adb5bd")},
            "hovertemplate": "%{x}<br>%{y:.3f} kWh<extra>" + name.replace("_", " ") + "</extra>",
        }
        for name in names
    ]
    return {
        "data": traces,
        "layout": {
            "title": {"text": title},
            "barmode": "stack",
            "yaxis": {"title": {"text": "kWh"}, "rangemode": "tozero"},
            "margin": {"t": 40, "r": 10, "b": 40, "l": 50},
            "legend": {"orientation": "h"},
            "height": 300,
        },
    }
