"""Tenancy: every tenant-owned row carries ``ldc``; one queryset method scopes it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from django.db import models

if TYPE_CHECKING:
    from ldc.models import LDC

_M = TypeVar("_M", bound=models.Model)


class TenantQuerySet(models.QuerySet[_M]):
    """The one way to reach tenant data: ``Model.objects.for_ldc(ldc)``."""

    def for_ldc(self, ldc: LDC | int | None) -> TenantQuerySet[_M]:
        if ldc is None:
            return self.none()
        return self.filter(ldc=ldc)


class TenantModel(models.Model):
    """Abstract base of every row owned by one LDC."""

    ldc = models.ForeignKey("ldc.LDC", on_delete=models.PROTECT, related_name="+")

    objects: Any = TenantQuerySet.as_manager()

    class Meta:
        abstract = True
