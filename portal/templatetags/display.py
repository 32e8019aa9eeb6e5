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


@register.filter
def moment(value: dt.datetime | None) -> str:
    """An instant in the current zone, with the zone: ``2026-12-07 14:05 EST``."""
    if not value:
        return "—"
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    return date_format(value, "Y-m-d H:i T")


@register.filter
def day(value: dt.date | None) -> str:
    """A day: ``2026-12-07`` (an instant becomes its day in the current zone)."""
    if not value:
        return "—"
    if isinstance(value, dt.datetime) and timezone.is_aware(value):
        value = timezone.localtime(value)
    return date_format(value, "Y-m-d")


@register.filter
def weekday(value: dt.date | None) -> str:
    """A day with its weekday: ``Mon 2026-12-07``."""
    if not value:
        return "—"
    if isinstance(value, dt.datetime) and timezone.is_aware(value):
        value = timezone.localtime(value)
    return date_format(value, "D Y-m-d")


@register.filter
def clock(value: dt.datetime | dt.time | None) -> str:
    """A time of day as people say it: ``7 p.m.``, ``6:30 a.m.``."""
    if not value:
        return "—"
    if isinstance(value, dt.datetime) and timezone.is_aware(value):
        value = timezone.localtime(value)
    return date_format(value, "P")


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
    before = event.before if isinstance(event.before, dict) else {}
    after = event.after if isinstance(event.after, dict) else {}
    if not isinstance(event.before, (dict, type(None))) or not isinstance(
        event.after, (dict, type(None))
    ):
        return [{"field": "", "before": _shown(event.before), "after": _shown(event.after)}]
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
