"""Registry and read-file API (read side)."""

from __future__ import annotations

from rest_framework import serializers

from meters.models import Meter, ReadFile, ServiceDeliveryPoint
from portal.api import LdcScopedViewSet


class SdpSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = ServiceDeliveryPoint
        fields = ["sdp_id", "rate_class", "commodity_rate_class", "postal_code",
                  "service_multiplier", "bidirectional", "status"]


class MeterSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    headend = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = Meter
        fields = ["serial", "manufacturer", "headend"]


class ReadFileSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = ReadFile
        fields = ["public_id", "interface", "original_name", "sha256", "size_bytes", "status",
                  "error", "records", "intervals_total", "intervals_accepted",
                  "intervals_rejected", "registers_accepted", "received_at", "finished_at",
                  "report"]


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


class ReadFileViewSet(LdcScopedViewSet):
    """The caller's LDC's read files with their data-collection reports."""

    capability = "reads.view"
    scoped_model = ReadFile
    serializer_class = ReadFileSerializer
    lookup_field = "public_id"
