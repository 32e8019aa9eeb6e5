"""A customer links and unlinks their accounts; an LDC invites customers and they accept."""

from __future__ import annotations

from typing import Any

from allauth.core import ratelimit
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.views import View
from django.views.generic import FormView, TemplateView

from customers import selectors
from customers.forms import InvitationForm, LinkAccountForm
from customers.models import AccountLink, CustomerAccount
from customers.services import (
    account_link,
    account_unlink,
    customer_invitation_accept,
    customer_invitation_create,
    invitation_for_token,
    user_has_email,
)
from portal.mixins import CustomerMixin, LdcMixin


class LinkAccountView(CustomerMixin, FormView):  # type: ignore[type-arg]
    """Link a customer account with its number, SDP id and the one-time code on the bill.

    Throttled (settings.ACCOUNT_RATE_LIMITS, allauth's limiter, Redis at scale): attempts per
    person and per client address, failures per account, so that neither one person, one
    address nor many of them together can guess an account's code (OWASP ASVS 2.2.1)."""

    template_name = "customers/link.html"
    form_class = LinkAccountForm
    success_url = reverse_lazy("home")

    def form_valid(self, form: LinkAccountForm) -> HttpResponse:
        data = form.cleaned_data
        account_key = f"{data['ldc'].pk}:{data['account_number'].strip().upper()}"
        if not ratelimit.consume(self.request, action="customer_link") or not ratelimit.consume(
            self.request, action="customer_link_failed", key=account_key, dry_run=True
        ):
            form.add_error(None, TOO_MANY)
            return self.render_to_response(self.get_context_data(form=form), status=429)
        try:
            account_link(user=self.request.user, actor=self.actor, **data)
        except ValidationError as exc:
            ratelimit.consume(self.request, action="customer_link_failed", key=account_key)
            form.add_error(None, exc)
            return self.form_invalid(form)
        messages.success(self.request, "Your account is linked.")
        return super().form_valid(form)


TOO_MANY = (
    "Too many attempts. Try again in an hour, or ask your utility to e-mail you an invitation."
)


class UnlinkAccountView(CustomerMixin, View):
    """Remove one of the customer's own links (another person's link is a 404)."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseRedirect:
        link = get_object_or_404(AccountLink, pk=kwargs["link_id"], user=request.user)
        account_unlink(link=link, actor=self.actor)
        messages.success(request, "The account is no longer linked.")
        return redirect("home")


class InvitationListView(LdcMixin, FormView):  # type: ignore[type-arg]
    """LDC staff invite a customer by e-mail to link an account, and see the invitations."""

    capability = "customers.invite"
    template_name = "customers/invitations.html"
    form_class = InvitationForm

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["invitations"] = selectors.invitations_for_ldc(self.ldc)[:100]
        context["now"] = timezone.now()
        return context

    def form_valid(self, form: InvitationForm) -> HttpResponse:
        account = (
            CustomerAccount.objects.for_ldc(self.ldc)
            .filter(account_number=form.cleaned_data["account_number"].strip())
            .first()
        )
        if account is None:
            form.add_error("account_number", "No account with this number.")
            return self.form_invalid(form)
        request = self.request
        customer_invitation_create(
            ldc=self.ldc,
            account=account,
            email=form.cleaned_data["email"],
            accept_url=lambda token: request.build_absolute_uri(
                reverse("customers:invite-accept", args=[token])
            ),
            actor=self.actor,
        )
        messages.success(request, f"Invitation sent to {form.cleaned_data['email']}.")
        return redirect("customers:invitations")


class InvitationAcceptView(CustomerMixin, TemplateView):
    """The link in the invitation e-mail: after sign-up or login, link the account in one click.

    Only the person the invitation was sent to (by e-mail address) sees it; anyone else, a used
    or an expired token get a 404, so the page tells a stranger nothing.
    """

    template_name = "customers/invite_accept.html"

    def check_actor(self, actor: Any) -> None:
        super().check_actor(actor)
        invitation = invitation_for_token(self.kwargs["token"])
        if (
            invitation is None
            or not invitation.is_open()
            or not user_has_email(self.request.user, invitation.email)
        ):
            raise Http404("No such invitation.")
        self.invitation = invitation

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["invitation"] = self.invitation
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            customer_invitation_accept(
                invitation=self.invitation, user=request.user, actor=self.actor
            )
        except ValidationError as exc:
            messages.error(request, exc.messages[0])
            return redirect("home")
        messages.success(request, f"Account {self.invitation.account.account_number} is linked.")
        return redirect("home")
