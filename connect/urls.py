"""Pages of Connect My Data: the customer's consents and the LDC's third parties; the OAuth
endpoints (oauth_patterns) are mounted at /oauth/, the ESPI resources at /espi/1_1/resource/."""

from django.urls import path
from oauth2_provider import views as oauth_views

from connect.views import customer, ldc

app_name = "connect"
urlpatterns = [
    path("consents/", customer.ConsentListView.as_view(), name="consents"),
    path(
        "consents/<uuid:public_id>/revoke/",
        customer.ConsentRevokeView.as_view(),
        name="consent-revoke",
    ),
    path("third-parties/", ldc.ThirdPartiesView.as_view(), name="third-parties"),
    path("third-parties/<uuid:public_id>/", ldc.ThirdPartyDetailView.as_view(), name="third-party"),
    path(
        "third-parties/<uuid:public_id>/status/",
        ldc.ThirdPartyStatusView.as_view(),
        name="third-party-status",
    ),
]

# RFC 6749 authorisation and token endpoints, RFC 7009 revocation (django-oauth-toolkit).
oauth_patterns = (
    [
        path("authorize/", customer.ConsentAuthorizeView.as_view(), name="authorize"),
        path("token/", oauth_views.TokenView.as_view(), name="token"),
        path("revoke_token/", oauth_views.RevokeTokenView.as_view(), name="revoke-token"),
    ],
    "oauth2_provider",
)
