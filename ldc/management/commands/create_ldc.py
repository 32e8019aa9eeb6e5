"""Provision a tenant from the command line (idempotent)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ldc.services import ldc_create
from portal.audit import audit_context
from portal.tenancy import LDC


class Command(BaseCommand):
    help = "Create an LDC (tenant); an existing slug is left unchanged."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--slug", required=True)
        parser.add_argument("--name", required=True)
        parser.add_argument("--oeb-licence", default="")
        parser.add_argument("--residential-customers", type=int, default=0)
        parser.add_argument("--gs-customers", type=int, default=0)
        parser.add_argument("--time-zone", default="America/Toronto")
        parser.add_argument("--status", choices=LDC.Status.values, default=LDC.Status.REGISTERING)

    def handle(self, *args: Any, **options: Any) -> None:
        with audit_context(via="command"):
            ldc, created = ldc_create(
                slug=options["slug"],
                name=options["name"],
                oeb_licence=options["oeb_licence"],
                residential_customers=options["residential_customers"],
                gs_customers=options["gs_customers"],
                time_zone=options["time_zone"],
                status=options["status"],
            )
        state = "created" if created else "exists (unchanged)"
        self.stdout.write(f"LDC {ldc.slug} {state}: {ldc.name}")
