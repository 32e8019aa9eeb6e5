"""The registry: SDPs, meters, head-ends, billing agents and cycles, and their effective-dated
relationships (which meter is installed at which SDP when)."""

from __future__ import annotations

import datetime as dt
import secrets

from django.db import models
from django.utils import timezone

from portal.tenancy import TenantModel


def new_public_id() -> str:
    return secrets.token_hex(8)


class RateClass(models.TextChoices):
    RESIDENTIAL = "residential", "Residential"
    GS_LT_50 = "gs_lt_50", "General service < 50 kW"


class CommodityRateClass(models.TextChoices):
    TOU = "tou", "Time-of-use"
    ULO = "ulo", "Ultra-low overnight"
    TIERED = "tiered", "Tiered"


class AmiHeadend(TenantModel):
    """An AMI head-end (AMCC) of the LDC that collects reads and sends files."""

    code = models.CharField(max_length=40)
    name = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["ldc", "code"], name="one_headend_code")]
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class BillingAgent(TenantModel):
    """A billing agent acting for the LDC."""

    code = models.CharField(max_length=40)
    name = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["ldc", "code"], name="one_agent_code")]
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class BillingCycle(TenantModel):
    """A billing-cycle schedule: SDPs in it are billed for periods ending on ``read_day``."""

    code = models.CharField(max_length=40)
    name = models.CharField(max_length=200, blank=True)
    read_day = models.PositiveSmallIntegerField(default=1, help_text="Day of month the period ends")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["ldc", "code"], name="one_cycle_code")]
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class ServiceDeliveryPoint(TenantModel):
    """Where a customer takes electricity; the meter installed there can change."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        INACTIVE = "inactive", "Inactive"

    sdp_id = models.CharField("SDP id", max_length=60)
    rate_class = models.CharField(max_length=20, choices=RateClass.choices, blank=True)
    commodity_rate_class = models.CharField(
        max_length=20, choices=CommodityRateClass.choices, blank=True
    )
    postal_code = models.CharField(max_length=10, blank=True)
    service_multiplier = models.DecimalField(max_digits=10, decimal_places=4, default=1)
    bidirectional = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    billing_cycle = models.ForeignKey(
        BillingCycle, null=True, blank=True, on_delete=models.SET_NULL, related_name="sdps"
    )
    # MDM/R enrollment (set by the enrollment-group services): enrolled in the repository on,
    # and billed by TOU from (the group's TOU billing start).
    enrolled_on = models.DateField(null=True, blank=True)
    tou_billing_from = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "service delivery point"
        constraints = [models.UniqueConstraint(fields=["ldc", "sdp_id"], name="one_sdp_id")]
        ordering = ["sdp_id"]

    def __str__(self) -> str:
        return self.sdp_id


class Meter(TenantModel):
    """A smart meter, known by its serial (the id the head-end's files carry)."""

    serial = models.CharField(max_length=60)
    manufacturer = models.CharField(max_length=100, blank=True)
    headend = models.ForeignKey(
        AmiHeadend, null=True, blank=True, on_delete=models.SET_NULL, related_name="meters"
    )
    created_at = models.DateTimeField(default=timezone.now)
    # Measurement Canada (#23): the approved type/model and the year of its verification seal
    # (registry CSV columns ``meter_type``, ``seal_year``); seal expiry: meters/seals.py.
    meter_type = models.CharField(max_length=100, blank=True)
    seal_year = models.PositiveSmallIntegerField(null=True, blank=True)
    # The id a data source uses for the meter when it is not the serial (#18): a Green Button
    # UsagePoint key (``User/9b6c7063/UsagePoint/01``), an IEC 61968-9 Meter mRID. A read
    # resolves by serial or by external_id (meters.reads.resolve); unique in the LDC when set.
    external_id = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["ldc", "serial"], name="one_meter_serial"),
            models.UniqueConstraint(
                fields=["ldc", "external_id"],
                condition=~models.Q(external_id=""),
                name="one_meter_external_id",
            ),
        ]
        ordering = ["serial"]

    def __str__(self) -> str:
        return self.serial


class EffectiveDated(TenantModel):
    """A relationship valid on local days ``[effective_from, effective_to]`` (open while null)."""

    effective_from = models.DateField()
    effective_to = models.DateField(null=True, blank=True)

    class Meta:
        abstract = True

    def is_active_on(self, day: dt.date) -> bool:
        return self.effective_from <= day and (
            self.effective_to is None or day <= self.effective_to
        )


class MeterInstallation(EffectiveDated):
    """SDP <-> meter: a meter exchange is a new row, never an edit of the old one."""

    sdp = models.ForeignKey(ServiceDeliveryPoint, on_delete=models.PROTECT, related_name="installs")
    meter = models.ForeignKey(Meter, on_delete=models.PROTECT, related_name="installs")

    class Meta:
        ordering = ["sdp_id", "effective_from"]
        indexes = [models.Index(fields=["ldc", "meter", "effective_from"])]

    def __str__(self) -> str:
        return f"{self.sdp} <- {self.meter} from {self.effective_from}"


class SdpHeadend(EffectiveDated):
    """SDP <-> AMI head-end that sends its reads."""

    sdp = models.ForeignKey(ServiceDeliveryPoint, on_delete=models.PROTECT, related_name="headends")
    headend = models.ForeignKey(AmiHeadend, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["sdp_id", "effective_from"]

    def __str__(self) -> str:
        return f"{self.sdp} via {self.headend} from {self.effective_from}"


class SdpBillingAgent(EffectiveDated):
    """SDP <-> billing agent acting for the LDC."""

    sdp = models.ForeignKey(ServiceDeliveryPoint, on_delete=models.PROTECT, related_name="agents")
    agent = models.ForeignKey(BillingAgent, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["sdp_id", "effective_from"]

    def __str__(self) -> str:
        return f"{self.sdp} billed by {self.agent} from {self.effective_from}"


class SdpTerms(TenantModel):
    """An SDP's billing terms from ``effective_from`` until the next row's: a change is a new
    row from its date, never an edit of the past (the SDP's own columns mirror today's)."""

    sdp = models.ForeignKey(ServiceDeliveryPoint, on_delete=models.CASCADE, related_name="terms")
    effective_from = models.DateField(help_text="First local date these terms apply")
    rate_class = models.CharField(
        "distributor rate class", max_length=20, choices=RateClass.choices, blank=True
    )
    commodity_rate_class = models.CharField(
        max_length=20, choices=CommodityRateClass.choices, blank=True
    )
    service_multiplier = models.DecimalField(max_digits=10, decimal_places=4, default=1)
    billing_cycle = models.ForeignKey(
        BillingCycle, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    billing_agent = models.ForeignKey(
        BillingAgent, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    source = models.CharField(max_length=200, blank=True, help_text="registry file, api, ...")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "SDP terms"
        verbose_name_plural = "SDP terms"
        constraints = [
            models.UniqueConstraint(
                fields=["ldc", "sdp", "effective_from"], name="one_sdp_terms_per_day"
            )
        ]
        ordering = ["sdp_id", "effective_from"]

    def __str__(self) -> str:
        return f"{self.sdp_id} terms from {self.effective_from}"
