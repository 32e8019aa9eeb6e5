"""An LDC admin's pages: members and their roles, API tokens, the audit trail."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views import View
from django.views.generic import TemplateView

from ldc import services
from ldc.forms import (
    MemberAddForm,
    MemberRoleForm,
    TokenCreateForm,
)
from portal.mixins import LdcMixin, show_refusal
from portal.models import AuditEvent
from portal.tenancy import Membership
from portal.tokens import ApiToken


class MembersView(LdcMixin, View):
    """The LDC's staff and their roles; the administrator adds people and changes roles."""

    capability = "ldc.manage_members"
    template_name = "ldc/members.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self._render(request, MemberAddForm())

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = MemberAddForm(request.POST)
        if form.is_valid():
            try:
                services.member_add(ldc=self.ldc, actor=self.actor, **form.cleaned_data)
            except ValidationError as exc:
                form.add_error("email", exc)
            else:
                messages.success(request, f"{form.cleaned_data['email']} can now sign in.")
                return redirect("ldc:members")
        return self._render(request, form, status=400)

    def _render(self, request: HttpRequest, form: MemberAddForm, status: int = 200) -> HttpResponse:
        members = Membership.objects.for_ldc(self.ldc).select_related("user").order_by("role")
        context = {
            "members": members,
            "form": form,
            "role_form": MemberRoleForm(),
            "actor": self.actor,
        }
        return render(request, self.template_name, context, status=status)


class MemberRoleView(LdcMixin, View):
    """Change one member's role (POST)."""

    capability = "ldc.manage_members"

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        membership = get_object_or_404(Membership.objects.for_ldc(self.ldc), pk=kwargs["member_id"])
        form = MemberRoleForm(request.POST)
        if form.is_valid():
            try:
                services.member_set_role(
                    membership=membership, role=form.cleaned_data["role"], actor=self.actor
                )
                messages.success(
                    request, f"{membership.user.email} is now {membership.get_role_display()}."
                )
            except ValidationError as exc:
                show_refusal(request, exc)
        return redirect("ldc:members")


class MemberRemoveView(LdcMixin, View):
    """Remove a member's access (POST)."""

    capability = "ldc.manage_members"

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        membership = get_object_or_404(Membership.objects.for_ldc(self.ldc), pk=kwargs["member_id"])
        try:
            services.member_remove(membership=membership, actor=self.actor)
            messages.success(request, f"{membership.user.email} no longer has access.")
        except ValidationError as exc:
            show_refusal(request, exc)
        return redirect("ldc:members")


class TokensView(LdcMixin, View):
    """API tokens of the LDC's systems: create (the key is shown once) and revoke."""

    capability = "ldc.manage_tokens"
    template_name = "ldc/tokens.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self._render(request, TokenCreateForm())

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = TokenCreateForm(request.POST)
        if not form.is_valid():
            return self._render(request, form, status=400)
        token, key = services.api_token_create(ldc=self.ldc, actor=self.actor, **form.cleaned_data)
        return self._render(request, TokenCreateForm(), new_key=key, new_token=token)

    def _render(
        self, request: HttpRequest, form: TokenCreateForm, status: int = 200, **extra: Any
    ) -> HttpResponse:
        tokens = ApiToken.objects.for_ldc(self.ldc).select_related("created_by")
        context = {"tokens": tokens, "form": form, **extra}
        return render(request, self.template_name, context, status=status)


class TokenRevokeView(LdcMixin, View):
    """Revoke a token (POST)."""

    capability = "ldc.manage_tokens"

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        token = get_object_or_404(ApiToken.objects.for_ldc(self.ldc), key_id=kwargs["key_id"])
        services.api_token_revoke(token=token, actor=self.actor)
        messages.success(request, f"Token '{token.name}' is revoked.")
        return redirect("ldc:tokens")


class AuditView(LdcMixin, TemplateView):
    """The LDC's audit trail, newest first, filterable by action."""

    capability = "audit.view"
    template_name = "portal/audit.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        events = AuditEvent.objects.for_ldc(self.ldc).select_related("actor")
        action = self.request.GET.get("action", "").strip()
        if action:
            events = events.filter(action__startswith=action)
        page = Paginator(events, 50).get_page(self.request.GET.get("page"))
        context.update(page=page, title=f"Audit trail — {self.ldc.name}", action=action)
        return context
