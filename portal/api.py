"""The API's shared parts: the scoped base classes, capability permission, one error shape."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, permissions, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from portal.access import Actor, actor_for_request


class DomainError(exceptions.APIException):
    """A business rule said no: answered as 400 with a code and a message."""

    status_code = 400
    default_code = "invalid"


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Every error as ``{"error": {"code", "message", "detail"}}``."""
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.messages)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    detail = response.data
    code = getattr(exc, "default_code", "error")
    if isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else code
    message = detail.get("detail", "Invalid input.") if isinstance(detail, dict) else str(detail)
    response.data = {"error": {"code": code, "message": str(message), "detail": detail}}
    return response


class HasCapability(permissions.BasePermission):
    """The view's ``capability`` (or ``write_capability`` for unsafe methods) is the actor's."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        actor = actor_for_request(request)
        capability = getattr(view, "capability", "ldc.view")
        if request.method not in permissions.SAFE_METHODS:
            capability = getattr(view, "write_capability", capability)
        return actor.can(capability)


class LdcScopedMixin:
    """Resolves the caller's LDC; subclasses build querysets with ``Model.objects.for_ldc``."""

    capability = "ldc.view"
    permission_classes = [permissions.IsAuthenticated, HasCapability]
    request: Request

    @property
    def actor(self) -> Actor:
        return actor_for_request(self.request)

    @property
    def ldc(self) -> Any:
        return self.actor.ldc


class LdcScopedViewSet(LdcScopedMixin, viewsets.ReadOnlyModelViewSet):  # type: ignore[type-arg]
    """Read-only list/detail of one LDC's rows; another LDC's row is a 404."""

    scoped_model: Any = None

    def get_queryset(self) -> Any:
        return self.scoped_model.objects.for_ldc(self.ldc)
