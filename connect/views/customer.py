"""The customer's side: the consent page of the OAuth authorisation request, their consents
with revoke. Only a signed-in customer gets here; a staff member is refused (403)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.views import View
from django.views.generic import TemplateView
from oauth2_provider.views import AuthorizationView

from connect import scopes, selectors, services
from connect.forms import ConsentForm
from connect.models import Consent, ThirdParty
from portal.access import actor_for_request
from portal.mixins import CustomerMixin

HISTORY_MONTHS = 24  # O. Reg. 633/21: Connect My Data covers the same 24 months as Download


class ConsentAuthorizeView(AuthorizationView):
    """GET /oauth/authorize/: who asks for what; the customer chooses SDPs and duration.

    django-oauth-toolkit validates the request (client, redirect URI, PKCE challenge, scope)
    before this page shows; a POST that allows creates the Consent and hands its id to the
    toolkit, which issues the code bound to it (connect.oauth)."""

    template_name = "connect/authorize.html"
    form_class = ConsentForm

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated and not actor_for_request(request).is_customer:
            raise PermissionDenied("Only a customer can authorise a third party.")
        return super().dispatch(request, *args, **kwargs)  # type: ignore[no-any-return]

    def _party(self) -> ThirdParty | None:
        client_id = self.request.POST.get("client_id") or self.request.GET.get("client_id")
        if not client_id:
            return None
        return (
            ThirdParty.objects.filter(application__client_id=client_id)
            .select_related("ldc")
            .first()
        )

    def _sdps(self, party: ThirdParty | None) -> list[Any]:
        if party is None:
            return []
        return list(selectors.customer_sdps(self.request.user, party.ldc))

    def get_form_kwargs(self) -> dict[str, Any]:
        kwargs = super().get_form_kwargs()
        party = self._party()
        kwargs["sdp_choices"] = [
            (sdp.sdp_id, f"{sdp.sdp_id} ({sdp.rate_class or 'service point'})")
            for sdp in self._sdps(party)
        ]
        return kwargs  # type: ignore[no-any-return]

    def get_initial(self) -> dict[str, Any]:
        initial = super().get_initial()
        initial["sdps"] = [sdp.sdp_id for sdp in self._sdps(self._party())]
        initial["months"] = 12
        return initial  # type: ignore[no-any-return]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        party = self._party()
        scope = " ".join(context.get("scopes") or []) or self.request.POST.get("scope", "")
        usage, billing = scopes.what_of(scope)
        context.update(
            party=party,
            usage=usage,
            billing=billing,
            data_from=self._data_from(party),
            has_sdps=bool(self._sdps(party)),
        )
        return context  # type: ignore[no-any-return]

    def _data_from(self, party: ThirdParty | None) -> dt.date:
        tz = ZoneInfo(party.ldc.time_zone if party else "America/Toronto")
        today = timezone.now().astimezone(tz).date()
        return services.add_months(today, -HISTORY_MONTHS)

    def render_to_response(self, context: dict[str, Any], **kwargs: Any) -> HttpResponse:
        response = super().render_to_response(context, **kwargs)
        party = self._party()
        if party is not None:
            # CSP form-action governs the redirect after this page's form too: allow the
            # client's registered redirect origins (RFC 6749 s. 3.1.2), and only those.
            origins = sorted({_origin(u) for u in party.application.redirect_uris.split()})
            response._csp_update = {"form-action": origins}  # type: ignore[attr-defined]
        return response  # type: ignore[no-any-return]

    def form_valid(self, form: ConsentForm) -> HttpResponse:
        party = self._party()
        if party is None:
            raise Http404("No such third party.")
        if not form.cleaned_data.get("allow"):
            return super().form_valid(form)  # type: ignore[no-any-return]  (access_denied)
        chosen = set(form.cleaned_data["sdps"])
        sdps = [sdp for sdp in self._sdps(party) if sdp.sdp_id in chosen]
        actor = actor_for_request(self.request)
        with transaction.atomic():
            try:
                consent = services.consent_grant(
                    party=party,
                    actor=actor,
                    sdps=sdps,
                    scope=form.cleaned_data["scope"],
                    months=form.cleaned_data["months"],
                    data_from=self._data_from(party),
                )
            except ValidationError as exc:
                form.add_error(None, exc)
                return self.form_invalid(form)  # type: ignore[no-any-return]
            self._consent_id = consent.pk
            response = super().form_valid(form)
            if not Consent.objects.filter(pk=consent.pk, grant__isnull=False).exists():
                transaction.set_rollback(True)  # the toolkit refused: no consent without a code
        return response  # type: ignore[no-any-return]

    def create_authorization_response(
        self, request: HttpRequest, scopes: str, credentials: dict[str, Any], allow: bool
    ) -> Any:
        consent_id = getattr(self, "_consent_id", None)
        if allow and consent_id is not None:
            credentials = {**credentials, "consent_id": consent_id}
        return super().create_authorization_response(request, scopes, credentials, allow)


class ConsentListView(CustomerMixin, TemplateView):
    """The customer's consents, live and ended, each with what it shares and a revoke button."""

    template_name = "connect/consents.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        now = timezone.now()
        context["rows"] = [
            {"consent": c, "state": c.state_label(now), "live": c.is_live(now)}
            for c in selectors.consents_for_user(self.request.user)
        ]
        return context


class ConsentRevokeView(CustomerMixin, View):
    """POST: revoke one of the customer's own consents (another's is a 404)."""

    def post(self, request: HttpRequest, public_id: str) -> HttpResponse:
        consent = (
            Consent.objects.filter(public_id=public_id, user=request.user)
            .select_related("third_party", "ldc")
            .first()
        )
        if consent is None:
            raise Http404("No such consent among yours.")
        services.consent_revoke(consent=consent, actor=self.actor)
        messages.success(request, f"{consent.third_party.name} can no longer read your data.")
        return redirect("connect:consents")


def _origin(uri: str) -> str:
    split = urlsplit(uri)
    return f"{split.scheme}://{split.netloc}"
