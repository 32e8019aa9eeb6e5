from django.urls import path

from customers import views

app_name = "customers"
sdp = "usage/<slug:slug>/<str:sdp_id>"
urlpatterns = [
    path("link/", views.LinkAccountView.as_view(), name="link"),
    path("links/<int:link_id>/unlink/", views.UnlinkAccountView.as_view(), name="unlink"),
    path("learn/", views.LearnView.as_view(), name="learn"),
    path("invite/<str:token>/", views.InvitationAcceptView.as_view(), name="invite-accept"),
    path("invitations/", views.InvitationListView.as_view(), name="invitations"),
    *[
        path(f"{sdp}/{scale}/", views.UsageView.as_view(scale=scale), name=f"usage-{scale}")
        for scale in views.SCALES
    ],
    path(f"{sdp}/plans/", views.PlansView.as_view(), name="usage-plans"),
    path(f"{sdp}/insights/", views.InsightsView.as_view(), name="usage-insights"),
    path(f"{sdp}/download/", views.DownloadView.as_view(), name="usage-download"),
]
