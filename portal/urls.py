"""URL map: pages per app, the REST API under /api/v1/, allauth under /accounts/."""

from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic.base import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from connect.urls import oauth_patterns
from ldc.sme import rollout_views
from portal import views

sme_patterns = (
    [
        path("ldcs/", rollout_views.SmeLdcListView.as_view(), name="ldc-list"),
        path("ldcs/<slug:slug>/", rollout_views.SmeLdcDetailView.as_view(), name="ldc-detail"),
        path("audit/", rollout_views.SmeAuditView.as_view(), name="audit"),
    ],
    "sme",
)

urlpatterns = [
    path("", views.home, name="home"),
    # Browsers and bookmarks ask for /favicon.ico whatever the page's <link rel="icon"> says.
    path("favicon.ico", RedirectView.as_view(url=static("favicon.svg"), permanent=True)),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    path("ldc/", include("ldc.urls")),
    path("sme/", include(sme_patterns)),
    path("sme/", include("ldc.sme.urls")),
    path("rollout/", include("ldc.sme.rollout_urls")),
    path("me/", include("customers.urls")),
    path("connect/", include("connect.urls")),
    path("oauth/", include(oauth_patterns)),
    path("espi/1_1/resource/", include("connect.espi_urls")),
    path("registry/", include("meters.urls")),
    path("vee/", include("meters.vee.urls")),
    path("billing/", include("billing.urls")),
    path("api/v1/", include("portal.api_urls")),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/v1/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
