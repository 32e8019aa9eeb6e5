"""The authorisation server's rules on top of django-oauth-toolkit (RFC 6749 code grant, RFC 7636
PKCE required): a suspended third party is no client at all, and every token is tied to the
consent the customer gave on the authorisation page.

The tie: the consent page creates the Consent and hands its id to the toolkit with the
request's credentials; when the toolkit stores the authorisation code the consent records that
Grant; at the code's exchange the first refresh token's ``token_family`` (kept by the toolkit
across every refresh) is written on the consent. An access token's consent is therefore found
through its refresh token's family, and nothing a client sends can move a token to another
consent.
"""

from __future__ import annotations

from typing import Any

from oauth2_provider.models import Grant
from oauth2_provider.oauth2_validators import OAuth2Validator

from connect.models import Consent, ThirdParty


class ConnectValidator(OAuth2Validator):
    """OAUTH2_PROVIDER["OAUTH2_VALIDATOR_CLASS"]."""

    def _load_application(self, client_id: str, request: Any) -> Any:
        client = super()._load_application(client_id, request)
        if client is None:
            return None
        party = ThirdParty.objects.filter(application=client).only("status").first()
        if party is None or party.status != ThirdParty.Status.ACTIVE:
            # Suspended by its LDC (or no third party at all): no authorisation page, no code
            # exchange, no refresh (ESPI: dataCustodianApplicationStatus).
            request.client = None
            return None
        return client

    def save_authorization_code(
        self, client_id: str, code: dict[str, Any], request: Any, *args: Any, **kwargs: Any
    ) -> None:
        super().save_authorization_code(client_id, code, request, *args, **kwargs)
        consent_id = getattr(request, "consent_id", None)
        if consent_id is not None:
            grant = Grant.objects.get(code=code["code"], application=request.client)
            Consent.objects.filter(pk=consent_id, grant__isnull=True).update(grant=grant)

    def validate_code(
        self, client_id: str, code: str, client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        if not super().validate_code(client_id, code, client, request, *args, **kwargs):
            return False
        consent = Consent.objects.filter(grant__code=code, grant__application=client).first()
        if consent is None or not consent.is_live():
            return False  # revoked (or refused) between the page and the exchange
        request.consent_id = consent.pk
        return True

    def _create_refresh_token(
        self, request: Any, refresh_token_code: str, access_token: Any, previous_refresh_token: Any
    ) -> Any:
        refresh = super()._create_refresh_token(
            request, refresh_token_code, access_token, previous_refresh_token
        )
        consent_id = getattr(request, "consent_id", None)
        if previous_refresh_token is None and consent_id is not None:
            Consent.objects.filter(pk=consent_id, token_family__isnull=True).update(
                token_family=refresh.token_family
            )
        return refresh

    def validate_refresh_token(
        self, refresh_token: str, client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        if not super().validate_refresh_token(refresh_token, client, request, *args, **kwargs):
            return False
        family = request.refresh_token_instance.token_family
        consent = Consent.objects.filter(token_family=family).select_related("third_party").first()
        return consent is not None and consent.is_live()
