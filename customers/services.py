"""Linking and unlinking customer accounts, invitations, exports of reads; each audited."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from customers.models import AccountLink, CustomerAccount, CustomerInvitation, new_bill_code
from meters.models import ServiceDeliveryPoint
from portal.access import Actor
from portal.audit import audit
from portal.tenancy import LDC


def normalise_code(value: str) -> str:
    return re.sub(r"[\s-]+", "", value or "").upper()


# One message for every failed check, so that the form does not tell which part was wrong.
_NO_MATCH = "We could not find an account with these details. Check them against your bill."


def account_link(
    *, user: Any, ldc: LDC, account_number: str, sdp_id: str, bill_code: str, actor: Actor
) -> AccountLink:
    """Link an account when its SDP id and the one-time code printed on its bill match.

    The account number, SDP id and postal code are not secrets (sequential, on every letter),
    so the proof is the bill code the LDC prints (or the LDC's invitation, below): 32 random
    bits, compared in constant time, replaced once used. A failure is audited; the callers
    throttle per person, address and account (customers.views.accounts, issue 21).
    """
    account = (
        CustomerAccount.objects.for_ldc(ldc)
        .filter(account_number=account_number.strip(), sdps__sdp_id=sdp_id.strip())
        .first()
    )
    given = normalise_code(bill_code).encode()
    if account is None or not hmac.compare_digest(given, account.bill_code.upper().encode()):
        _link_failed(ldc=ldc, account=account, account_number=account_number, actor=actor)
        raise ValidationError(_NO_MATCH)
    return _link(user=user, account=account, actor=actor)


def _link_failed(
    *, ldc: LDC, account: CustomerAccount | None, account_number: str, actor: Actor
) -> None:
    """Audit a failed linking attempt (its own transaction: the caller's error rolls back)."""
    with transaction.atomic():
        audit(
            action="account.link_failed",
            actor=actor,
            ldc=ldc,
            obj=account,
            object_repr=f"account {account_number.strip()[:40]}",
            after={"account_exists": account is not None},
        )


@transaction.atomic
def _link(*, user: Any, account: CustomerAccount, actor: Actor) -> AccountLink:
    # Lock the account: two guesses of one code at once cannot both use it.
    account = CustomerAccount.objects.select_for_update().get(pk=account.pk)
    link, created = AccountLink.objects.get_or_create(user=user, account=account)
    if created:
        audit(
            action="account.linked",
            actor=actor,
            ldc=account.ldc,
            obj=link,
            object_repr=f"account {account.account_number}",
            after={"check": "bill code"},
        )
        _tell_holders(account=account, newcomer=user)
    account.bill_code = new_bill_code()  # one-time: the next bill prints a new code
    account.save(update_fields=["bill_code"])
    return link


def _tell_holders(*, account: CustomerAccount, newcomer: Any) -> None:
    """E-mail the people already linked to ``account`` that someone else linked it."""
    others = [
        u.email
        for u in get_user_model()
        .objects.filter(account_links__account=account)
        .exclude(pk=newcomer.pk)
        if u.email
    ]
    if not others:
        return
    when = timezone.localtime().strftime("%Y-%m-%d %H:%M")
    ldc = account.ldc
    transaction.on_commit(
        lambda: send_mail(
            subject=f"{ldc.name}: someone linked your account",
            message=(
                f"Another person linked account {account.account_number} at {ldc.name} to "
                f"their sign-in on {when}: they can now see its usage.\n\n"
                f"If you did not expect this, contact {ldc.name}: they can remove the link."
            ),
            from_email=None,
            recipient_list=others,
        )
    )


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
        _tell_holders(account=invitation.account, newcomer=user)
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
