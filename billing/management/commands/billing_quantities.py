"""Print an SDP's billing quantities for a period as a JSON list in the API's shape."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from billing.models import Plan
from billing.services import BillingError, billing_quantity_request, current_quantities
from billing.shapes import quantity_data
from meters.models import ServiceDeliveryPoint
from portal.audit import audit_context
from portal.commands import ldc_by_slug, local_date


class Command(BaseCommand):
    help = (
        "Request an SDP's billing quantities for local dates START..END (inclusive) and print "
        "them (one per meter installed in the period) as a JSON list."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--ldc", required=True, help="LDC slug")
        parser.add_argument("--sdp", required=True, help="SDP id")
        parser.add_argument("--start", required=True, type=local_date, help="first local date")
        parser.add_argument("--end", required=True, type=local_date, help="last local date")
        parser.add_argument(
            "--plan", choices=Plan.values, help="price plan (default: the SDP's own)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        ldc = ldc_by_slug(options["ldc"])
        sdp = ServiceDeliveryPoint.objects.for_ldc(ldc).filter(sdp_id=options["sdp"]).first()
        if sdp is None:
            raise CommandError(f"no SDP '{options['sdp']}' at {ldc.slug}")
        try:
            with audit_context(via="command"):
                request = billing_quantity_request(
                    ldc=ldc,
                    sdp=sdp,
                    start=options["start"],
                    end=options["end"],
                    plan=options["plan"],
                    actor=None,
                )
        except BillingError as exc:
            raise CommandError(str(exc)) from None
        rows = [quantity_data(q, request) for q in current_quantities(ldc, [request])]
        self.stdout.write(json.dumps(rows, indent=2))
