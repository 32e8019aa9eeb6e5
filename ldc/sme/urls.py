"""Coordinator pages of the MDM/R stages and GUI training (under /sme/)."""

from django.urls import path

from ldc.sme import views as views
from ldc.sme.charges_views import SmeChargesView
from ldc.sme.seals_views import SmeSealsView

app_name = "sme_onboarding"
urlpatterns = [
    path("onboarding/", views.OnboardingListView.as_view(), name="ldc-list"),
    path("onboarding/<slug:slug>/", views.SmeStagesView.as_view(), name="ldc-stages"),
    path("onboarding/<slug:slug>/wave/", views.SmeWaveView.as_view(), name="wave"),
    path("onboarding/<slug:slug>/org-id/", views.SmeOrgIdView.as_view(), name="org-id"),
    path(
        "onboarding/<slug:slug>/evidence/<int:evidence_id>/",
        views.SmeEvidenceView.as_view(),
        name="evidence",
    ),
    path(
        "onboarding/<slug:slug>/stages/<str:stage>/",
        views.SmeStageDetailView.as_view(),
        name="stage-detail",
    ),
    path(
        "onboarding/<slug:slug>/stages/<str:stage>/sign-off/",
        views.SmeSignOffView.as_view(),
        name="sign-off",
    ),
    path(
        "onboarding/<slug:slug>/stages/<str:stage>/return/",
        views.SmeReturnView.as_view(),
        name="return",
    ),
    path("charges/", SmeChargesView.as_view(), name="charges"),
    path("seals/", SmeSealsView.as_view(), name="seals"),
    path("training/", views.SmeTrainingView.as_view(), name="training"),
    path("training/<int:session_id>/", views.SmeSessionView.as_view(), name="session"),
    path(
        "training/seats/<int:registration_id>/",
        views.SmeAttendanceView.as_view(),
        name="attendance",
    ),
]
