"""Who is asking: the organisation (LDC or the SME) and role behind a request or token.

Capabilities, not roles, are checked by views and API classes, so that which role may do what
is written once, here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from portal.tenancy import LDC, LDC_ROLES, Membership, Role, Stage
from portal.tokens import ApiToken

if TYPE_CHECKING:
    from django.http import HttpRequest

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
    "customers.invite": frozenset({Role.LDC_ADMIN, Role.BACK_OFFICE}),
    # Green Button Connect My Data: register and suspend third parties, see their audit (#22)
    "connect.manage": frozenset({Role.LDC_ADMIN}),
    "billing.view": frozenset({Role.LDC_ADMIN, Role.BACK_OFFICE, Role.BILLING_AGENT}),
    "billing.request": frozenset({Role.LDC_ADMIN, Role.BACK_OFFICE, Role.BILLING_AGENT}),
    "sme.view": frozenset({Role.SME_COORDINATOR}),
    "sme.manage": frozenset({Role.SME_COORDINATOR}),
    # MDM/R stages, enrollment groups, GUI training (ldc/stages.py, enrollment.py, training.py)
    "stages.view": ALL_LDC,
    "stages.submit": frozenset({Role.LDC_ADMIN, Role.BACK_OFFICE}),
    "stages.sign_off": frozenset({Role.SME_COORDINATOR}),
    "enrollment.view": ALL_LDC,
    "enrollment.manage": frozenset({Role.LDC_ADMIN, Role.BACK_OFFICE}),
    "training.register": ALL_LDC,
    "training.view_missing": frozenset({Role.LDC_ADMIN}),
    "training.manage": frozenset({Role.SME_COORDINATOR}),
}
# Writes to production data: a staff member of an LDC in Production needs the GUI course
# (Course.required_for_write) completed first. Machine tokens are not people and are not gated.
WRITE_CAPABILITIES = frozenset(
    {"registry.write", "reads.upload", "reads.edit", "billing.request", "enrollment.manage"}
)


@dataclass(frozen=True)
class Actor:
    """The party behind a request: a user with a membership, a token, or a customer."""

    ldc: LDC | None
    role: str | None  # None: a customer (or a user without membership)
    user: Any = None
    token: ApiToken | None = None
    _cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

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
        if self.role not in CAPABILITIES[capability]:
            return False
        return capability not in WRITE_CAPABILITIES or not self.needs_training

    def blocked_by_training(self, capability: str) -> bool:
        """The role allows it, but it writes production data and the GUI course is missing."""
        return (
            self.role in CAPABILITIES[capability]
            and capability in WRITE_CAPABILITIES
            and self.needs_training
        )

    @property
    def needs_training(self) -> bool:
        """A person of an LDC in Production who has not completed the required GUI course."""
        if self.token is not None or self.user is None or not self.is_ldc_staff:
            return False
        if self.ldc is None or self.ldc.stage != Stage.PRODUCTION:
            return False
        if "trained" not in self._cache:
            self._cache["trained"] = write_trained(self.user)
        return not self._cache["trained"]

    @property
    def role_label(self) -> str:
        return Role(self.role).label if self.role else "Customer"

    @property
    def label(self) -> str:
        if self.token is not None:
            return f"token {self.token.name} ({self.token.key_id})"
        return str(getattr(self.user, "email", "") or "system")


# The GUI-training records are the ldc app's (ldc/training.py); it installs the check when Django
# starts (ldc.apps), so that the foundation reads them without importing an app. Until then every
# person counts as untrained: the gate fails closed.
_training_check: list[Callable[[Any], bool]] = []


def training_check_install(check: Callable[[Any], bool]) -> None:
    """Install the function telling whether a user completed a course required for writes."""
    _training_check[:] = [check]


def write_trained(user: Any) -> bool:
    """Whether the user completed a course required for write access; asked once, then cached
    on the user object (the page's actor and the navigation's share it within a request)."""
    cached = getattr(user, "_openmdmr_write_trained", None)
    if cached is None:
        cached = bool(_training_check) and _training_check[0](user)
        user._openmdmr_write_trained = cached
    return bool(cached)


def actor_for_user(user: Any) -> Actor:
    """The actor of a logged-in user (membership role) or a customer."""
    if user is None or not user.is_authenticated:
        return Actor(ldc=None, role=None, user=None)
    membership: Membership | bool | None = getattr(user, "_openmdmr_membership", None)
    if membership is None:
        membership = Membership.objects.select_related("ldc").filter(user=user).first() or False
        user._openmdmr_membership = membership
    if not isinstance(membership, Membership):
        return Actor(ldc=None, role=None, user=user)
    return Actor(ldc=membership.ldc, role=membership.role, user=user)


def actor_for_request(request: HttpRequest) -> Actor:
    """The actor of a page or API request; API tokens carry their own LDC and role."""
    token = getattr(request, "auth", None)
    if isinstance(token, ApiToken):
        return Actor(ldc=token.ldc, role=token.role, user=None, token=token)
    return actor_for_user(getattr(request, "user", None))
