"""Read-file API: deliver read files, list them with their reports and rejected records, and the
LDC's read success per day."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from meters import read_success
from meters.models import ReadFile, ReadRejection
from meters.reads.ingest import read_file_receive
from meters.reads.interfaces import INTERFACES
from meters.reads.spool import OBLIGATION_PCT
from portal.api import LdcScopedMixin, LdcScopedViewSet


class ReadFileSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = ReadFile
        fields = [
            "public_id",
            "interface",
            "original_name",
            "sha256",
            "size_bytes",
            "status",
            "error",
            "records",
            "intervals_total",
            "intervals_accepted",
            "intervals_rejected",
            "registers_accepted",
            "received_at",
            "finished_at",
            "report",
        ]


class ReadFileViewSet(LdcScopedViewSet):
    """The caller's LDC's read files with their data-collection reports."""

    capability = "reads.view"
    scoped_model = ReadFile
    serializer_class = ReadFileSerializer
    lookup_field = "public_id"


class ReadRejectionSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = ReadRejection
        fields = [
            "line",
            "meter_serial",
            "reason",
            "message",
            "intervals",
            "first_start",
            "last_start",
        ]


class ReadFileUploadSerializer(serializers.Serializer):  # type: ignore[type-arg]
    interface = serializers.ChoiceField(choices=sorted(INTERFACES))
    file = serializers.FileField()


class ReadFileUploadView(LdcScopedMixin, APIView):
    """Deliver a read file (AMI operator, back office, admin): 201 received, 200 duplicate."""

    capability = "reads.upload"
    parser_classes = [MultiPartParser]

    @extend_schema(
        request={"multipart/form-data": ReadFileUploadSerializer},
        responses={201: ReadFileSerializer, 200: ReadFileSerializer},
    )
    def post(self, request: Request) -> Response:
        data = ReadFileUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        read_file, created = read_file_receive(
            ldc=self.ldc,
            interface=data.validated_data["interface"],
            upload=upload,
            name=upload.name,
            actor=self.actor,
            via="api",
        )
        read_file.refresh_from_db()
        body = ReadFileSerializer(read_file).data | {"duplicate": not created}
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class ReadFileRejectionsView(LdcScopedMixin, generics.ListAPIView):  # type: ignore[type-arg]
    """The records of a read file that were rejected, with line, meter and reason."""

    capability = "reads.view"
    serializer_class = ReadRejectionSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        read_file = get_object_or_404(
            ReadFile.objects.for_ldc(self.ldc), public_id=self.kwargs["public_id"]
        )
        return ReadRejection.objects.for_ldc(self.ldc).filter(read_file=read_file)


READ_SUCCESS_MAX_DAYS = 62


class ReadSuccessQuerySerializer(serializers.Serializer):  # type: ignore[type-arg]
    start = serializers.DateField(required=False, help_text="first local day (default: a week ago)")
    end = serializers.DateField(required=False, help_text="last local day (default: yesterday)")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        end = attrs.get("end") or read_success.window()[-1]
        start = attrs.get("start") or read_success.window(end)[0]
        if end < start:
            raise serializers.ValidationError({"end": "end is before start"})
        if (end - start).days >= READ_SUCCESS_MAX_DAYS:
            raise serializers.ValidationError(
                {"end": f"at most {READ_SUCCESS_MAX_DAYS} days at a time"}
            )
        return {"start": start, "end": end}


class ReadSuccessDaySerializer(serializers.Serializer):  # type: ignore[type-arg]
    day = serializers.DateField()
    delivered = serializers.IntegerField(help_text="intervals holding an actual read")
    expected = serializers.IntegerField(help_text="intervals expected of the installed meters")
    received = serializers.IntegerField(help_text="intervals some file mentioned")
    meters = serializers.IntegerField(help_text="meters installed at an SDP that day")
    pct = serializers.FloatField(allow_null=True)
    meets_obligation = serializers.BooleanField(allow_null=True)


class ReadSuccessSerializer(serializers.Serializer):  # type: ignore[type-arg]
    ldc = serializers.CharField()
    start = serializers.DateField()
    end = serializers.DateField()
    obligation_pct = serializers.FloatField()
    read_success_pct = serializers.FloatField(allow_null=True)
    days = ReadSuccessDaySerializer(many=True)


class ReadSuccessView(LdcScopedMixin, APIView):
    """The LDC's read success per local day against the 98.0 % obligation (the figures of its
    dashboard and of the SME's pages)."""

    capability = "reads.view"

    @extend_schema(parameters=[ReadSuccessQuerySerializer], responses=ReadSuccessSerializer)
    def get(self, request: Request) -> Response:
        query = ReadSuccessQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        start, end = query.validated_data["start"], query.validated_data["end"]
        per_day = read_success.ldc_read_success(
            self.ldc, read_success.window(end, (end - start).days + 1)
        )
        return Response(
            {
                "ldc": self.ldc.slug,
                "start": start,
                "end": end,
                "obligation_pct": OBLIGATION_PCT,
                "read_success_pct": read_success.success_pct(per_day),
                "days": [
                    {"day": day, **asdict(c), "pct": c.pct, "meets_obligation": c.meets_obligation}
                    for day, c in per_day.items()
                ],
            }
        )
