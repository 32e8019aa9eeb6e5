"""/api/v1/: one router for every app's viewsets, plus single-operation views."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from billing.api import (
    BillingBatchViewSet,
    BillingRequestViewSet,
    PlanCompareView,
    ReplacementNoticeViewSet,
    SettlementView,
)
from ldc.api import AuditEventViewSet, LdcViewSet, MeView
from ldc.sme.api import RolloutLdcsApiView
from meters.reads.api import (
    ReadFileRejectionsView,
    ReadFileUploadView,
    ReadFileViewSet,
    ReadSuccessView,
)
from meters.registry.api import MeterViewSet, RegistrySyncView, SdpViewSet

router = DefaultRouter()
router.register("ldcs", LdcViewSet, basename="ldc")
router.register("audit-events", AuditEventViewSet, basename="audit-event")
router.register("sdps", SdpViewSet, basename="sdp")
router.register("meters", MeterViewSet, basename="meter")
router.register("read-files", ReadFileViewSet, basename="read-file")
router.register("billing-requests", BillingRequestViewSet, basename="billing-request")
router.register("billing-batches", BillingBatchViewSet, basename="billing-batch")
router.register("billing-notices", ReplacementNoticeViewSet, basename="billing-notice")

app_name = "api"
urlpatterns = [
    path("me/", MeView.as_view(), name="me"),
    path("read-files/upload/", ReadFileUploadView.as_view(), name="read-file-upload"),
    path(
        "read-files/<str:public_id>/rejections/",
        ReadFileRejectionsView.as_view(),
        name="read-file-rejections",
    ),
    path("registry/sync/", RegistrySyncView.as_view(), name="registry-sync"),
    path("read-success/", ReadSuccessView.as_view(), name="read-success"),
    path("billing/compare/", PlanCompareView.as_view(), name="billing-compare"),
    path("billing/settlement/", SettlementView.as_view(), name="billing-settlement"),
    path("rollout/ldcs/", RolloutLdcsApiView.as_view(), name="rollout-ldcs"),
    *router.urls,
]
