"""Make the month's Smart Metering Charge statements and print them as CSV on stdout.

``manage.py sme_charges --month YYYY-MM [--ldc SLUG]`` -> ``ldc,month,meters,rate,amount``
(the monthly beat task on the 1st makes the previous month's the same way).
"""

from __future__ import annotations

import csv
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ldc.charges import CSV_HEADER, csv_rows, parse_month, statements_make
from portal.audit import audit_context
from portal.tenancy import LDC


class Command(BaseCommand):
    help = "Smart Metering Charge statements of a month (every LDC, or one) as CSV on stdout."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--month", required=True, help="YYYY-MM")
        parser.add_argument("--ldc", default=None, help="one LDC's slug (default: every LDC)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            month = parse_month(options["month"])
        except ValidationError as exc:
            raise CommandError(f"--month: {exc.messages[0]}") from exc
        ldcs = None
        if options["ldc"]:
            ldc = LDC.objects.filter(slug=options["ldc"]).first()
            if ldc is None:
                raise CommandError(f"--ldc: no LDC with the slug '{options['ldc']}'.")
            ldcs = [ldc]
        try:
            with audit_context(via="command"):
                rows = statements_make(month=month, ldcs=ldcs)
        except ValidationError as exc:
            raise CommandError(exc.messages[0]) from exc
        out = csv.writer(self.stdout, lineterminator="\n")
        out.writerow(CSV_HEADER)
        out.writerows(csv_rows(rows))
