"""Linking and unlinking customer accounts, invitations, exports of reads; each audited."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from customers.models import AccountLink, CustomerAccount, CustomerInvitation, new_bill_code
from meters.models import ServiceDeliveryPoint
from portal.access import Actor
from portal.audit import audit
from portal.tenancy import LDC


def normalise_postal_code(value: str) -> str:
    return re.sub(r"\s+", "", value or "").upper()


# One message for every failed check, so that the form does not tell which part was wrong.
_NO_MATCH = "We could not find an account with these details. Check them against your bill."


@transaction.atomic
def account_link(
    *, user: Any, ldc: LDC, account_number: str, sdp_id: str, check: str, actor: Actor
) -> AccountLink:
    """Link an account when its SDP id and the postal code on file or the bill code match."""
    account = (
        CustomerAccount.objects.for_ldc(ldc)
        .filter(account_number=account_number.strip(), sdps__sdp_id=sdp_id.strip())
        .first()
    )
    code = normalise_postal_code(check)
    if account is None or code not in {
        normalise_postal_code(account.postal_code),
        account.bill_code.upper(),
    }:
        raise ValidationError(_NO_MATCH)
    by_bill_code = code == account.bill_code.upper()
    link, created = AccountLink.objects.get_or_create(user=user, account=account)
    if created:
        audit(
            action="account.linked",
            actor=actor,
            ldc=ldc,
            obj=link,
            object_repr=f"account {account.account_number}",
            after={"check": "bill code" if by_bill_code else "postal code"},
        )
    if by_bill_code:  # one-time: the next bill prints a new code
        account.bill_code = new_bill_code()
        account.save(update_fields=["bill_code"])
    return link


@transaction.atomic
def account_unlink(*, link: AccountLink, actor: Actor) -> None:
    """Remove a person's link to an account."""
    audit(
        action="account.unlinked",
        actor=actor,
        ldc=link.account.ldc,
        obj=link,
        object_repr=f"account {link.account.account_number}",
    )
    link.delete()


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def customer_invitation_create(
    *,
    ldc: LDC,
    account: CustomerAccount,
    email: str,
    accept_url: Callable[[str], str],
    actor: Actor,
) -> tuple[CustomerInvitation, str]:
    """Invite a person by e-mail to link ``account``; the token is in the e-mail only."""
    if account.ldc_id != ldc.pk:
        raise ValidationError("No such account.")
    token = secrets.token_urlsafe(24)
    invitation = CustomerInvitation.objects.create(
        ldc=ldc,
        account=account,
        email=email.strip().lower(),
        token_hash=_token_hash(token),
        created_by=actor.user,
    )
    audit(
        action="customer_invitation.created",
        actor=actor,
        ldc=ldc,
        obj=invitation,
        object_repr=f"account {account.account_number}",
        after={"email": invitation.email, "expires_at": invitation.expires_at.isoformat()},
    )
    link = accept_url(token)
    transaction.on_commit(lambda: _send_invitation(invitation, ldc, link))
    return invitation, token


def _send_invitation(invitation: CustomerInvitation, ldc: LDC, link: str) -> None:
    send_mail(
        subject=f"{ldc.name}: see your electricity use online",
        message=(
            f"{ldc.name} invites you to see your hourly electricity use and costs.\n\n"
            f"Open this link, then sign in or create an account with this e-mail address "
            f"({invitation.email}); your account is linked for you:\n\n{link}\n\n"
            f"The link works once and until {invitation.expires_at:%Y-%m-%d}."
        ),
        from_email=None,
        recipient_list=[invitation.email],
    )


def invitation_for_token(token: str) -> CustomerInvitation | None:
    """The invitation of a token (any state), or None."""
    return (
        CustomerInvitation.objects.select_related("account", "ldc")
        .filter(token_hash=_token_hash(token))
        .first()
    )


def user_has_email(user: Any, email: str) -> bool:
    """The user's login e-mail, or one of their verified addresses, is ``email``."""
    from allauth.account.models import EmailAddress

    if (getattr(user, "email", "") or "").lower() == email.lower():
        return True
    return EmailAddress.objects.filter(user=user, email__iexact=email, verified=True).exists()


@transaction.atomic
def customer_invitation_accept(
    *, invitation: CustomerInvitation, user: Any, actor: Actor
) -> AccountLink:
    """Link the invited account to the person it was sent to; the token works once."""
    claimed = CustomerInvitation.objects.filter(
        pk=invitation.pk, accepted_at=None, expires_at__gt=timezone.now()
    ).update(accepted_at=timezone.now(), accepted_by=user)
    if claimed != 1 or not user_has_email(user, invitation.email):
        raise ValidationError("This invitation has been used or has expired.")
    link, created = AccountLink.objects.get_or_create(user=user, account=invitation.account)
    audit(
        action="customer_invitation.accepted",
        actor=actor,
        ldc=invitation.ldc,
        obj=invitation,
        object_repr=f"account {invitation.account.account_number}",
        after={"linked": created},
    )
    if created:
        audit(
            action="account.linked",
            actor=actor,
            ldc=invitation.ldc,
            obj=link,
            object_repr=f"account {invitation.account.account_number} (invitation)",
        )
    return link


def usage_export_record(
    *,
    sdp: ServiceDeliveryPoint,
    start: dt.date,
    end: dt.date,
    fmt: str,
    intervals: int,
    actor: Actor,
) -> None:
    """Audit one Green Button / CSV download of a customer's reads (every export is audited)."""
    with transaction.atomic():
        audit(
            action="usage.exported",
            actor=actor,
            ldc=sdp.ldc,
            obj=sdp,
            object_repr=f"SDP {sdp.sdp_id}",
            after={"format": fmt, "start": str(start), "end": str(end), "intervals": intervals},
        )
