from django.urls import path

from meters.vee import views

app_name = "vee"
urlpatterns = [
    path("exceptions/", views.ExceptionQueueView.as_view(), name="queue"),
    path("sdps/<str:sdp_id>/<str:day>/", views.SdpDayView.as_view(), name="sdp-day"),
    path("settings/", views.VeeSettingsView.as_view(), name="settings"),
]
