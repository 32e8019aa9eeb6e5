from django.urls import path

from meters import vee_views

app_name = "vee"
urlpatterns = [
    path("exceptions/", vee_views.ExceptionQueueView.as_view(), name="queue"),
    path("sdps/<str:sdp_id>/<str:day>/", vee_views.SdpDayView.as_view(), name="sdp-day"),
    path("settings/", vee_views.VeeSettingsView.as_view(), name="settings"),
]
