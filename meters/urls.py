"""Registry and read-file pages (under /registry/)."""

from django.urls import path

from meters.reads import views as reads
from meters.registry import views as registry

app_name = "meters"
urlpatterns = [
    path("sdps/", registry.SdpListView.as_view(), name="sdp-list"),
    path("sdps/<str:sdp_id>/", registry.SdpDetailView.as_view(), name="sdp-detail"),
    path("meters/", registry.MeterListView.as_view(), name="meter-list"),
    path("meters/<str:serial>/", registry.MeterDetailView.as_view(), name="meter-detail"),
    path("sync/", registry.RegistryUploadView.as_view(), name="registry-upload"),
    path("billing-cycles/", registry.BillingCycleView.as_view(), name="billing-cycles"),
    path("data-quality/", registry.DataQualityView.as_view(), name="data-quality"),
    path("read-files/", reads.ReadFileListView.as_view(), name="readfile-list"),
    path("read-files/upload/", reads.ReadFileUploadView.as_view(), name="readfile-upload"),
    path("read-files/<str:public_id>/", reads.ReadFileDetailView.as_view(), name="readfile-detail"),
]
