"""Third parties an LDC registered and the consents customers gave them (Connect My Data).

A third party is an OAuth 2.0 client (django-oauth-toolkit's Application, not swapped) plus what
the LDC allows it to ask for. A consent is one customer's authorisation of one third party: which
SDPs, usage and/or billing, data from which date, until when. ESPI (NAESB REQ.21) names the same
thing twice: it is the Subscription (the data) and the Authorization (its state); both use the
consent's ``public_id``.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from portal.tenancy import TenantModel


class ThirdParty(TenantModel):
    """A third party an LDC administrator registered: who they are, where to send them back, what
    data they may ask for; suspending one ends every token of it at once."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    application = models.OneToOneField(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL,
        on_delete=models.PROTECT,
        related_name="third_party",
    )
    name = models.CharField(max_length=200)
    contact_name = models.CharField(max_length=200)
    contact_email = models.EmailField()
    website = models.URLField(blank=True)
    notify_uri = models.URLField(
        blank=True, help_text="ESPI thirdPartyNotifyUri: where new data is announced."
    )
    may_usage = models.BooleanField(default=True, help_text="May ask for interval usage.")
    may_billing = models.BooleanField(default=False, help_text="May ask for billing summaries.")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["ldc", "name"], name="one_third_party_name")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class Consent(TenantModel):
    """One customer's authorisation of one third party to read some of their SDPs' data."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        REVOKED = "revoked", "Revoked"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    third_party = models.ForeignKey(ThirdParty, on_delete=models.PROTECT, related_name="consents")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="connect_consents"
    )
    sdps = models.ManyToManyField("meters.ServiceDeliveryPoint", related_name="+")
    usage = models.BooleanField(default=True)
    billing = models.BooleanField(default=False)
    scope = models.CharField(max_length=256, help_text="The ESPI scope string asked for.")
    data_from = models.DateField(help_text="Local date of the first data shared.")
    granted_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.CharField(max_length=200, blank=True)
    # The authorisation code while it waits to be exchanged (deleted by the toolkit once used),
    # then the family of refresh tokens every access token of this consent belongs to.
    grant = models.OneToOneField(
        settings.OAUTH2_PROVIDER_GRANT_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="consent",
    )
    token_family = models.UUIDField(null=True, blank=True, unique=True)
    last_notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-granted_at"]
        indexes = [models.Index(fields=["ldc", "third_party", "-granted_at"])]

    def __str__(self) -> str:
        return f"{self.user} -> {self.third_party}"

    def is_live(self, now: dt.datetime | None = None) -> bool:
        """Not revoked, not expired, and its third party not suspended."""
        now = now or timezone.now()
        return (
            self.status == self.Status.ACTIVE
            and now < self.expires_at
            and self.third_party.status == ThirdParty.Status.ACTIVE
        )

    def state_label(self, now: dt.datetime | None = None) -> str:
        now = now or timezone.now()
        if self.status == self.Status.REVOKED:
            return "Revoked"
        if now >= self.expires_at:
            return "Expired"
        if self.third_party.status != ThirdParty.Status.ACTIVE:
            return "Suspended by your utility"
        return "Active"


class Notification(TenantModel):
    """One ESPI notification (a BatchList POSTed to the third party's notify URI): queued,
    retried, its outcome kept."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    consent = models.ForeignKey(Consent, on_delete=models.CASCADE, related_name="notifications")
    body = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"notification {self.pk} of {self.consent_id}"
