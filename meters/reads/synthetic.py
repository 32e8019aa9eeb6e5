"""Realistic synthetic interval reads (load shapes, gaps, spikes) for the demo and benchmarks."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

import numpy as np

TORONTO = ZoneInfo("America/Toronto")


def hourly_shape(rng: np.random.Generator, meters: int) -> np.ndarray:
    """kWh per local hour of day for each meter: base load, morning and evening peaks."""
    hours = np.arange(24)
    base = rng.uniform(0.2, 0.6, (meters, 1))
    morning = rng.uniform(0.3, 1.2, (meters, 1)) * np.exp(-((hours - 7.5) ** 2) / 3)
    evening = rng.uniform(0.6, 2.2, (meters, 1)) * np.exp(-((hours - 18.5) ** 2) / 5)
    return base + morning + evening


def local_hours(day: dt.date, tz: ZoneInfo) -> tuple[list[int], list[str]]:
    """The local hour-of-day and CMEP interval-ending label of each hour of a local day
    (23 on the spring-forward day, 25 on the fall-back day)."""
    start = dt.datetime.combine(day, dt.time(), tz).astimezone(dt.UTC)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tz).astimezone(dt.UTC)
    hours, labels = [], []
    t = start
    while t < end:
        local = t.astimezone(tz)
        hours.append(local.hour)
        labels.append((t + dt.timedelta(hours=1)).astimezone(tz).strftime("%Y%m%d%H%M"))
        t += dt.timedelta(hours=1)
    return hours, labels


def write_cmep_day(
    out: TextIO,
    serials: Sequence[str],
    day: dt.date,
    shape: np.ndarray,
    rng: np.random.Generator,
    tz: ZoneInfo = TORONTO,
    gap_rate: float = 0.001,
) -> int:
    """One MEPMD01 record per meter for one local day; returns the intervals written."""
    hours, labels = local_hours(day, tz)
    meters = len(serials)
    kwh = np.round(shape[:, hours] * rng.gamma(8, 1 / 8, (meters, len(hours))), 3)
    spikes = rng.random(kwh.shape) < 0.0005
    kwh[spikes] *= 6
    values = np.char.mod("%.3f", kwh)
    quality = np.full(kwh.shape, "R0", dtype="<U2")
    gaps = rng.random(kwh.shape) < gap_rate
    values[gaps], quality[gaps] = "", "N0"
    estimated = (rng.random(kwh.shape) < gap_rate / 2) & ~gaps
    quality[estimated] = "E0"
    head = f"MEPMD01,20080501,HESA,,OPENMDMR,,{day:%Y%m%d}2355,"
    tail = f",OK,E,KWH,1,00000100,{len(hours)},"
    for m, serial in enumerate(serials):
        triplets = ",".join(
            f"{s},{q},{v}" for s, q, v in zip(labels, quality[m], values[m], strict=True)
        )
        out.write(f"{head}{serial}{tail}{triplets}\n")
    return meters * len(hours)


def write_cmep(
    path: Path,
    serials: Sequence[str],
    start: dt.date,
    days: int,
    seed: int = 7,
    tz: ZoneInfo = TORONTO,
) -> int:
    """A CMEP file of ``days`` local days for the given meters; returns the intervals written."""
    rng = np.random.default_rng(seed)
    shape = hourly_shape(rng, len(serials))
    with path.open("w", newline="\n") as out:
        return sum(
            write_cmep_day(out, serials, start + dt.timedelta(days=d), shape, rng, tz)
            for d in range(days)
        )
