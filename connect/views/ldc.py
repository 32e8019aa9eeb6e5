"""The LDC administrator's side: register third parties, see each one's consents and audit
trail (grants, reads, revocations), suspend or reinstate it. Another LDC's is a 404."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.views import View
from django.views.generic import FormView, TemplateView

from connect import selectors, services
from connect.forms import ThirdPartyForm
from connect.models import Consent, ThirdParty
from portal.mixins import LdcMixin, show_refusal


class ThirdPartiesView(LdcMixin, FormView):  # type: ignore[type-arg]
    """The LDC's third parties and the form that registers one (the secret is shown once)."""

    capability = "connect.manage"
    template_name = "connect/third_parties.html"
    form_class = ThirdPartyForm

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["parties"] = selectors.third_parties_for_ldc(self.ldc)
        return context  # type: ignore[no-any-return]

    def form_valid(self, form: ThirdPartyForm) -> HttpResponse:
        data = form.cleaned_data
        try:
            party, secret = services.third_party_register(
                ldc=self.ldc,
                actor=self.actor,
                name=data["name"],
                contact_name=data["contact_name"],
                contact_email=data["contact_email"],
                redirect_uris=data["redirect_uris"],
                notify_uri=data["notify_uri"],
                website=data["website"],
                may_usage=data["may_usage"],
                may_billing=data["may_billing"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
            return self.form_invalid(form)
        context = self.get_context_data(form=ThirdPartyForm())
        context.update(new_party=party, new_secret=secret)
        return self.render_to_response(context)


def _party(ldc: Any, public_id: str) -> ThirdParty:
    party = selectors.third_parties_for_ldc(ldc).filter(public_id=public_id).first()
    if party is None:
        raise Http404("No such third party at your LDC.")
    return party


class ThirdPartyDetailView(LdcMixin, TemplateView):
    """One third party: its registration, its consents (no reads), its audit trail."""

    capability = "connect.manage"
    template_name = "connect/third_party.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        party = _party(self.ldc, self.kwargs["public_id"])
        now = timezone.now()
        consents = (
            Consent.objects.for_ldc(self.ldc)
            .filter(third_party=party)
            .prefetch_related("sdps")
            .order_by("-granted_at")
        )
        context.update(
            party=party,
            consents=[{"consent": c, "state": c.state_label(now)} for c in consents],
            events=selectors.audit_for_third_party(party),
        )
        return context


class ThirdPartyStatusView(LdcMixin, View):
    """POST: suspend or reinstate a third party."""

    capability = "connect.manage"

    def post(self, request: HttpRequest, public_id: str) -> HttpResponse:
        party = _party(self.ldc, public_id)
        status = request.POST.get("status", "")
        if status not in ThirdParty.Status.values:
            show_refusal(request, ValidationError(f"Unknown status {status!r}."))
        else:
            services.third_party_set_status(party=party, actor=self.actor, status=status)
            messages.success(request, f"{party.name} is now {party.get_status_display().lower()}.")
        return redirect("connect:third-party", public_id=party.public_id)
