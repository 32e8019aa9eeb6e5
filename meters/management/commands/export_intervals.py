"""Write stored intervals as CSV (as received, or current values after VEE)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from django.core.management.base import BaseCommand, CommandError, CommandParser

from meters.models import Meter
from meters.reads import intervals
from portal.commands import ldc_by_slug, local_date


class Command(BaseCommand):
    help = (
        "Export intervals whose start falls on the LDC's local dates START..END (inclusive) "
        "as CSV on standard output."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--ldc", required=True, help="LDC slug")
        parser.add_argument("--start", required=True, type=local_date, help="first local date")
        parser.add_argument("--end", required=True, type=local_date, help="last local date")
        parser.add_argument("--meter", help="one meter serial")
        parser.add_argument(
            "--as-received",
            action="store_true",
            help="values and head-end flags as received (expected.csv columns)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        ldc = ldc_by_slug(options["ldc"])
        if options["end"] < options["start"]:
            raise CommandError("--end is before --start")
        meters = None
        if options["meter"]:
            meter = Meter.objects.for_ldc(ldc).filter(serial=options["meter"]).first()
            if meter is None:
                raise CommandError(f"no meter '{options['meter']}' at {ldc.slug}")
            meters = [meter.pk]
        first, after = intervals.local_range_utc(
            options["start"], options["end"], ZoneInfo(ldc.time_zone)
        )
        iv = intervals.intervals_between(ldc, first, after, meters=meters)
        if options["as_received"]:
            header, columns = intervals.AS_RECEIVED_HEADER, intervals.as_received_columns(iv)
        else:
            header, columns = intervals.CURRENT_HEADER, intervals.current_columns(iv)
        self.stdout.write(",".join(header))
        lines = intervals.csv_lines(columns)
        if len(lines):
            self.stdout.write("\n".join(lines.tolist()))
