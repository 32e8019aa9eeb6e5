"""Onboarding records, the LDC's side (application, contacts, delegations: ldc/organisations.py)
and the page of an organisation's staff (the SDPs delegating LDCs give to it)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.generic import TemplateView

from ldc import organisations as orgs
from ldc.models import (
    Delegation,
    Organisation,
    OrganisationContact,
    RegistrationApplication,
)
from portal.mixins import LdcMixin


def _date(value: str, name: str) -> dt.date | None:
    if not value.strip():
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise ValidationError(f"{name}: '{value}' is not a date (YYYY-MM-DD).") from None


class RecordsView(LdcMixin, TemplateView):
    """The LDC's registration application, contacts by role and delegations."""

    template_name = "ldc/records.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(
            application=RegistrationApplication.objects.for_ldc(self.ldc).first(),
            contacts=OrganisationContact.objects.for_ldc(self.ldc),
            missing=orgs.contacts_missing(self.ldc),
            roles=OrganisationContact.Role.choices,
            delegations=Delegation.objects.for_ldc(self.ldc).select_related("organisation"),
            organisations=Organisation.objects.order_by("name"),
            scopes=Delegation.Scope.choices,
            can_edit=self.actor.can("ldc.manage_members"),
        )
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = request.POST
        try:
            if form.get("form") == "application":
                orgs.application_submit(
                    ldc=self.ldc,
                    legal_name=form.get("legal_name", ""),
                    oeb_licence=form.get("oeb_licence", ""),
                    service_area=form.get("service_area", ""),
                    actor=self.actor,
                )
                messages.success(request, "The registration application is on file.")
            elif form.get("form") == "contact":
                orgs.contact_add(
                    ldc=self.ldc,
                    role=form.get("role", ""),
                    name=form.get("name", ""),
                    email=form.get("email", "").strip(),
                    phone=form.get("phone", ""),
                    actor=self.actor,
                )
                messages.success(request, "The contact is named.")
            elif form.get("form") == "delegation":
                start = _date(form.get("starts_on", ""), "Starts on")
                if start is None:
                    raise ValidationError("Starts on: the first day of the delegation is required.")
                orgs.delegate(
                    ldc=self.ldc,
                    organisation=get_object_or_404(Organisation, pk=form.get("organisation") or 0),
                    scope=form.get("scope", ""),
                    starts_on=start,
                    ends_on=_date(form.get("ends_on", ""), "Ends on"),
                    actor=self.actor,
                )
                messages.success(request, "The authority is delegated.")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        except PermissionDenied as exc:
            messages.error(request, str(exc))
        return redirect("ldc:records")


class AgentSdpsView(LoginRequiredMixin, TemplateView):
    """An organisation's staff: the SDPs of the LDCs that delegated 'sdps.view' to it today."""

    template_name = "ldc/agent_sdps.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        org = orgs.organisation_of(self.request.user)
        if org is None:
            raise PermissionDenied("For the staff of billing agents and AMI service providers.")
        context = super().get_context_data(**kwargs)
        context["organisation"] = org
        context["sdps"] = orgs.sdps_for_agent_staff(self.request.user).select_related("ldc")[:500]
        return context
