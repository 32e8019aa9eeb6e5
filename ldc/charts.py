"""Plotly figure dicts of the MDM/R stages, read success and enrollment (selector output in,
figure out; charts never query)."""

from __future__ import annotations

import datetime as dt
from typing import Any

DAY_MS = 86_400_000
STATUS_COLOURS = {
    "signed_off": "#198754",
    "submitted": "#0dcaf0",
    "in_progress": "#0d6efd",
    "returned": "#fd7e14",
    "not_started": "#adb5bd",
}
LATE_COLOUR = "#dc3545"
BLUE, GREEN, ORANGE, RED, GREY = "#0d6efd", "#198754", "#fd7e14", "#dc3545", "#6c757d"


def figure_layout(title: str, height: int = 280, **extra: Any) -> dict[str, Any]:
    return {
        "title": {"text": title, "font": {"size": 14}},
        "margin": {"t": 40, "r": 10, "b": 40, "l": 60},
        "height": height,
        "legend": {"orientation": "h", "y": -0.2},
        **extra,
    }


def _as_date(value: Any) -> dt.date | None:
    if value is None:
        return None
    return value.date() if isinstance(value, dt.datetime) else value


def stage_spans(timeline: list[dict[str, Any]], today: dt.date) -> list[tuple[dt.date, dt.date]]:
    """(first, last) day of each stage: actual where known, planned (chained) where not."""
    spans: list[tuple[dt.date, dt.date]] = []
    previous_end = None
    for stage in timeline:
        start = _as_date(stage["started"]) or previous_end or today
        if stage["status"] == "signed_off" and stage["decided"]:
            end = _as_date(stage["decided"]) or start
        else:
            end = stage["due"] or start + dt.timedelta(days=1)
            if stage["current"] and end < today:
                end = today  # a late current stage runs on until today
        if stage["status"] == "not_started" and previous_end and start < previous_end:
            start = previous_end
            end = max(end, start + dt.timedelta(days=1))
        end = max(end, start)
        spans.append((start, end))
        previous_end = end
    return spans


def stage_gantt(timeline: list[dict[str, Any]], today: dt.date) -> dict[str, Any]:
    """The stages as a Gantt chart: one bar per stage coloured by status, red when late."""
    spans = stage_spans(timeline, today)
    colours = [
        LATE_COLOUR if s["late"] else STATUS_COLOURS.get(s["status"], "#adb5bd") for s in timeline
    ]
    return {
        "data": [
            {
                "type": "bar",
                "orientation": "h",
                "y": [s["label"] for s in timeline],
                "base": [a.isoformat() for a, _ in spans],
                "x": [max((b - a).days, 1) * DAY_MS for a, b in spans],
                "marker": {"color": colours},
                "customdata": [
                    [
                        s["status_label"] + (" — late" if s["late"] else ""),
                        a.isoformat(),
                        b.isoformat(),
                    ]
                    for s, (a, b) in zip(timeline, spans, strict=True)
                ],
                "hovertemplate": "%{y}<br>%{customdata[0]}<br>%{customdata[1]} → "
                "%{customdata[2]}<extra></extra>",
            }
        ],
        "layout": {
            "xaxis": {"type": "date"},
            "yaxis": {"autorange": "reversed", "automargin": True},
            "shapes": [
                {
                    "type": "line",
                    "xref": "x",
                    "yref": "paper",
                    "x0": today.isoformat(),
                    "x1": today.isoformat(),
                    "y0": 0,
                    "y1": 1,
                    "line": {"color": "#212529", "dash": "dot", "width": 1},
                }
            ],
            "annotations": [
                {
                    "x": today.isoformat(),
                    "y": 1,
                    "xref": "x",
                    "yref": "paper",
                    "text": "today",
                    "showarrow": False,
                    "yanchor": "bottom",
                }
            ],
            "margin": {"t": 30, "r": 10, "b": 40, "l": 10},
            "height": 320,
            "showlegend": False,
        },
    }


def read_success_bars(success: dict[str, Any], target_pct: float) -> dict[str, Any]:
    """Read success per day against the obligation (a dashed line); days below it in red."""
    pct = [p if p is not None else 0 for p in success["pct"]]
    colours = ["#198754" if p >= target_pct else LATE_COLOUR for p in pct]
    days = [d.isoformat() for d in success["days"]]
    return {
        "data": [
            {
                "type": "bar",
                "x": days,
                "y": pct,
                "marker": {"color": colours},
                "name": "read success",
                "hovertemplate": "%{x}<br>%{y:.2f} %<extra></extra>",
            },
            {
                "type": "scatter",
                "mode": "lines",
                "x": days,
                "y": [target_pct] * len(days),
                "name": f"obligation {target_pct} %",
                "line": {"color": "#212529", "dash": "dash"},
            },
        ],
        "layout": {
            "yaxis": {"title": {"text": "%"}, "range": [min([90, *pct]), 100.5]},
            "xaxis": {"type": "date", "dtick": DAY_MS},
            "margin": {"t": 20, "r": 10, "b": 40, "l": 50},
            "height": 260,
            "legend": {"orientation": "h"},
        },
    }


def group_progress_bars(groups: list[Any]) -> dict[str, Any]:
    """Per enrollment group: SDPs in the group, enrolled, and on TOU billing."""
    names = [str(g) for g in groups]
    series = (
        ("in the group", "sdp_count", "#adb5bd"),
        ("enrolled", "enrolled_count", "#0d6efd"),
        ("on TOU billing", "tou_count", "#198754"),
    )
    return {
        "data": [
            {
                "type": "bar",
                "x": names,
                "y": [getattr(g, attr) for g in groups],
                "name": label,
                "marker": {"color": colour},
            }
            for label, attr, colour in series
        ],
        "layout": {
            "barmode": "group",
            "yaxis": {"title": {"text": "SDPs"}, "rangemode": "tozero"},
            "margin": {"t": 20, "r": 10, "b": 40, "l": 50},
            "height": 260,
            "legend": {"orientation": "h"},
        },
    }


def daily_read_success(daily: list[dict[str, Any]], obligation_pct: float) -> dict[str, Any]:
    """Read success per day against the obligation (red: below it)."""
    days = [d["day"].isoformat() for d in daily]
    pct = [d["pct"] for d in daily]
    colours = [GREY if p is None else (GREEN if p >= obligation_pct else RED) for p in pct]
    return {
        "data": [
            {
                "type": "bar",
                "name": "read success",
                "x": days,
                "y": [0 if p is None else p for p in pct],
                "marker": {"color": colours},
                "hovertemplate": "%{x}<br>%{y:.2f} %<extra></extra>",
            },
            {
                "type": "scatter",
                "mode": "lines",
                "name": f"obligation {obligation_pct} %",
                "x": days,
                "y": [obligation_pct] * len(days),
                "line": {"color": RED, "dash": "dash"},
                "hoverinfo": "skip",
            },
        ],
        "layout": figure_layout(
            "Daily read success",
            yaxis={"range": [0, 100], "title": {"text": "%"}},
            xaxis={"type": "category"},
        ),
    }


def exceptions_by_rule(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """VEE exceptions raised in the week, per rule (open and resolved)."""
    rules = [r["rule"] for r in rows]
    return {
        "data": [
            {
                "type": "bar",
                "name": "open",
                "x": rules,
                "y": [r["open"] for r in rows],
                "marker": {"color": ORANGE},
            },
            {
                "type": "bar",
                "name": "resolved",
                "x": rules,
                "y": [r["total"] - r["open"] for r in rows],
                "marker": {"color": GREY},
            },
        ],
        "layout": figure_layout(
            "VEE exceptions by rule", barmode="stack", xaxis={"type": "category"}
        ),
    }
