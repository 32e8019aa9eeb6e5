"""Rollout monitoring and the weekly data-quality dashboards (under /rollout/)."""

from django.urls import path

from ldc.sme import rollout_views as views
from ldc.views.quality import StaffQualityView

app_name = "rollout"
urlpatterns = [
    path("", views.RolloutHomeView.as_view(), name="home"),
    path("ldcs/", views.RolloutLdcTableView.as_view(), name="ldc-table"),
    path("ldcs.csv", views.RolloutLdcCsvView.as_view(), name="ldc-csv"),
    path("ldcs/<slug:slug>/wave/", views.RolloutWaveView.as_view(), name="ldc-wave"),
    path(
        "ldcs/<slug:slug>/stage-decision/",
        views.RolloutStageDecisionView.as_view(),
        name="ldc-stage-decision",
    ),
    path("targets/", views.RolloutTargetsView.as_view(), name="targets"),
    # Staff of an LDC: their own LDC's week. Coordinators: every LDC's.
    path("quality/", StaffQualityView.as_view(), name="quality"),
    path("quality/ldcs/", views.RolloutQualityIndexView.as_view(), name="quality-index"),
    path("quality/ldcs/<slug:slug>/", views.RolloutLdcQualityView.as_view(), name="ldc-quality"),
]
