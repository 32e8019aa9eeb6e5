"""How a person reads a time, a date, a number or an audit change: one policy, one place.

- A moment (an aware datetime) is shown in the current time zone (the LDC's, activated per
  request) with the zone's abbreviation: ``2026-12-07 14:05 EST``. UTC appears only in machine
  formats (CSV, JSON, XML), and is labelled there.
- A day is ``2026-12-07`` (all-numeric, CAN/CSA-Z234.4 and ISO 8601), with the weekday when it
  helps: ``Mon 2026-12-07``.
- A time of day on the customers' price pages reads as a clock: ``7 p.m.``.
- Numbers group thousands with a comma (``portal/formats/en_CA``); counts agree with their noun
  (``1 open exception``, ``2 open exceptions``).
- An audit change lists the fields that changed, ``field: old → new``, instead of two dicts.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import template
from django.contrib.humanize.templatetags.humanize import intcomma
from django.utils import timezone
from django.utils.dateformat import format as date_format

register = template.Library()


def _local(value: Any) -> Any:
    """An aware instant in the current zone; a date or a naive value as it is."""
    if isinstance(value, dt.datetime) and timezone.is_aware(value):
        return timezone.localtime(value)
    return value


def _shown_as(value: Any, style: str) -> str:
    return date_format(_local(value), style) if value else "—"


@register.filter
def moment(value: dt.datetime | None) -> str:
    """An instant in the current zone, with the zone: ``2026-12-07 14:05 EST``."""
    return _shown_as(value, "Y-m-d H:i T")


@register.filter
def day(value: dt.date | None) -> str:
    """A day: ``2026-12-07`` (an instant becomes its day in the current zone)."""
    return _shown_as(value, "Y-m-d")


@register.filter
def weekday(value: dt.date | None) -> str:
    """A day with its weekday: ``Mon 2026-12-07``."""
    return _shown_as(value, "D Y-m-d")


@register.filter
def clock(value: dt.datetime | dt.time | None) -> str:
    """A time of day as people say it: ``7 p.m.``, ``6:30 a.m.``."""
    return _shown_as(value, "P")


@register.filter
def count(value: Any, noun: str) -> str:
    """``1 open exception`` / ``1,204 open exceptions``: the number and its noun in agreement.
    ``noun`` is the singular, or ``singular,plural`` for irregular ones (``entry,entries``)."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return f"{value} {noun}"
    singular, _, plural = noun.partition(",")
    word = singular if number == 1 else (plural or _plural(singular))
    return f"{intcomma(number)} {word}"


def _plural(singular: str) -> str:
    head, _, last = singular.rpartition(" ")
    if last.endswith(("s", "x", "ch", "sh")):
        last += "es"
    elif last.endswith("y") and last[-2:-1] not in "aeiou":
        last = last[:-1] + "ies"
    else:
        last += "s"
    return f"{head} {last}" if head else last


@register.filter
def changes(event: Any) -> list[dict[str, str]]:
    """An audit event's change as rows of field, before and after (only what changed; a new
    object lists its fields with no "before")."""
    if not all(isinstance(v, dict | None) for v in (event.before, event.after)):
        return [{"field": "", "before": _shown(event.before), "after": _shown(event.after)}]
    before, after = event.before or {}, event.after or {}
    rows = []
    for field in list(before) + [f for f in after if f not in before]:
        old, new = before.get(field), after.get(field)
        if field in before and field in after and old == new:
            continue
        rows.append(
            {
                "field": field.replace("_", " "),
                "before": _shown(old) if field in before else "",
                "after": _shown(new) if field in after else "(removed)",
            }
        )
    return rows


def _shown(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(_shown(v) for v in value) if value else "none"
    if isinstance(value, dict):
        return "; ".join(f"{k.replace('_', ' ')}: {_shown(v)}" for k, v in value.items())
    if isinstance(value, int):
        return intcomma(value)
    return str(value)
