"""ESPI resources (NAESB REQ.21) under /espi/1_1/resource/, as the standard names them (the
Green Button Alliance's ESPI API documentation: Batch/Subscription, Subscription/{id}/UsagePoint
/.../MeterReading/.../IntervalBlock, UsageSummary, ReadingType, LocalTimeParameters,
Authorization, ApplicationInformation)."""

from django.urls import path

from connect.views import espi as v

sub = "Subscription/<uuid:subscription>"
up = f"{sub}/UsagePoint/<str:usage_point>"
mr = f"{up}/MeterReading/<str:meter_reading>"
urlpatterns = [
    path(
        "ApplicationInformation/<str:client_id>",
        v.ApplicationInformationView.as_view(),
        name="espi-application",
    ),
    path("Authorization", v.AuthorizationView.as_view(), name="espi-authorizations"),
    path(
        "Authorization/<uuid:authorization>",
        v.AuthorizationView.as_view(),
        name="espi-authorization",
    ),
    path(
        "Batch/Subscription/<uuid:subscription>",
        v.BatchSubscriptionView.as_view(),
        name="espi-batch-subscription",
    ),
    path(f"{sub}/UsagePoint", v.EspiView.as_view(kind="UsagePoint"), name="espi-usage-points"),
    path(up, v.EspiView.as_view(kind="UsagePoint", feed=False), name="espi-usage-point"),
    path(f"{up}/MeterReading", v.EspiView.as_view(kind="MeterReading"), name="espi-meter-readings"),
    path(mr, v.EspiView.as_view(kind="MeterReading", feed=False), name="espi-meter-reading"),
    path(
        f"{mr}/IntervalBlock", v.EspiView.as_view(kind="IntervalBlock"), name="espi-interval-blocks"
    ),
    path(
        f"{mr}/IntervalBlock/<str:block>",
        v.EspiView.as_view(kind="IntervalBlock", feed=False),
        name="espi-interval-block",
    ),
    path(f"{up}/UsageSummary", v.UsageSummaryView.as_view(), name="espi-usage-summaries"),
    path("ReadingType/<str:reading_type>", v.ReadingTypeView.as_view(), name="espi-reading-type"),
    path(
        "LocalTimeParameters/<str:ltp>", v.LocalTimeParametersView.as_view(), name="espi-local-time"
    ),
]
