"""Connect My Data's state changes: register and suspend third parties, grant and revoke
consents, record each use of the data. Each writes its audit event in the same transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import AccessToken, Application, Grant, RefreshToken

from connect import scopes
from connect.models import Consent, ThirdParty
from portal.access import Actor
from portal.audit import audit

DURATIONS_MONTHS = (1, 3, 6, 12, 24, 60)


def _repr(party: ThirdParty, what: str) -> str:
    # The third party's id closes every representation: its audit trail is found by it.
    return f"{what} [{party.public_id}]"


@transaction.atomic
def third_party_register(
    *,
    ldc: Any,
    actor: Actor,
    name: str,
    contact_name: str,
    contact_email: str,
    redirect_uris: Sequence[str],
    notify_uri: str = "",
    website: str = "",
    may_usage: bool = True,
    may_billing: bool = False,
) -> tuple[ThirdParty, str]:
    """Register a third party as a confidential OAuth client; returns it and its client secret
    (shown once: only its hash is kept)."""
    if not (may_usage or may_billing):
        raise ValidationError("A third party must be allowed usage, billing or both.")
    if ThirdParty.objects.for_ldc(ldc).filter(name=name).exists():
        raise ValidationError(f"A third party named {name!r} is already registered.")
    secret = generate_client_secret()
    application = Application.objects.create(
        name=f"{ldc.slug}: {name}"[:255],
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=" ".join(redirect_uris),
        client_secret=secret,
        hash_client_secret=True,
        skip_authorization=False,  # the customer always sees the consent page
    )
    party = ThirdParty.objects.create(
        ldc=ldc,
        application=application,
        name=name,
        contact_name=contact_name,
        contact_email=contact_email,
        website=website,
        notify_uri=notify_uri,
        may_usage=may_usage,
        may_billing=may_billing,
        created_by=actor.user,
    )
    audit(
        ldc=ldc,
        actor=actor,
        action="connect.third_party_registered",
        obj=party,
        object_repr=_repr(party, name),
        after={
            "client_id": application.client_id,
            "redirect_uris": list(redirect_uris),
            "usage": may_usage,
            "billing": may_billing,
            "notify_uri": notify_uri,
        },
    )
    return party, secret


@transaction.atomic
def third_party_set_status(*, party: ThirdParty, actor: Actor, status: str) -> ThirdParty:
    """Suspend a third party (its tokens and authorisation page stop at once) or reinstate it."""
    before = party.status
    if before == status:
        return party
    party.status = status
    party.save(update_fields=["status"])
    audit(
        ldc=party.ldc,
        actor=actor,
        action=f"connect.third_party_{'suspended' if status == 'suspended' else 'reinstated'}",
        obj=party,
        object_repr=_repr(party, party.name),
        before={"status": before},
        after={"status": status},
    )
    return party


def add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return dt.date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


@transaction.atomic
def consent_grant(
    *,
    party: ThirdParty,
    actor: Actor,
    sdps: Sequence[Any],
    scope: str,
    months: int,
    data_from: dt.date,
    now: dt.datetime | None = None,
) -> Consent:
    """The signed-in customer authorises a third party to read these SDPs for ``months``."""
    now = now or timezone.now()
    if not party.is_active:
        raise ValidationError("This third party is suspended by your utility.")
    if not sdps:
        raise ValidationError("Choose at least one service point to share.")
    if any(sdp.ldc_id != party.ldc_id for sdp in sdps):
        raise ValidationError("A service point of another utility cannot be shared here.")
    if months not in DURATIONS_MONTHS:
        raise ValidationError(f"Choose a duration among {DURATIONS_MONTHS} months.")
    usage, billing = scopes.what_of(scope)
    consent = Consent.objects.create(
        ldc_id=party.ldc_id,
        third_party=party,
        user=actor.user,
        usage=usage,
        billing=billing,
        scope=scope,
        data_from=data_from,
        granted_at=now,
        expires_at=now + (add_months(now.date(), months) - now.date()),
    )
    consent.sdps.set(sdps)
    audit(
        ldc=party.ldc,
        actor=actor,
        action="connect.consent_granted",
        obj=consent,
        object_repr=_repr(party, f"{party.name} ← {actor.user}"),
        after={
            "consent": str(consent.public_id),
            "sdps": [sdp.sdp_id for sdp in sdps],
            "usage": usage,
            "billing": billing,
            "data_from": data_from.isoformat(),
            "expires_at": consent.expires_at.isoformat(),
        },
    )
    return consent


@transaction.atomic
def consent_revoke(*, consent: Consent, actor: Actor, reason: str = "customer") -> Consent:
    """End a consent: its tokens are deleted and refused from this instant on."""
    if consent.status == Consent.Status.REVOKED:
        return consent
    consent.status = Consent.Status.REVOKED
    consent.revoked_at = timezone.now()
    consent.revoked_by = actor.label[:200]
    consent.save(update_fields=["status", "revoked_at", "revoked_by"])
    tokens_end(consent)
    audit(
        ldc=consent.ldc,
        actor=actor,
        action="connect.consent_revoked",
        obj=consent,
        object_repr=_repr(consent.third_party, f"{consent.third_party.name} ← {consent.user}"),
        after={"consent": str(consent.public_id), "reason": reason},
    )
    return consent


def tokens_end(consent: Consent) -> None:
    """Delete every token and the pending code of a consent (RFC 7009 revocation, server side)."""
    if consent.token_family is not None:
        family = consent.token_family
        AccessToken.objects.filter(refresh_token__token_family=family).delete()
        AccessToken.objects.filter(source_refresh_token__token_family=family).delete()
        RefreshToken.objects.filter(token_family=family).delete()
    if consent.grant_id is not None:
        Grant.objects.filter(pk=consent.grant_id).delete()


class PartyActor(Actor):
    """A third party reading through its token: audited under its own name."""

    @property
    def label(self) -> str:
        return f"third party {self._cache.get('name', '')}"


def espi_use_record(*, consent: Consent, resource: str, intervals: int = 0) -> None:
    """One read of a consent's data by its third party (the audit of every use)."""
    party = consent.third_party
    audit(
        ldc=consent.ldc,
        actor=PartyActor(ldc=consent.ldc, role=None, user=None, _cache={"name": party.name}),
        action="connect.data_read",
        obj=consent,
        object_repr=_repr(party, f"{party.name} read {resource}"[:150]),
        after={"consent": str(consent.public_id), "resource": resource, "intervals": intervals},
    )
