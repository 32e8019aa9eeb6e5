"""Customer accounts of an LDC and the people who linked them (privacy: no reads here)."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F
from django.utils import timezone

from portal.tenancy import TenantModel


def new_bill_code() -> str:
    return secrets.token_hex(4).upper()


class CustomerAccount(TenantModel):
    """An LDC's billing account; a person links it with its number plus a check the LDC controls."""

    account_number = models.CharField(max_length=40)
    postal_code = models.CharField(max_length=10, blank=True)
    bill_code = models.CharField(
        max_length=16, default=new_bill_code, help_text="One-time code printed on the bill."
    )
    sdps = models.ManyToManyField(
        "meters.ServiceDeliveryPoint",
        blank=True,
        related_name="accounts",
        through="AccountSdp",
        through_fields=("account", "sdp"),
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["ldc", "account_number"], name="one_account_number")
        ]
        ordering = ["account_number"]

    def __str__(self) -> str:
        return self.account_number


class AccountSdp(models.Model):
    """An account's occupancy of an SDP: from move-in to move-out (local dates, inclusive).

    Privacy (DESIGN.md, "a customer only their own and only while they lived there"): every
    customer query and export is clipped to these dates (customers.occupancy), so a new
    occupant never sees the previous one's reads and the old account never sees the new one's.
    The table is the one the former plain many-to-many used (migration 0004).
    """

    account = models.ForeignKey(
        CustomerAccount, on_delete=models.CASCADE, db_column="customeraccount_id"
    )
    sdp = models.ForeignKey(
        "meters.ServiceDeliveryPoint",
        on_delete=models.CASCADE,
        db_column="servicedeliverypoint_id",
        related_name="occupancies",
    )
    move_in = models.DateField(help_text="First local day of the account at the premises.")
    move_out = models.DateField(
        null=True, blank=True, help_text="Last local day at the premises (empty: still there)."
    )

    class Meta:
        db_table = "customers_customeraccount_sdps"
        verbose_name = "occupancy"
        verbose_name_plural = "occupancies"
        unique_together = [("account", "sdp")]
        indexes = [models.Index(fields=["sdp", "move_in"], name="occupancy_sdp_move_in")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(move_out__isnull=True) | models.Q(move_out__gte=F("move_in")),
                name="occupancy_move_out_after_move_in",
            )
        ]

    def __str__(self) -> str:
        return f"{self.account} at {self.sdp_id}: {self.move_in} .. {self.move_out or ''}"

    def covers(self, day: dt.date) -> bool:
        """The account occupied the SDP on local date ``day``."""
        return self.move_in <= day and (self.move_out is None or day <= self.move_out)


class AccountLink(models.Model):
    """A person's link to a customer account: they see that account's SDPs and nothing else."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="account_links"
    )
    account = models.ForeignKey(CustomerAccount, on_delete=models.CASCADE, related_name="links")
    linked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "account"], name="one_link_per_account")
        ]

    def __str__(self) -> str:
        return f"{self.user} -> {self.account}"


def invitation_expiry() -> Any:
    return timezone.now() + INVITATION_LIFETIME


INVITATION_LIFETIME = dt.timedelta(days=14)


class CustomerInvitation(TenantModel):
    """An LDC's e-mailed invitation to link an account: a one-time token, kept only hashed."""

    account = models.ForeignKey(CustomerAccount, on_delete=models.CASCADE, related_name="invites")
    email = models.EmailField()
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(default=invitation_expiry)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["ldc", "-created_at"])]

    def __str__(self) -> str:
        return f"invitation of {self.email} to {self.account}"

    def is_open(self, now: dt.datetime | None = None) -> bool:
        """Not used yet and not expired."""
        return self.accepted_at is None and (now or timezone.now()) < self.expires_at
