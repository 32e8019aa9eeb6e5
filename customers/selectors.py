"""What a customer may see: only the accounts (and their SDPs) they linked."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from customers.models import AccountLink


def links_for_user(user: Any) -> QuerySet[AccountLink]:
    return (
        AccountLink.objects.filter(user=user)
        .select_related("account", "account__ldc")
        .prefetch_related("account__sdps")
        .order_by("linked_at")
    )
