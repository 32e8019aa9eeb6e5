"""Navigation that fits the role of whoever is looking."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from portal.access import actor_for_user

# Menus grouped by task (a person looks for "billing", not for the seventh of seventeen links):
# (group label, group icon, entries). A group with one visible entry is shown as a plain link.
_STAFF_NAV: list[tuple[str, str, list[tuple[str, str, str, str]]]] = [
    # entries: label, url name, icon, capability
    ("Dashboard", "speedometer2", [("Dashboard", "home", "speedometer2", "ldc.view")]),
    (
        "Registry",
        "geo-alt",
        [
            ("Service points", "meters:sdp-list", "geo-alt", "registry.view"),
            ("Meters", "meters:meter-list", "cpu", "registry.view"),
            ("Meter seals", "ldc:seals", "patch-check", "registry.view"),
        ],
    ),
    (
        "Reads",
        "file-earmark-arrow-up",
        [
            ("Read files", "meters:readfile-list", "file-earmark-arrow-up", "reads.view"),
            ("VEE exceptions", "vee:queue", "exclamation-triangle", "reads.view"),
            ("Weekly data quality", "rollout:quality", "clipboard-data", "ldc.view"),
        ],
    ),
    (
        "Billing",
        "receipt",
        [
            ("Billing quantities", "billing:list", "receipt", "billing.view"),
            ("Billing cycles", "meters:billing-cycles", "calendar3", "registry.view"),
            ("Smart Metering Charge", "ldc:charges", "cash-coin", "ldc.view"),
        ],
    ),
    (
        "Onboarding",
        "signpost-split",
        [
            ("Stages", "ldc:stages", "signpost-split", "stages.view"),
            ("Enrollment groups", "ldc:groups", "collection", "enrollment.view"),
            ("Training", "ldc:training", "mortarboard", "training.register"),
            ("Onboarding records", "ldc:records", "person-vcard", "stages.view"),
        ],
    ),
    (
        "Administration",
        "gear",
        [
            ("Customer invitations", "customers:invitations", "envelope-paper", "customers.invite"),
            ("Third parties", "connect:third-parties", "plug", "connect.manage"),
            ("Members", "ldc:members", "people", "ldc.manage_members"),
            ("API tokens", "ldc:tokens", "key", "ldc.manage_tokens"),
            ("Audit trail", "ldc:audit", "journal-text", "audit.view"),
        ],
    ),
]
_SME_NAV: list[tuple[str, str, list[tuple[str, str, str]]]] = [
    (
        "Rollout",
        "globe-americas",
        [
            ("Rollout", "home", "globe-americas"),
            ("LDC table", "rollout:ldc-table", "table"),
            ("Targets", "rollout:targets", "bullseye"),
            ("Data quality", "rollout:quality-index", "clipboard-data"),
        ],
    ),
    (
        "LDCs",
        "buildings",
        [
            ("LDCs", "sme:ldc-list", "buildings"),
            ("Training sessions", "sme_onboarding:training", "mortarboard"),
            ("Meter seals", "sme_onboarding:seals", "patch-check"),
        ],
    ),
    (
        "Charges and prices",
        "cash-coin",
        [
            ("Smart Metering Charge", "sme_onboarding:charges", "cash-coin"),
            ("OEB prices", "billing:prices", "currency-dollar"),
        ],
    ),
    ("Audit trail", "journal-text", [("Audit trail", "sme:audit", "journal-text")]),
]
_CUSTOMER_NAV: list[tuple[str, str, list[tuple[str, str, str]]]] = [
    ("My accounts", "house", [("My accounts", "home", "house")]),
    ("Link an account", "link-45deg", [("Link an account", "customers:link", "link-45deg")]),
    ("Connected apps", "plug", [("Connected apps", "connect:consents", "plug")]),
    ("How prices work", "mortarboard", [("How prices work", "customers:learn", "mortarboard")]),
]


def _groups(
    groups: list[tuple[str, str, list[tuple[str, str, str]]]], path: str
) -> list[dict[str, Any]]:
    """The menu: groups of {label, url, icon, active}; a group without entries is left out."""
    menu = []
    for label, icon, entries in groups:
        items = [{"label": lbl, "url": reverse(name), "icon": ic} for lbl, name, ic in entries]
        for item in items:
            item["active"] = item["url"] == path
        if items:
            active = any(item["active"] for item in items)
            menu.append({"label": label, "icon": icon, "items": items, "active": active})
    return menu


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_groups": [], "nav_items": [], "nav_actor": None}
    actor = actor_for_user(user)
    if actor.is_coordinator:
        groups = _groups(_SME_NAV, request.path)
    elif actor.is_ldc_staff:
        visible = [
            (label, icon, [(lbl, name, ic) for lbl, name, ic, cap in entries if actor.can(cap)])
            for label, icon, entries in _STAFF_NAV
        ]
        groups = _groups(visible, request.path)
    else:
        groups = _groups(_CUSTOMER_NAV, request.path)
    return {
        "nav_groups": groups,
        "nav_items": [item for group in groups for item in group["items"]],
        "nav_actor": actor,
    }
