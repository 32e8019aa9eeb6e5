"""Billing API: quantity requests (one SDP or a billing cycle), fetch, release, notices, CSV."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Prefetch
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from billing import bills, services
from billing.models import (
    BillingBatch,
    BillingQuantity,
    BillingQuantityRequest,
    Plan,
    ReplacementNotice,
    Status,
)
from billing.provenance import billing_quantity_explain
from billing.shapes import latest_per_meter, notice_data, quantities_csv, request_data
from meters.models import BillingCycle, ServiceDeliveryPoint
from portal.api import DomainError, LdcScopedMixin


class BillingRequestInput(serializers.Serializer):  # type: ignore[type-arg]
    sdp_id = serializers.CharField()
    start = serializers.DateField(help_text="first local date of the billing period")
    end = serializers.DateField(help_text="last local date (inclusive)")
    plan = serializers.ChoiceField(choices=Plan.values, required=False)


class BillingBatchInput(serializers.Serializer):  # type: ignore[type-arg]
    cycle = serializers.CharField(help_text="billing cycle code")
    start = serializers.DateField(required=False)
    end = serializers.DateField(required=False)
    month = serializers.DateField(
        required=False, help_text="any date of the month whose read day ends the period"
    )


def _domain(exc: services.BillingError) -> DomainError:
    return DomainError(str(exc), code="billing")


def _with_quantities(rows: Any) -> Any:
    quantities = BillingQuantity.objects.select_related("meter").order_by("version")
    return rows.select_related("sdp").prefetch_related(Prefetch("quantities", quantities))


def _request_body(request: BillingQuantityRequest) -> dict[str, Any]:
    return request_data(request, latest_per_meter(request.quantities.all()))


class BillingRequestViewSet(LdcScopedMixin, viewsets.GenericViewSet):  # type: ignore[type-arg]
    """Billing-quantity requests: POST an SDP and period; GET answers with the current
    quantities (one per meter), pending with why until every interval is validated."""

    capability = "billing.request"
    lookup_field = "public_id"
    serializer_class = BillingRequestInput

    def get_queryset(self) -> Any:
        rows = _with_quantities(BillingQuantityRequest.objects.for_ldc(self.ldc))
        for name in ("status", "plan"):
            if self.request.query_params.get(name):
                rows = rows.filter(**{name: self.request.query_params[name]})
        if self.request.query_params.get("sdp_id"):
            rows = rows.filter(sdp__sdp_id=self.request.query_params["sdp_id"])
        return rows

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response([_request_body(r) for r in page])

    def retrieve(self, request: Request, public_id: str) -> Response:
        row = self.get_object()
        if row.status == Status.PENDING:  # VEE may have finished since: look again
            services.billing_quantities_refresh(ldc=self.ldc, requests=[row], reason="fetched")
            row = self.get_object()
        return Response(_request_body(row))

    @extend_schema(request=BillingRequestInput, responses={201: dict, 200: dict})
    def create(self, request: Request) -> Response:
        data = BillingRequestInput(data=request.data)
        data.is_valid(raise_exception=True)
        sdp = get_object_or_404(
            ServiceDeliveryPoint.objects.for_ldc(self.ldc), sdp_id=data.validated_data["sdp_id"]
        )
        existed = (
            BillingQuantityRequest.objects.for_ldc(self.ldc)
            .filter(sdp=sdp, start=data.validated_data["start"], end=data.validated_data["end"])
            .exists()
        )
        try:
            row = services.billing_quantity_request(
                ldc=self.ldc,
                sdp=sdp,
                start=data.validated_data["start"],
                end=data.validated_data["end"],
                plan=data.validated_data.get("plan"),
                actor=self.actor,
            )
        except services.BillingError as exc:
            raise _domain(exc) from exc
        body = _request_body(self.get_queryset().get(pk=row.pk))
        return Response(body, status=status.HTTP_200_OK if existed else status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: dict})
    @action(detail=True, methods=["post"])
    def release(self, request: Request, public_id: str) -> Response:
        """Release every current quantity of the request (all complete): audited, then frozen."""
        row = self.get_object()
        try:
            services.billing_request_release(request=row, actor=self.actor)
        except services.BillingError as exc:
            raise _domain(exc) from exc
        return Response(_request_body(self.get_queryset().get(pk=row.pk)))

    @extend_schema(request=None, responses={200: dict})
    @action(detail=True, methods=["get"])
    def explain(self, request: Request, public_id: str) -> Response:
        """Per current quantity, the intervals of each price period with value, flags,
        estimation method and day version (billing.provenance; #19)."""
        row = self.get_object()
        quantities = services.current_quantities(self.ldc, [row])
        return Response(
            {
                "request_id": row.public_id,
                "quantities": [billing_quantity_explain(quantity=q) for q in quantities],
            }
        )


class BillingBatchViewSet(LdcScopedMixin, viewsets.GenericViewSet):  # type: ignore[type-arg]
    """A billing cycle's SDPs requested at once; its quantities as JSON or as CSV."""

    capability = "billing.request"
    lookup_field = "public_id"
    serializer_class = BillingBatchInput

    def get_queryset(self) -> Any:
        return BillingBatch.objects.for_ldc(self.ldc).select_related("cycle")

    def _body(self, batch: BillingBatch) -> dict[str, Any]:
        rows = _with_quantities(BillingQuantityRequest.objects.for_ldc(self.ldc))
        requests = [_request_body(r) for r in rows.filter(batch=batch).order_by("sdp__sdp_id")]
        counts = {s: sum(r["status"] == s for r in requests) for s in Status.values}
        return {
            "batch_id": batch.public_id,
            "cycle": batch.cycle.code if batch.cycle else None,
            "start": str(batch.start),
            "end": str(batch.end),
            "sdps": batch.sdps,
            "status_counts": counts,
            "requests": requests,
        }

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(
            [
                {
                    "batch_id": b.public_id,
                    "cycle": b.cycle.code if b.cycle else None,
                    "start": str(b.start),
                    "end": str(b.end),
                    "sdps": b.sdps,
                }
                for b in page
            ]
        )

    def retrieve(self, request: Request, public_id: str) -> Response:
        return Response(self._body(self.get_object()))

    @extend_schema(request=BillingBatchInput, responses={201: dict})
    def create(self, request: Request) -> Response:
        data = BillingBatchInput(data=request.data)
        data.is_valid(raise_exception=True)
        cycle = get_object_or_404(
            BillingCycle.objects.for_ldc(self.ldc), code=data.validated_data["cycle"]
        )
        start, end = data.validated_data.get("start"), data.validated_data.get("end")
        if start is None or end is None:
            month = data.validated_data.get("month")
            if month is None:
                raise DomainError("give start and end, or month", code="billing")
            start, end = services.billing_cycle_period(cycle=cycle, month=month)
        try:
            batch = services.billing_batch_request(
                ldc=self.ldc, cycle=cycle, start=start, end=end, actor=self.actor
            )
        except services.BillingError as exc:
            raise _domain(exc) from exc
        return Response(self._body(batch), status=status.HTTP_201_CREATED)

    @extend_schema(responses={(200, "text/csv"): str})
    @action(detail=True, methods=["get"])
    def csv(self, request: Request, public_id: str) -> HttpResponse:
        """The batch's current quantities as CSV, one line per meter (for the billing agent)."""
        body = self._body(self.get_object())
        rows = [q for r in body["requests"] for q in r["quantities"]]
        response = HttpResponse(quantities_csv(rows), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="bq-{public_id}.csv"'
        return response


class ReplacementNoticeViewSet(LdcScopedMixin, viewsets.GenericViewSet):  # type: ignore[type-arg]
    """Replacement notices to poll: ?open=true lists those not acknowledged yet."""

    capability = "billing.request"
    lookup_field = "public_id"

    def get_queryset(self) -> Any:
        rows = ReplacementNotice.objects.for_ldc(self.ldc).select_related(
            "request__sdp", "replaces", "quantity__meter"
        )
        if self.request.query_params.get("open") in ("1", "true", "yes"):
            rows = rows.filter(acknowledged_at__isnull=True)
        return rows

    @extend_schema(
        parameters=[OpenApiParameter("open", bool)],
        responses={200: dict},
        operation_id="billing_notices_list",
    )
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response([notice_data(n) for n in page])

    @extend_schema(responses={200: dict}, operation_id="billing_notices_detail")
    def retrieve(self, request: Request, public_id: str) -> Response:
        return Response(notice_data(self.get_object()))

    @extend_schema(request=None, responses={200: dict})
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, public_id: str) -> Response:
        notice = services.replacement_notice_acknowledge(notice=self.get_object(), actor=self.actor)
        return Response(notice_data(notice))


def _dates(request: Request) -> tuple[dt.date, dt.date]:
    try:
        start = dt.date.fromisoformat(request.query_params.get("start", ""))
        end = dt.date.fromisoformat(request.query_params.get("end", ""))
    except ValueError:
        raise DomainError("start and end are local dates YYYY-MM-DD", code="billing") from None
    if end < start or (end - start).days > 62:
        raise DomainError("end is before start, or the period is over 62 days", code="billing")
    return start, end


class PlanCompareView(LdcScopedMixin, APIView):
    """The energy charge of an SDP's period under TOU, ULO and tiered, priced piecewise."""

    capability = "billing.request"

    @extend_schema(
        parameters=[OpenApiParameter(n, str, required=True) for n in ("sdp_id", "start", "end")],
        responses={200: dict},
    )
    def get(self, request: Request) -> Response:
        start, end = _dates(request)
        sdp = get_object_or_404(
            ServiceDeliveryPoint.objects.for_ldc(self.ldc),
            sdp_id=request.query_params.get("sdp_id", ""),
        )
        return Response(bills.plan_compare(ldc=self.ldc, sdp=sdp, start=start, end=end))


class SettlementView(LdcScopedMixin, APIView):
    """An LDC's hourly kWh by rate class over local dates start..end, as CSV."""

    capability = "billing.request"

    @extend_schema(
        parameters=[OpenApiParameter(n, str, required=True) for n in ("start", "end")],
        responses={(200, "text/csv"): str},
    )
    def get(self, request: Request) -> HttpResponse:
        from zoneinfo import ZoneInfo

        start, end = _dates(request)
        result = bills.settlement_hourly(ldc=self.ldc, start=start, end=end)
        lines = bills.settlement_csv_lines(result, ZoneInfo(self.ldc.time_zone))
        response = HttpResponse("\n".join(lines) + "\n", content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="settlement-{start}-{end}.csv"'
        return response
