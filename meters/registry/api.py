"""Registry and read-file API: browse, sync the registry, deliver read files, read reports and
the LDC's read success."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from meters.models import Meter, ServiceDeliveryPoint
from meters.registry.sync import registry_sync
from portal.api import LdcScopedMixin, LdcScopedViewSet


class SdpSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = ServiceDeliveryPoint
        fields = [
            "sdp_id",
            "rate_class",
            "commodity_rate_class",
            "postal_code",
            "service_multiplier",
            "bidirectional",
            "status",
        ]


class MeterSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    headend = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = Meter
        fields = ["serial", "external_id", "manufacturer", "headend"]


class SdpViewSet(LdcScopedViewSet):
    """The caller's LDC's service delivery points."""

    capability = "registry.view"
    scoped_model = ServiceDeliveryPoint
    serializer_class = SdpSerializer
    lookup_field = "sdp_id"


class MeterViewSet(LdcScopedViewSet):
    """The caller's LDC's meters."""

    capability = "registry.view"
    scoped_model = Meter
    serializer_class = MeterSerializer
    lookup_field = "serial"

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return super().get_queryset().select_related("headend")


class RegistryRowSerializer(serializers.Serializer):  # type: ignore[type-arg]
    sdp_id = serializers.CharField()
    meter_id = serializers.CharField()
    rate_class = serializers.CharField()
    commodity_rate_class = serializers.CharField()
    postal_code = serializers.CharField()
    service_multiplier = serializers.CharField()
    ami_headend = serializers.CharField()
    billing_agent = serializers.CharField()
    bidirectional = serializers.CharField()
    effective_from = serializers.CharField()
    effective_to = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    # Optional, as in the registry CSV (docs/registry.md).
    meter_type = serializers.CharField(required=False, allow_blank=True)
    seal_year = serializers.CharField(required=False, allow_blank=True)
    tou_billing_from = serializers.CharField(required=False, allow_blank=True)
    billing_cycle = serializers.CharField(required=False, allow_blank=True)
    external_id = serializers.CharField(required=False, allow_blank=True)


class RegistrySyncSerializer(serializers.Serializer):  # type: ignore[type-arg]
    rows = serializers.ListField(child=serializers.DictField(), max_length=100_000)


class RegistrySyncView(LdcScopedMixin, APIView):
    """Bulk upsert of registry rows (the columns of the registry CSV); errors per row (1-based)."""

    capability = "registry.write"

    @extend_schema(request=RegistrySyncSerializer, responses={200: dict})
    def post(self, request: Request) -> Response:
        data = RegistrySyncSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        rows = [(i, row) for i, row in enumerate(data.validated_data["rows"], start=1)]
        result = registry_sync(ldc=self.ldc, rows=rows, actor=self.actor, source="api")
        return Response(result.as_dict())
