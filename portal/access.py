"""Who is asking: the organisation (LDC or the SME) and role behind a request or token.

Capabilities, not roles, are checked by views and API classes, so that which role may do what
is written once, here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ldc.models import LDC, LDC_ROLES, Role

if TYPE_CHECKING:
    from django.http import HttpRequest

    from ldc.models import ApiToken

ALL_LDC = frozenset(LDC_ROLES)
CAPABILITIES: dict[str, frozenset[str]] = {
    "ldc.view": ALL_LDC,
    "ldc.manage_members": frozenset({Role.LDC_ADMIN}),
    "ldc.manage_tokens": frozenset({Role.LDC_ADMIN}),
    "audit.view": frozenset({Role.LDC_ADMIN}),
    "registry.view": ALL_LDC,
    "registry.write": frozenset({Role.LDC_ADMIN, Role.BACK_OFFICE}),
    "reads.view": ALL_LDC,
    "reads.upload": frozenset({Role.LDC_ADMIN, Role.BACK_OFFICE, Role.AMI_OPERATOR}),
    "reads.edit": frozenset({Role.LDC_ADMIN, Role.BACK_OFFICE}),
    "billing.request": frozenset({Role.LDC_ADMIN, Role.BACK_OFFICE, Role.BILLING_AGENT}),
    "sme.view": frozenset({Role.SME_COORDINATOR}),
    "sme.manage": frozenset({Role.SME_COORDINATOR}),
}


@dataclass(frozen=True)
class Actor:
    """The party behind a request: a user with a membership, a token, or a customer."""

    ldc: LDC | None
    role: str | None  # None: a customer (or a user without membership)
    user: Any = None
    token: ApiToken | None = None

    @property
    def is_coordinator(self) -> bool:
        return self.role == Role.SME_COORDINATOR

    @property
    def is_ldc_staff(self) -> bool:
        return self.ldc is not None and self.role in ALL_LDC

    @property
    def is_customer(self) -> bool:
        return self.role is None and self.user is not None and self.user.is_authenticated

    def can(self, capability: str) -> bool:
        return self.role in CAPABILITIES[capability]

    @property
    def role_label(self) -> str:
        return Role(self.role).label if self.role else "Customer"

    @property
    def label(self) -> str:
        if self.token is not None:
            return f"token {self.token.name} ({self.token.key_id})"
        return str(getattr(self.user, "email", "") or "system")


def actor_for_user(user: Any) -> Actor:
    """The actor of a logged-in user (membership role) or a customer."""
    if user is None or not user.is_authenticated:
        return Actor(ldc=None, role=None, user=None)
    membership = getattr(user, "_openmdmr_membership", None)
    if membership is None:
        from ldc.models import Membership

        membership = Membership.objects.select_related("ldc").filter(user=user).first() or False
        user._openmdmr_membership = membership
    if not membership:
        return Actor(ldc=None, role=None, user=user)
    return Actor(ldc=membership.ldc, role=membership.role, user=user)


def actor_for_request(request: HttpRequest) -> Actor:
    """The actor of a page or API request; API tokens carry their own LDC and role."""
    token = getattr(request, "auth", None)
    from ldc.models import ApiToken

    if isinstance(token, ApiToken):
        return Actor(ldc=token.ldc, role=token.role, user=None, token=token)
    return actor_for_user(getattr(request, "user", None))
