from django.urls import path

from ldc import views

app_name = "ldc"
urlpatterns = [
    path("members/", views.MembersView.as_view(), name="members"),
    path("members/<int:member_id>/role/", views.MemberRoleView.as_view(), name="member-role"),
    path("members/<int:member_id>/remove/", views.MemberRemoveView.as_view(), name="member-remove"),
    path("tokens/", views.TokensView.as_view(), name="tokens"),
    path("tokens/<str:key_id>/revoke/", views.TokenRevokeView.as_view(), name="token-revoke"),
    path("audit/", views.AuditView.as_view(), name="audit"),
]
