"""Take this week's rollout snapshot now (the weekly Celery task does the same)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ldc.sme.rollout import rollout_snapshot_take, week_of
from portal.audit import audit_context
from portal.commands import local_date


class Command(BaseCommand):
    help = "Write the weekly rollout snapshot (province and every LDC); again replaces the week's."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--date", type=local_date, default=None, help="a day of the week (default: today)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        with audit_context(via="command"):
            written = rollout_snapshot_take(today=options["date"])
        week = week_of(options["date"]) if options["date"] else "this week"
        self.stdout.write(self.style.SUCCESS(f"Rollout snapshot of {week}: {written} rows."))
