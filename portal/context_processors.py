"""Navigation that fits the role of whoever is looking."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from portal.access import actor_for_user

NavItem = tuple[str, str, str]  # label, url name, bootstrap icon

_STAFF_NAV: list[tuple[str, str, str, str]] = [
    # label, url name, icon, capability
    ("Dashboard", "home", "speedometer2", "ldc.view"),
    ("Service points", "meters:sdp-list", "geo-alt", "registry.view"),
    ("Meters", "meters:meter-list", "cpu", "registry.view"),
    ("Read files", "meters:readfile-list", "file-earmark-arrow-up", "reads.view"),
    ("VEE exceptions", "vee:queue", "exclamation-triangle", "reads.view"),
    ("Weekly data quality", "rollout:quality", "clipboard-data", "ldc.view"),
    ("Billing quantities", "billing:list", "receipt", "billing.view"),
    ("Stages", "ldc:stages", "signpost-split", "stages.view"),
    ("Enrollment groups", "ldc:groups", "collection", "enrollment.view"),
    ("Training", "ldc:training", "mortarboard", "training.register"),
    ("Onboarding records", "ldc:records", "person-vcard", "stages.view"),
    ("Smart Metering Charge", "ldc:charges", "cash-coin", "ldc.view"),
    ("Meter seals", "ldc:seals", "patch-check", "registry.view"),
    ("Customer invitations", "customers:invitations", "envelope-paper", "customers.invite"),
    ("Third parties", "connect:third-parties", "plug", "connect.manage"),
    ("Members", "ldc:members", "people", "ldc.manage_members"),
    ("API tokens", "ldc:tokens", "key", "ldc.manage_tokens"),
    ("Audit trail", "ldc:audit", "journal-text", "audit.view"),
]
_SME_NAV: list[tuple[str, str, str]] = [
    ("Rollout", "home", "globe-americas"),
    ("LDC table", "rollout:ldc-table", "table"),
    ("Targets", "rollout:targets", "bullseye"),
    ("Data quality", "rollout:quality-index", "clipboard-data"),
    ("LDCs", "sme:ldc-list", "buildings"),
    ("Training sessions", "sme_onboarding:training", "mortarboard"),
    ("Smart Metering Charge", "sme_onboarding:charges", "cash-coin"),
    ("Meter seals", "sme_onboarding:seals", "patch-check"),
    ("OEB prices", "billing:prices", "currency-dollar"),
    ("Audit trail", "sme:audit", "journal-text"),
]
_CUSTOMER_NAV: list[tuple[str, str, str]] = [
    ("My accounts", "home", "house"),
    ("Link an account", "customers:link", "link-45deg"),
    ("Connected apps", "connect:consents", "plug"),
    ("How prices work", "customers:learn", "mortarboard"),
]


def _items(entries: list[tuple[str, str, str]]) -> list[dict[str, str]]:
    return [{"label": label, "url": reverse(name), "icon": icon} for label, name, icon in entries]


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": [], "nav_actor": None}
    actor = actor_for_user(user)
    if actor.is_coordinator:
        items = _items(_SME_NAV)
    elif actor.is_ldc_staff:
        items = _items([(lbl, name, icon) for lbl, name, icon, cap in _STAFF_NAV if actor.can(cap)])
    else:
        items = _items(_CUSTOMER_NAV)
    return {"nav_items": items, "nav_actor": actor}
