"""One display policy: local time with its zone, one date style, one number style, plurals that
agree, audit changes as fields (portal/templatetags/display.py, portal/formats/en_CA)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from types import SimpleNamespace

import pytest
from django.template import engines
from django.utils import timezone

from portal.templatetags import display

UTC = dt.UTC


def render(source: str, **context: object) -> str:
    return engines["django"].from_string(source).render(context)


def test_a_moment_reads_in_the_active_zone_with_its_zone() -> None:
    instant = dt.datetime(2026, 12, 7, 1, 48, tzinfo=UTC)
    assert display.moment(instant) == "2026-12-06 20:48 EST"
    with timezone.override(zoneinfo.ZoneInfo("America/Winnipeg")):
        assert display.moment(instant) == "2026-12-06 19:48 CST"
    summer = dt.datetime(2026, 7, 1, 16, 0, tzinfo=UTC)
    assert render("{{ t|moment }}", t=summer) == "2026-07-01 12:00 EDT"


def test_days_have_one_style_and_a_moment_becomes_its_local_day() -> None:
    assert display.day(dt.date(2026, 3, 10)) == "2026-03-10"
    assert display.weekday(dt.date(2026, 3, 10)) == "Tue 2026-03-10"
    late_evening = dt.datetime(2026, 12, 8, 3, 0, tzinfo=UTC)  # 22:00 on the 7th in Toronto
    assert display.day(late_evening) == "2026-12-07"
    assert display.day(None) == "—"


def test_numbers_group_thousands_with_a_comma_everywhere() -> None:
    assert render("{% load humanize %}{{ n|intcomma }}", n=636460) == "636,460"
    assert render("{{ n|count:'interval' }}", n=1440) == "1,440 intervals"


@pytest.mark.parametrize(
    ("n", "noun", "shown"),
    [
        (1, "open VEE exception", "1 open VEE exception"),
        (2, "open VEE exception", "2 open VEE exceptions"),
        (0, "file", "0 files"),
        (3, "entry,entries", "3 entries"),
        (1, "entry,entries", "1 entry"),
        (2, "batch", "2 batches"),
        (2, "day", "2 days"),
        (5, "SDP", "5 SDPs"),
    ],
)
def test_counts_agree_with_their_noun(n: int, noun: str, shown: str) -> None:
    assert display.count(n, noun) == shown


def test_an_audit_change_lists_the_fields_that_changed() -> None:
    event = SimpleNamespace(
        before={"status": "pending", "multiplier": 1, "name": "A"},
        after={"status": "approved", "multiplier": 40, "name": "A", "trained": True},
    )
    rows = display.changes(event)
    assert rows == [
        {"field": "status", "before": "pending", "after": "approved"},
        {"field": "multiplier", "before": "1", "after": "40"},
        {"field": "trained", "before": "", "after": "yes"},
    ]
    created = SimpleNamespace(before=None, after={"sdps": [1, 2], "bytes": 20480})
    assert display.changes(created) == [
        {"field": "sdps", "before": "", "after": "1, 2"},
        {"field": "bytes", "before": "", "after": "20,480"},
    ]
