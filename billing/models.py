"""Billing: OEB price sets, billing-quantity requests and their versioned quantities, notices."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from meters.models import new_public_id
from portal.tenancy import TenantModel


class Plan(models.TextChoices):
    TOU = "tou", "Time-of-use"
    ULO = "ulo", "Ultra-low overnight"
    TIERED = "tiered", "Tiered"


class OebPriceSet(models.Model):
    """The RPP prices (¢/kWh) of every plan from one effective date on (province-wide data)."""

    effective = models.DateField(unique=True, help_text="Local date the prices start")
    cents_per_kwh = models.JSONField(help_text="plan -> period or tier -> ¢/kWh")
    source = models.CharField(max_length=300)
    unverified = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = "OEB price set"
        ordering = ["effective"]

    def __str__(self) -> str:
        return f"RPP prices from {self.effective}"

    def as_price_set(self) -> Any:
        from billing.prices import PriceSet

        return PriceSet(
            effective=self.effective,
            cents_per_kwh=self.cents_per_kwh,
            source=self.source,
            unverified=tuple(self.unverified or ()),
        )


class Status(models.TextChoices):
    PENDING = "pending", "Pending"
    COMPLETE = "complete", "Complete"
    RELEASED = "released", "Released"
    # A span the SME computes nothing for: the SDP is not TOU-billed there (not enrolled, or
    # before its group's TOU billing start; meters.registry.enrollment).
    REFUSED = "refused", "Refused"


class BillingBatch(TenantModel):
    """A request for every SDP of one billing cycle and period."""

    public_id = models.CharField(max_length=16, default=new_public_id, unique=True, editable=False)
    cycle = models.ForeignKey(
        "meters.BillingCycle", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    start = models.DateField()
    end = models.DateField()
    requested_by = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sdps = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name_plural = "billing batches"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.cycle or 'batch'} {self.start}..{self.end}"


class BillingQuantityRequest(TenantModel):
    """An SDP's billing period as asked for by a billing system or back-office user."""

    # Indexes, each for a query (a batch writes 10,000 rows at once: every index costs):
    # pk; public_id (unique: pages and API look requests up by it; its varchar_pattern_ops
    # twin, for LIKE, is dropped by migration 0003: nothing searches ids by prefix);
    # (ldc, -created_at): the list page and API, newest first; (ldc, status): the status
    # filter and the dashboard's pending count; one_bq_request: one request per SDP and period,
    # and _requests_existing / the API's exists(); batch: a batch's requests (API, CSV) and
    # SET_NULL when a batch goes; sdp: PROTECT when an SDP is deleted (Django's collector and
    # the foreign-key check ask by sdp_id alone). No index on ldc alone: the (ldc, ...) ones
    # serve every query by LDC.
    ldc = models.ForeignKey("ldc.LDC", on_delete=models.PROTECT, related_name="+", db_index=False)
    public_id = models.CharField(max_length=16, default=new_public_id, unique=True, editable=False)
    sdp = models.ForeignKey(
        "meters.ServiceDeliveryPoint", on_delete=models.PROTECT, related_name="+"
    )
    start = models.DateField(help_text="First local date, inclusive")
    end = models.DateField(help_text="Last local date, inclusive")
    plan = models.CharField(max_length=10, choices=Plan.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    batch = models.ForeignKey(
        BillingBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="requests"
    )
    requested_by = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["ldc", "sdp", "start", "end", "plan"], name="one_bq_request"
            )
        ]
        indexes = [
            models.Index(fields=["ldc", "-created_at"]),
            models.Index(fields=["ldc", "status"]),
        ]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.sdp_id} {self.start}..{self.end} ({self.plan})"


class BillingQuantity(TenantModel):
    """One meter's quantities for a request, one row per version; a released row never changes."""

    # Indexes, each for a query: pk; public_id (unique; its LIKE twin is dropped, as above);
    # (ldc, meter, start): the requests that changed reads touch (services._affected);
    # one_bq_version: one row per version of a meter's span (a span refused before the TOU
    # billing start and the span from it are two), and a request's quantities (_latest, pages);
    # request: CASCADE when a request goes; meter: PROTECT when a meter goes; superseded_by
    # only where set (SET_NULL when a quantity goes asks for ids, never for null). No index on
    # ldc alone: the (ldc, ...) ones serve every query by LDC.
    ldc = models.ForeignKey("ldc.LDC", on_delete=models.PROTECT, related_name="+", db_index=False)
    public_id = models.CharField(max_length=16, default=new_public_id, unique=True, editable=False)
    request = models.ForeignKey(
        BillingQuantityRequest, on_delete=models.CASCADE, related_name="quantities"
    )
    meter = models.ForeignKey("meters.Meter", on_delete=models.PROTECT, related_name="+")
    version = models.PositiveIntegerField(default=1)
    start = models.DateField(help_text="First local date of this meter in the period")
    end = models.DateField(help_text="Last local date of this meter in the period")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    # The SDP's terms this span was computed with (meters.registry.terms; #19).
    plan = models.CharField(max_length=10, choices=Plan.choices, blank=True)
    service_multiplier = models.FloatField(default=1)
    pending_reasons = models.JSONField(default=list, blank=True)
    periods_kwh = models.JSONField(default=dict)
    total_kwh = models.FloatField(default=0)
    # Net metering (#19; O. Reg. 393/07 s. 0.1 "billing quantity data" (b)): a bidirectional
    # SDP's received channel (2) per price period and in total, and delivered minus received.
    received_periods_kwh = models.JSONField(default=dict, blank=True)
    received_total_kwh = models.FloatField(null=True, blank=True)
    net_total_kwh = models.FloatField(null=True, blank=True)
    estimated_share = models.FloatField(default=0)
    quality = models.CharField(max_length=12, default="incomplete")
    register_reads = models.JSONField(default=dict, blank=True)
    intervals_expected = models.PositiveIntegerField(default=0)
    intervals_valid = models.PositiveIntegerField(default=0)
    # What produced the figures (#19): each channel's stored days as runs [first UTC day, last
    # UTC day, version], the plan, multiplier and tier-1 threshold, the RPP calendar, the VEE
    # settings and the price set; --reproduce recomputes from exactly these.
    inputs = models.JSONField(default=dict, blank=True)
    computed_at = models.DateTimeField(default=timezone.now)
    released_at = models.DateTimeField(null=True, blank=True)
    released_by = models.CharField(max_length=200, blank=True)
    # Set on a released row when a later version replaces it: figures stay as released.
    superseded_by = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # see bq_superseded_by: nearly every row is null
    )
    stale_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "billing quantities"
        constraints = [
            models.UniqueConstraint(
                fields=["ldc", "request", "meter", "start", "version"], name="one_bq_version"
            )
        ]
        indexes = [
            models.Index(fields=["ldc", "meter", "start"]),
            models.Index(
                fields=["superseded_by"],
                name="bq_superseded_by",
                condition=models.Q(superseded_by__isnull=False),
            ),
        ]
        ordering = ["request_id", "start", "meter_id", "version"]

    def __str__(self) -> str:
        return f"{self.request} meter {self.meter_id} v{self.version}"

    @property
    def is_released(self) -> bool:
        return self.status == Status.RELEASED

    def figures(self) -> dict[str, Any]:
        """What a billing system bills by: a release or a replacement compares these."""
        return {
            "periods_kwh": self.periods_kwh,
            "total_kwh": self.total_kwh,
            "received_total_kwh": self.received_total_kwh,
            "net_total_kwh": self.net_total_kwh,
            "estimated_share": self.estimated_share,
            "quality": self.quality,
            "complete": self.status not in (Status.PENDING, Status.REFUSED),
        }


class ReplacementNotice(TenantModel):
    """A released quantity was replaced by a new version: the billing system polls these."""

    public_id = models.CharField(max_length=16, default=new_public_id, unique=True, editable=False)
    request = models.ForeignKey(
        BillingQuantityRequest, on_delete=models.CASCADE, related_name="notices"
    )
    replaces = models.ForeignKey(BillingQuantity, on_delete=models.CASCADE, related_name="+")
    quantity = models.ForeignKey(BillingQuantity, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["ldc", "acknowledged_at"])]

    def __str__(self) -> str:
        return f"{self.replaces} -> v{self.quantity.version}"
