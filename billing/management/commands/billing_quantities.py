"""Print an SDP's billing quantities for a period as a JSON list in the API's shape; or explain
or reproduce one quantity (#19)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from billing.models import BillingQuantity, Plan
from billing.provenance import billing_quantity_explain, billing_quantity_reproduce
from billing.services import (
    BillingError,
    billing_quantity_request,
    billing_request_release,
    current_quantities,
)
from billing.shapes import quantity_data
from meters.models import ServiceDeliveryPoint
from portal.audit import audit_context
from portal.commands import ldc_by_slug, local_date


class Command(BaseCommand):
    help = (
        "Request an SDP's billing quantities for local dates START..END (inclusive) and print "
        "them (one per meter installed in the period) as a JSON list; --release releases what "
        "was computed. Or --explain QUANTITY_ID (the intervals of each price period) or "
        "--reproduce QUANTITY_ID (recompute from the day versions it recorded: prints "
        "'reproduced' and exits 0, or each difference and exits 1)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--ldc", help="LDC slug (required to request)")
        parser.add_argument("--sdp", help="SDP id")
        parser.add_argument("--start", type=local_date, help="first local date")
        parser.add_argument("--end", type=local_date, help="last local date")
        parser.add_argument(
            "--plan", choices=Plan.values, help="price plan (default: the SDP's own)"
        )
        parser.add_argument(
            "--release", action="store_true", help="release the computed quantities (audited)"
        )
        parser.add_argument("--explain", metavar="QUANTITY_ID", help="explain one quantity")
        parser.add_argument("--reproduce", metavar="QUANTITY_ID", help="reproduce one quantity")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["explain"] or options["reproduce"]:
            self._one(options)
            return
        missing = [f"--{n}" for n in ("ldc", "sdp", "start", "end") if not options[n]]
        if missing:
            raise CommandError(f"to request quantities give {', '.join(missing)}")
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
                if options["release"]:
                    billing_request_release(request=request, actor=None)
        except BillingError as exc:
            raise CommandError(str(exc)) from None
        rows = [quantity_data(q, request) for q in current_quantities(ldc, [request])]
        self.stdout.write(json.dumps(rows, indent=2))

    def _one(self, options: dict[str, Any]) -> None:
        public_id = options["explain"] or options["reproduce"]
        rows = BillingQuantity.objects.select_related("ldc")
        if options["ldc"]:
            rows = rows.filter(ldc=ldc_by_slug(options["ldc"]))
        quantity = rows.filter(public_id=public_id).first()
        if quantity is None:
            raise CommandError(f"no billing quantity '{public_id}'")
        if options["explain"]:
            self.stdout.write(json.dumps(billing_quantity_explain(quantity=quantity), indent=2))
            return
        differences = billing_quantity_reproduce(quantity=quantity)
        if not differences:
            self.stdout.write("reproduced")
            return
        for line in differences:
            self.stdout.write(line)
        raise SystemExit(1)
