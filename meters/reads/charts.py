"""Plotly figure dicts of meter data (arrays in, figure out; charts never query)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from meters.reads.day_arrays import NEVER
from meters.reads.intervals import Intervals, current_flag_names
from portal.calendar.localtime import utc_offsets

COLOURS = {"ACTUAL": "#0d6efd", "ESTIMATED": "#fd7e14", "EDITED": "#6f42c1", "MISSING": "#dc3545"}


def local_iso(start: np.ndarray, tz: ZoneInfo) -> list[str]:
    """ISO local wall-clock strings (plotly draws them as given)."""
    local = (start + utc_offsets(start, tz)).astype("datetime64[s]")
    return np.datetime_as_string(local, unit="m").tolist()


def interval_bars(iv: Intervals, tz: ZoneInfo, title: str) -> dict[str, Any]:
    """kWh per interval, one colour per state; a missing interval shows as a red marker at 0."""
    names = current_flag_names(iv.flags)
    traces = []
    for state, colour in COLOURS.items():
        sel = names == state
        if not sel.any():
            continue
        y = np.where(state == "MISSING", 0, iv.wh[sel] / 1000.0)
        traces.append(
            {
                "type": "bar",
                "name": state.title(),
                "x": local_iso(iv.start[sel], tz),
                "y": np.round(y, 3).tolist(),
                "marker": {"color": colour},
                "hovertemplate": "%{x}<br>%{y:.3f} kWh<extra>" + state.title() + "</extra>",
            }
        )
    return {
        "data": traces,
        "layout": {
            "title": {"text": title},
            "barmode": "overlay",
            "bargap": 0.05,
            "yaxis": {"title": {"text": "kWh"}, "rangemode": "tozero"},
            "xaxis": {"type": "date"},
            "margin": {"t": 40, "r": 10, "b": 40, "l": 50},
            "legend": {"orientation": "h"},
            "height": 320,
        },
    }


def raw_against_current(iv: Intervals, tz: ZoneInfo, title: str) -> dict[str, Any]:
    """One day: the values as received (grey) against the current, validated ones (by state)."""
    figure = interval_bars(iv, tz, title)
    received = iv.raw_quality != NEVER
    raw = np.where(received & (iv.raw_quality != 3), iv.raw_wh / 1000.0, None)
    figure["data"].insert(
        0,
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": "As received",
            "x": local_iso(iv.start, tz),
            "y": [None if v is None else round(float(v), 3) for v in raw],
            "line": {"color": "#6c757d", "dash": "dot", "shape": "hvh"},
            "marker": {"size": 5},
            "hovertemplate": "%{x}<br>received %{y:.3f} kWh<extra></extra>",
        },
    )
    figure["layout"]["barmode"] = "overlay"
    return figure
