"""Linking and unlinking customer accounts; each change audited."""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from customers.models import AccountLink, CustomerAccount
from ldc.models import LDC
from portal.access import Actor
from portal.audit import audit


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
    link, created = AccountLink.objects.get_or_create(user=user, account=account)
    if created:
        audit(
            action="account.linked",
            actor=actor,
            ldc=ldc,
            obj=link,
            object_repr=f"account {account.account_number}",
        )
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
