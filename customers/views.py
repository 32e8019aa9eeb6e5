"""Customer pages: link and unlink accounts (usage pages come with the customer portal)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse_lazy
from django.views import View
from django.views.generic import FormView

from customers.forms import LinkAccountForm
from customers.models import AccountLink
from customers.services import account_link, account_unlink
from portal.mixins import CustomerMixin


class LinkAccountView(CustomerMixin, FormView):  # type: ignore[type-arg]
    """Link a customer account with its number, SDP id and a check the LDC controls."""

    template_name = "customers/link.html"
    form_class = LinkAccountForm
    success_url = reverse_lazy("home")

    def form_valid(self, form: LinkAccountForm) -> HttpResponse:
        try:
            account_link(user=self.request.user, actor=self.actor, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
            return self.form_invalid(form)
        messages.success(self.request, "Your account is linked.")
        return super().form_valid(form)


class UnlinkAccountView(CustomerMixin, View):
    """Remove one of the customer's own links (another person's link is a 404)."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseRedirect:
        link = get_object_or_404(AccountLink, pk=kwargs["link_id"], user=request.user)
        account_unlink(link=link, actor=self.actor)
        messages.success(request, "The account is no longer linked.")
        return redirect("home")
