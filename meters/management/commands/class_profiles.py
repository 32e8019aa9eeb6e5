"""Compute an LDC's class load profiles (E5) at once, as the daily beat task does."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from meters.vee.profiles import PROFILE_DAYS, class_profiles_compute
from portal.commands import ldc_by_slug, local_date


class Command(BaseCommand):
    help = (
        "Compute the LDC's class load profiles (rate class, day type, local hour) from its "
        f"validated reads of the {PROFILE_DAYS} local days before ON (default today)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--ldc", required=True, help="LDC slug")
        parser.add_argument("--on", type=local_date, help="date the profiles are computed on")

    def handle(self, *args: Any, **options: Any) -> None:
        ldc = ldc_by_slug(options["ldc"])
        made = class_profiles_compute(ldc=ldc, on=options["on"])
        for p in made:
            peak = max(p.wh_per_hour)
            self.stdout.write(
                f"{p.rate_class},{p.day_type},{p.computed_on},{p.meter_days} meter-days,"
                f"peak {peak / 1000:.3f} kWh/h"
            )
        if not made:
            self.stdout.write(f"no validated reads at {ldc.slug} in the window: no profile")
