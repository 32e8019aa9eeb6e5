from django.urls import path

from meters import views

app_name = "meters"
urlpatterns = [
    path("sdps/", views.SdpListView.as_view(), name="sdp-list"),
    path("sdps/<str:sdp_id>/", views.SdpDetailView.as_view(), name="sdp-detail"),
    path("meters/", views.MeterListView.as_view(), name="meter-list"),
    path("meters/<str:serial>/", views.MeterDetailView.as_view(), name="meter-detail"),
    path("sync/", views.RegistryUploadView.as_view(), name="registry-upload"),
    path("data-quality/", views.DataQualityView.as_view(), name="data-quality"),
    path("read-files/", views.ReadFileListView.as_view(), name="readfile-list"),
    path("read-files/upload/", views.ReadFileUploadView.as_view(), name="readfile-upload"),
    path("read-files/<str:public_id>/", views.ReadFileDetailView.as_view(), name="readfile-detail"),
]
