from django.urls import path

from ldc import views
from ldc.views.charges import ChargesView
from ldc.views.organisations import AgentSdpsView, RecordsView
from ldc.views.seals import SealsView

app_name = "ldc"
urlpatterns = [
    path("members/", views.MembersView.as_view(), name="members"),
    path("members/<int:member_id>/role/", views.MemberRoleView.as_view(), name="member-role"),
    path("members/<int:member_id>/remove/", views.MemberRemoveView.as_view(), name="member-remove"),
    path("tokens/", views.TokensView.as_view(), name="tokens"),
    path("tokens/<str:key_id>/revoke/", views.TokenRevokeView.as_view(), name="token-revoke"),
    path("audit/", views.AuditView.as_view(), name="audit"),
    path("charges/", ChargesView.as_view(), name="charges"),
    path("seals/", SealsView.as_view(), name="seals"),
    path("records/", RecordsView.as_view(), name="records"),
    path("agent/sdps/", AgentSdpsView.as_view(), name="agent-sdps"),
    # MDM/R registration and enrollment stages
    path("stages/", views.StagesView.as_view(), name="stages"),
    path("stages/<str:stage>/", views.StageDetailView.as_view(), name="stage-detail"),
    path("stages/<str:stage>/submit/", views.StageSubmitView.as_view(), name="stage-submit"),
    path(
        "stages/<str:stage>/items/<int:item_id>/",
        views.ChecklistItemUpdateView.as_view(),
        name="item-update",
    ),
    path(
        "stages/<str:stage>/items/<int:item_id>/evidence/",
        views.EvidenceUploadView.as_view(),
        name="evidence-upload",
    ),
    path(
        "stages/<str:stage>/days/<int:day_number>/",
        views.TestDayRecordView.as_view(),
        name="test-day",
    ),
    path("evidence/<int:evidence_id>/", views.EvidenceDownloadView.as_view(), name="evidence"),
    # Enrollment groups
    path("enrollment/", views.GroupListView.as_view(), name="groups"),
    path("enrollment/new/", views.GroupCreateView.as_view(), name="group-create"),
    path("enrollment/<int:number>/", views.GroupDetailView.as_view(), name="group-detail"),
    path("enrollment/<int:number>/step/", views.GroupStepView.as_view(), name="group-step"),
    path("enrollment/<int:number>/cancel/", views.GroupCancelView.as_view(), name="group-cancel"),
    # GUI training
    path("training/", views.TrainingView.as_view(), name="training"),
    path(
        "training/sessions/<int:session_id>/register/",
        views.TrainingRegisterView.as_view(),
        name="training-register",
    ),
    path(
        "training/seats/<int:registration_id>/cancel/",
        views.TrainingUnregisterView.as_view(),
        name="training-unregister",
    ),
]
