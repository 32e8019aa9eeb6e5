"""Plotly figure dicts of the rollout pages (selector output in, figure out; charts never query)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ldc.charts import BLUE, GREEN, GREY, ORANGE, RED, figure_layout
from portal.models import RolloutSnapshot, RolloutTarget

WEEK = dt.timedelta(days=7)


def trend(
    snapshots: list[RolloutSnapshot], metric: str, label: str, target: RolloutTarget | None
) -> dict[str, Any]:
    """A figure's weekly history, with its target (if set) as a dashed line up to the due date."""
    weeks = [s.week.isoformat() for s in snapshots]
    data: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": label,
            "x": weeks,
            "y": [getattr(s, metric) for s in snapshots],
            "line": {"color": BLUE},
            "hovertemplate": "week of %{x}<br>%{y:,}<extra></extra>",
        }
    ]
    if target is not None:
        start = weeks[0] if weeks else target.set_at.date().isoformat()
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": f"target {target.value:,} by {target.due_date}",
                "x": [start, target.due_date.isoformat()],
                "y": [target.value, target.value],
                "line": {"color": RED, "dash": "dash"},
                "hoverinfo": "skip",
            }
        )
    xaxis: dict[str, Any] = {"type": "date", "tickformat": "%Y-%m-%d"}
    if len(snapshots) == 1 and target is None:  # one point: a month around it, not milliseconds
        only = snapshots[0].week
        xaxis["range"] = [(only - WEEK * 2).isoformat(), (only + WEEK * 2).isoformat()]
    layout = figure_layout(label, yaxis={"rangemode": "tozero"}, xaxis=xaxis)
    return {"data": data, "layout": layout}


def funnel(stages: list[dict[str, Any]]) -> dict[str, Any]:
    """LDCs that reached each stage (at it or past it)."""
    labels = [s["label"] for s in stages]
    return {
        "data": [
            {
                "type": "funnel",
                "y": labels,
                "x": [s["reached"] for s in stages],
                "text": [f"{s['at']} at this stage" for s in stages],
                "textinfo": "value",
                "marker": {"color": BLUE},
                "hovertemplate": "%{y}<br>%{x} reached · %{text}<extra></extra>",
            }
        ],
        "layout": figure_layout(
            "LDCs that reached each stage",
            height=340,
            margin={"t": 40, "r": 10, "b": 20, "l": 10},
            yaxis={"automargin": True},
        ),
    }


def sizes(classes: list[dict[str, Any]]) -> dict[str, Any]:
    """LDCs and their customers per size class."""
    labels = [c["short"] for c in classes]
    return {
        "data": [
            {
                "type": "bar",
                "name": "LDCs",
                "x": labels,
                "y": [c["ldcs"] for c in classes],
                "marker": {"color": BLUE},
                "yaxis": "y",
                "offsetgroup": 1,
            },
            {
                "type": "bar",
                "name": "% of customers",
                "x": labels,
                "y": [c["share_pct"] for c in classes],
                "marker": {"color": ORANGE},
                "yaxis": "y2",
                "offsetgroup": 2,
            },
        ],
        "layout": figure_layout(
            "LDC size classes (customers)",
            yaxis={"title": {"text": "LDCs"}, "rangemode": "tozero"},
            yaxis2={"title": {"text": "% of customers"}, "overlaying": "y", "side": "right"},
            barmode="group",
            margin={"t": 40, "r": 60, "b": 40, "l": 60},
        ),
    }


def top_share(share: dict[str, Any]) -> dict[str, Any]:
    """The largest LDCs' share of the province's customer base."""
    return {
        "data": [
            {
                "type": "pie",
                "hole": 0.5,
                "labels": [f"{share['n']} largest LDCs", "all others"],
                "values": [share["customers"], share["rest"]],
                "marker": {"colors": [BLUE, GREY]},
                "sort": False,
                "textinfo": "percent",
            }
        ],
        "layout": figure_layout(f"The {share['n']} largest LDCs' share of customers"),
    }


LDC_SERIES = (
    ("meters_installed", "meters installed", BLUE),
    ("sdps_registered", "SDPs registered", GREY),
    ("sdps_enrolled", "SDPs enrolled", ORANGE),
    ("tou_billed", "on TOU billing", GREEN),
)


def ldc_trend(snapshots: list[RolloutSnapshot], name: str) -> dict[str, Any]:
    """One LDC's weekly rollout figures."""
    weeks = [s.week.isoformat() for s in snapshots]
    data = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": label,
            "x": weeks,
            "y": [getattr(s, key) for s in snapshots],
            "line": {"color": colour},
        }
        for key, label, colour in LDC_SERIES
    ]
    xaxis: dict[str, Any] = {"type": "date", "tickformat": "%Y-%m-%d"}
    if len(snapshots) == 1:
        only = snapshots[0].week
        xaxis["range"] = [(only - WEEK * 2).isoformat(), (only + WEEK * 2).isoformat()]
    layout = figure_layout(f"{name}: weekly rollout", yaxis={"rangemode": "tozero"}, xaxis=xaxis)
    return {"data": data, "layout": layout}
