"""The coordinators' API: every LDC's rollout aggregates."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ldc.sme import rollout
from portal.api import HasCapability


class RolloutLdcRowSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """One LDC's rollout aggregates (the columns of the LDC table's CSV export)."""

    ldc = serializers.SlugField()
    name = serializers.CharField()
    mdmr_org_id = serializers.CharField(allow_blank=True)
    status = serializers.CharField()
    size_class = serializers.CharField()
    customers = serializers.IntegerField()
    meters_installed = serializers.IntegerField()
    meters_installed_pct = serializers.FloatField(allow_null=True)
    sdps_registered = serializers.IntegerField()
    sdps_enrolled = serializers.IntegerField()
    tou_billed = serializers.IntegerField()
    stage = serializers.CharField()
    days_in_stage = serializers.IntegerField()
    enrollment_wave = serializers.IntegerField(allow_null=True)
    read_success_7d_pct = serializers.FloatField(allow_null=True)
    meets_98_pct = serializers.BooleanField(allow_null=True)
    open_vee_exceptions = serializers.IntegerField()
    sdps_without_rate_class = serializers.IntegerField()
    invalid_postal_codes = serializers.IntegerField()
    dq_issues = serializers.IntegerField()


class RolloutLdcListSerializer(serializers.Serializer):  # type: ignore[type-arg]
    count = serializers.IntegerField()
    results = RolloutLdcRowSerializer(many=True)


@extend_schema(responses=RolloutLdcListSerializer, tags=["rollout"])
class RolloutLdcsApiView(APIView):
    """GET /api/v1/rollout/ldcs/: every LDC's rollout aggregates (coordinators only)."""

    permission_classes = [permissions.IsAuthenticated, HasCapability]
    capability = "sme.view"

    def get(self, request: Request) -> Response:
        rows = rollout.ldc_rows()
        return Response({"count": len(rows), "results": [rollout.api_row(r) for r in rows]})
