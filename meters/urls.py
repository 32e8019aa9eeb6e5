from django.urls import path

from meters import views

app_name = "meters"
urlpatterns = [
    path("sdps/", views.SdpListView.as_view(), name="sdp-list"),
    path("sdps/<str:sdp_id>/", views.SdpDetailView.as_view(), name="sdp-detail"),
    path("meters/", views.MeterListView.as_view(), name="meter-list"),
    path("meters/<str:serial>/", views.MeterDetailView.as_view(), name="meter-detail"),
    path("read-files/", views.ReadFileListView.as_view(), name="readfile-list"),
]
