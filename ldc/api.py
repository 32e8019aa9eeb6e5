"""API of the tenant: who am I, LDCs (coordinators see all, staff their own), the audit trail."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.access import actor_for_request
from portal.api import LdcScopedMixin
from portal.models import AuditEvent
from portal.tenancy import LDC


class LdcSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = LDC
        fields = [
            "slug",
            "name",
            "oeb_licence",
            "mdmr_org_id",
            "residential_customers",
            "gs_customers",
            "time_zone",
            "status",
        ]


class MeSerializer(serializers.Serializer):  # type: ignore[type-arg]
    kind = serializers.CharField()
    email = serializers.CharField(allow_null=True)
    role = serializers.CharField(allow_null=True)
    ldc = serializers.CharField(allow_null=True)


class MeView(APIView):
    """Who the caller is: a staff member, a coordinator, a customer or a machine token."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses=MeSerializer)
    def get(self, request: Request) -> Response:
        actor = actor_for_request(request)
        kind = (
            "token"
            if actor.token
            else "coordinator"
            if actor.is_coordinator
            else ("staff" if actor.is_ldc_staff else "customer")
        )
        data = {
            "kind": kind,
            "email": getattr(actor.user, "email", None),
            "role": actor.role,
            "ldc": actor.ldc.slug if actor.ldc else None,
        }
        return Response(MeSerializer(data).data)


class LdcViewSet(viewsets.ReadOnlyModelViewSet):  # type: ignore[type-arg]
    """LDCs: an SME coordinator sees every one, LDC staff and tokens only their own."""

    serializer_class = LdcSerializer
    lookup_field = "slug"
    permission_classes = [permissions.IsAuthenticated]

    def get_queryset(self) -> Any:
        actor = actor_for_request(self.request)
        if actor.is_coordinator:
            return LDC.objects.all()
        if actor.ldc is not None:
            return LDC.objects.filter(pk=actor.ldc.pk)
        return LDC.objects.none()


class AuditEventSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = AuditEvent
        fields = [
            "at",
            "actor_label",
            "action",
            "object_type",
            "object_id",
            "object_repr",
            "before",
            "after",
            "client_address",
            "via",
        ]


class AuditEventViewSet(LdcScopedMixin, mixins.ListModelMixin, viewsets.GenericViewSet):  # type: ignore[type-arg]
    """The caller's LDC's audit trail, newest first (LDC administrators)."""

    capability = "audit.view"
    serializer_class = AuditEventSerializer

    def get_queryset(self) -> Any:
        return AuditEvent.objects.for_ldc(self.ldc).order_by("-at", "-id")
