"""The Django admin, open to superusers and (scoped to their LDC) to LDC administrators."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from portal.access import actor_for_user


class OpenMdmrAdminSite(admin.AdminSite):
    site_header = "OpenMDMR administration"
    site_title = "OpenMDMR admin"

    def login(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        """No password form of the admin's own: sign-in goes through allauth, which asks for
        the TOTP code and applies the login rate limits and lockout (allauth's documented
        workaround, docs.allauth.org "Admin"; its secure_admin_login needs is_staff, which
        LDC administrators do not have). portal.two_factor then holds on every admin page."""
        if request.user.is_authenticated:
            if not self.has_permission(request):
                raise PermissionDenied("Your sign-in cannot use the administration site.")
            return HttpResponseRedirect(reverse("admin:index", current_app=self.name))
        target = request.GET.get(REDIRECT_FIELD_NAME) or reverse(
            "admin:index", current_app=self.name
        )
        if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
            target = reverse("admin:index", current_app=self.name)
        return redirect_to_login(target, resolve_url(settings.LOGIN_URL))

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        if not user.is_active:
            return False
        return bool(user.is_superuser or actor_for_user(user).role == "ldc_admin")


def _ldc_of(request: HttpRequest) -> Any:
    return actor_for_user(request.user).ldc


class ScopedAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """A model with an ``ldc`` field: an LDC administrator sees and edits only their LDC's rows."""

    ldc_admin_can_add = True
    ldc_admin_can_delete = False

    def get_queryset(self, request: HttpRequest) -> Any:
        rows = super().get_queryset(request)
        return rows if request.user.is_superuser else rows.for_ldc(_ldc_of(request))

    def _ldc_admin(self, request: HttpRequest) -> bool:
        return not request.user.is_superuser and _ldc_of(request) is not None

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser or self._ldc_admin(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser or (self.ldc_admin_can_add and self._ldc_admin(request))

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser or (self.ldc_admin_can_delete and self._ldc_admin(request))

    def get_exclude(self, request: HttpRequest, obj: Any = None) -> Any:
        excluded = list(super().get_exclude(request, obj) or [])
        return excluded if request.user.is_superuser else [*excluded, "ldc"]

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        related = db_field.related_model
        if not request.user.is_superuser and _has_ldc(related):
            kwargs["queryset"] = related.objects.for_ldc(_ldc_of(request))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        related = db_field.related_model
        if not request.user.is_superuser and _has_ldc(related):
            kwargs["queryset"] = related.objects.for_ldc(_ldc_of(request))
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not request.user.is_superuser:
            obj.ldc = _ldc_of(request)
        super().save_model(request, obj, form, change)


class ReadOnlyScopedAdmin(ScopedAdmin):
    """Scoped and read-only: rows written only by services (reads, files, audit)."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class SuperuserAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Models with no LDC of their own: the operators (superusers) only."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser


def _has_ldc(model: type[models.Model]) -> bool:
    return any(f.name == "ldc" for f in model._meta.get_fields())
