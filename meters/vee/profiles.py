"""Class load profiles for E5: per LDC, rate class, day type (weekday, weekend, holiday) and
local hour, the average validated meter's Wh, computed from the LDC's stored reads.

The SME's VEE service keeps class load profiles for the MDM/R's profile estimation (the SME's
"VEE Services Class Load Profiles VE07 / VE17 / VE27 / VE37"; their content is not public here):
ours are computed from the LDC's own validated actual reads of the last PROFILE_DAYS days, by a
beat task each day (``class_profiles_all``) or at once (``manage.py class_profiles --ldc SLUG``),
and kept with the date they were computed on. VEE reads the newest profile of each class and day
type and hands each row of a block its two local days' profiles (a UTC row spans two local days,
which may be of different types: Friday night and Saturday).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
from django.db import transaction
from django.utils import timezone

from meters.models import ClassProfile, MeterInstallation
from meters.reads import day_store
from meters.reads.day_arrays import DAY_S, DayBlock, IntervalFlag
from meters.vee.inputs import RATE_CLASSES
from portal.calendar.holidays import holiday_mask, weekend_mask
from portal.calendar.localtime import day_number, local_days, utc_offsets
from portal.tenancy import LDC

PROFILE_DAYS = 28  # four weeks of each weekday; holidays from the same window when any
CHUNK_METERS = 5000
DAY_TYPES = ("weekday", "weekend", "holiday")
# Only accepted actual reads make a profile: VEE validated them, nobody estimated them.
NOT_PROFILE = int(
    IntervalFlag.MISSING | IntervalFlag.ESTIMATED | IntervalFlag.FAILED | IntervalFlag.OUTAGE
)


def day_types(local_day: np.ndarray) -> np.ndarray:
    """(N,) index into DAY_TYPES of local day numbers (a holiday on a weekend is a holiday)."""
    out = np.where(weekend_mask(local_day), 1, 0)
    return np.where(holiday_mask(local_day), 2, out)


def _accumulate(
    block: DayBlock, klass: np.ndarray, tz: ZoneInfo, sums: np.ndarray, counts: np.ndarray
) -> None:
    """Add a block's validated actual Wh per hour to (class, day type, hour) sums and counts."""
    k, n = block.wh.shape
    if not k:
        return
    starts = block.day[:, None] * DAY_S + np.arange(n, dtype=np.int64) * block.minutes * 60
    local = starts + utc_offsets(starts.ravel(), tz).reshape(starts.shape)
    hour = (local % DAY_S) // 3600
    kind = day_types(local // DAY_S)
    good = ((block.flags & NOT_PROFILE) == 0) & ((block.flags & IntervalFlag.VALIDATED) != 0)
    good &= (block.channel == 1)[:, None] & (klass > 0)[:, None]
    cell = (klass[:, None] * 3 + kind) * 24 + hour
    rate = block.wh.astype(np.float64) * (60.0 / block.minutes)  # Wh per hour
    sums += np.bincount(cell[good], rate[good], sums.size)
    counts += np.bincount(cell[good], minlength=counts.size)


@transaction.atomic
def class_profiles_compute(*, ldc: LDC, on: dt.date | None = None) -> list[ClassProfile]:
    """Compute and keep the LDC's class profiles from the PROFILE_DAYS local days before ``on``
    (default: today). A class and day type without reads gets no profile that day."""
    tz = ZoneInfo(ldc.time_zone)
    on = on or timezone.localdate(timezone=tz)
    last, first = on - dt.timedelta(days=1), on - dt.timedelta(days=PROFILE_DAYS)
    installs = list(
        MeterInstallation.objects.for_ldc(ldc)
        .filter(effective_from__lte=last)
        .exclude(effective_to__lt=first)
        .values_list("meter_id", "sdp__rate_class")
    )
    klass_of = {m: RATE_CLASSES.index(c) if c in RATE_CLASSES else 0 for m, c in installs}
    meters = sorted(klass_of)
    sums, counts = np.zeros(len(RATE_CLASSES) * 3 * 24), np.zeros(len(RATE_CLASSES) * 3 * 24)
    meter_days = np.zeros(len(RATE_CLASSES) * 3, np.int64)
    for i in range(0, len(meters), CHUNK_METERS):
        part = meters[i : i + CHUNK_METERS]
        # UTC days covering the local days (a day either side).
        boxes = day_store.vee_stored(ldc, part, day_number(first) - 1, day_number(last) + 1)
        for box in boxes.values():
            block = box.block
            local = local_days(block.day * DAY_S + DAY_S // 2, tz)
            inside = (local >= day_number(first)) & (local <= day_number(last))
            block = block.take(np.flatnonzero(inside))
            klass = np.array([klass_of.get(int(m), 0) for m in block.meter], np.int64)
            _accumulate(block, klass, tz, sums, counts)
            kinds = day_types(local[inside])
            np.add.at(meter_days, klass * 3 + kinds, 1)
    mean = np.divide(sums, counts, out=np.full_like(sums, np.nan), where=counts > 0)
    mean = mean.reshape(len(RATE_CLASSES), 3, 24)
    made = []
    for c in range(1, len(RATE_CLASSES)):
        for t, name in enumerate(DAY_TYPES):
            if np.isnan(mean[c, t]).any():
                continue  # an hour without reads: no profile rather than a hole in it
            made.append(
                ClassProfile.objects.update_or_create(
                    ldc=ldc,
                    rate_class=RATE_CLASSES[c],
                    day_type=name,
                    computed_on=on,
                    defaults={
                        "first_day": first,
                        "last_day": last,
                        "wh_per_hour": [round(float(v), 1) for v in mean[c, t]],
                        "meter_days": int(meter_days[c * 3 + t]),
                    },
                )[0]
            )
    return made


def profile_table(ldc: LDC) -> np.ndarray | None:
    """(classes, 3, 24) the newest profile of each class and day type (NaN where none), or None
    when the LDC has none. A day type without its own profile (holidays, often) takes the
    weekend's, as E3 treats holidays like weekends."""
    table = np.full((len(RATE_CLASSES), 3, 24), np.nan)
    seen = set()
    for p in ClassProfile.objects.for_ldc(ldc).order_by("-computed_on"):
        key = (p.rate_class, p.day_type)
        if key in seen or p.rate_class not in RATE_CLASSES:
            continue
        seen.add(key)
        table[RATE_CLASSES.index(p.rate_class), DAY_TYPES.index(p.day_type)] = p.wh_per_hour
    if not seen:
        return None
    holiday = np.isnan(table[:, 2]).all(axis=1)
    table[holiday, 2] = table[holiday, 1]
    return table


def row_profiles(
    table: np.ndarray, block: DayBlock, rate_class: np.ndarray, tz: ZoneInfo
) -> np.ndarray:
    """(K, 2, 24) each row's profile for its first and its second local day (E5's input)."""
    first = local_days(block.day * DAY_S, tz)
    kinds = np.stack([day_types(first), day_types(first + 1)], axis=1)
    return table[np.asarray(rate_class, np.int64)[:, None], kinds]
