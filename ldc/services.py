"""State changes of a tenant: provisioning, members and roles, API tokens. Each one audited."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from portal.access import Actor
from portal.audit import audit
from portal.tenancy import LDC, LDC_ROLES, Membership, Role
from portal.tokens import ApiToken

User = get_user_model()


@transaction.atomic
def ldc_create(
    *, slug: str, name: str, actor: Actor | None = None, **fields: Any
) -> tuple[LDC, bool]:
    """Provision a tenant; an existing slug is left as it is (idempotent)."""
    ldc, created = LDC.objects.get_or_create(slug=slug, defaults={"name": name, **fields})
    if created:
        audit(
            action="ldc.created", actor=actor, ldc=ldc, obj=ldc, after={"slug": slug, "name": name}
        )
    return ldc, created


def _role_value(role: str) -> str:
    if role not in {r.value for r in LDC_ROLES}:
        raise ValidationError(f"'{role}' is not an LDC role.")
    return role


@transaction.atomic
def member_add(*, ldc: LDC, email: str, role: str, full_name: str = "", actor: Actor) -> Membership:
    """Give a person a role at the LDC (a new user gets an unusable password and sets one)."""
    role = _role_value(role)
    email = email.strip().lower()
    user, _ = User.objects.get_or_create(email=email, defaults={"full_name": full_name})
    if not user.has_usable_password() and user.password == "":
        user.set_unusable_password()
        user.save(update_fields=["password"])
    existing = Membership.objects.filter(user=user).first()
    if existing is not None:
        raise ValidationError(f"{email} already belongs to an organisation.")
    membership = Membership.objects.create(user=user, ldc=ldc, role=role)
    audit(
        action="member.added",
        actor=actor,
        ldc=ldc,
        obj=membership,
        after={"email": email, "role": role},
    )
    return membership


@transaction.atomic
def member_set_role(*, membership: Membership, role: str, actor: Actor) -> Membership:
    """Change a staff member's role (an LDC keeps at least one administrator)."""
    role = _role_value(role)
    before = membership.role
    if before == role:
        return membership
    if before == Role.LDC_ADMIN and not _other_admins(membership).exists():
        raise ValidationError("An LDC keeps at least one administrator.")
    membership.role = role
    membership.save(update_fields=["role"])
    audit(
        action="member.role_changed",
        actor=actor,
        ldc=membership.ldc,
        obj=membership,
        before={"role": before},
        after={"role": role},
    )
    return membership


@transaction.atomic
def member_remove(*, membership: Membership, actor: Actor) -> None:
    """Take a person's access to the LDC away."""
    if membership.role == Role.LDC_ADMIN and not _other_admins(membership).exists():
        raise ValidationError("An LDC keeps at least one administrator.")
    audit(
        action="member.removed",
        actor=actor,
        ldc=membership.ldc,
        obj=membership,
        before={"email": membership.user.email, "role": membership.role},
    )
    membership.delete()


def _other_admins(membership: Membership) -> Any:
    return (
        Membership.objects.for_ldc(membership.ldc)
        .filter(role=Role.LDC_ADMIN)
        .exclude(pk=membership.pk)
    )


@transaction.atomic
def api_token_create(
    *, ldc: LDC, name: str, role: str, actor: Actor | None
) -> tuple[ApiToken, str]:
    """A new machine token; returns it with the full key, which is shown once and never stored."""
    role = _role_value(role)
    key_id, secret, full_key = ApiToken.new_key()
    token = ApiToken(
        ldc=ldc, name=name, role=role, key_id=key_id, created_by=actor.user if actor else None
    )
    token.set_secret(secret)
    token.save()
    audit(
        action="api_token.created",
        actor=actor,
        ldc=ldc,
        obj=token,
        after={"name": name, "role": role},
    )
    return token, full_key


@transaction.atomic
def api_token_revoke(*, token: ApiToken, actor: Actor) -> ApiToken:
    """Stop a token from working (kept for the audit trail)."""
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit(action="api_token.revoked", actor=actor, ldc=token.ldc, obj=token)
    return token
