"""What the management commands share: the --ldc tenant and local-date arguments."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import CommandError

from portal.tenancy import LDC


def local_date(value: str) -> dt.date:
    """An argparse type for YYYY-MM-DD local dates."""
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"'{value}' is not a date (YYYY-MM-DD)") from None


def ldc_by_slug(slug: str) -> LDC:
    """The tenant a command works for (--ldc SLUG), or a clear error."""
    ldc = LDC.objects.filter(slug=slug).first()
    if ldc is None:
        raise CommandError(f"no LDC with slug '{slug}'")
    return ldc
