"""Load the demo world (idempotent): LDCs, people of every role, registry, reads."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from portal import demo
from portal.audit import audit_context


class Command(BaseCommand):
    help = "Load demo data: LDCs of several sizes and stages, staff of every role, reads."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=28, help="days of reads to ingest")

    def handle(self, *args: Any, **options: Any) -> None:
        with audit_context(via="command"):
            demo.seed_registry_and_people()
            reads = getattr(demo, "seed_reads", None)
            if reads is not None:
                summary = reads(days=options["days"], log=self.stdout.write)
                self.stdout.write(summary)
        self.stdout.write(self.style.SUCCESS("Demo data is loaded."))
        self.stdout.write("")
        self.stdout.write(
            f"Sign in at http://127.0.0.1:8000/ with password '{demo.DEMO_PASSWORD}':"
        )
        for who, email in demo.demo_logins():
            self.stdout.write(f"  {who:<42} {email}")
        self.stdout.write("  (other LDCs: admin@, backoffice@, billing@, ami@ + <slug>.example)")
        self.stdout.write(
            f"Staff sign-in asks for a two-factor code: the demo TOTP secret is "
            f"{demo.DEMO_TOTP_SECRET}; `.venv/bin/python manage.py demo_totp` prints the "
            "current code."
        )
