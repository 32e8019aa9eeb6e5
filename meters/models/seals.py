"""Measurement Canada seal tracking: seal periods per meter type, the compliance-sampling plan
and sampling lots (services in meters/seals.py).

Under the Electricity and Gas Inspection Act a meter may stay in service only while its
verification seal is valid; the reverification (seal) period of a meter type is set by
Measurement Canada's bulletin E-26 "Reverification periods for electricity meters and metering
installations", and a homogeneous lot of in-service meters (one make/model, one seal year) may
have its seal extended by compliance sampling under S-S-06 "Sampling plans for the inspection of
isolated lots of meters in service" (ISO 2859-2 plans indexed by limiting quality).
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from portal.tenancy import TenantModel


class SealPeriod(models.Model):
    """The initial seal (reverification) period of a meter type, as data with its source."""

    meter_type = models.CharField(max_length=100, unique=True, help_text="'*' is the default")
    initial_years = models.PositiveSmallIntegerField()
    source = models.TextField()

    def __str__(self) -> str:
        return f"{self.meter_type}: {self.initial_years} years"


class SamplingPlanRow(models.Model):
    """One row of the compliance-sampling plan: lot sizes [lot_min, lot_max] -> sample size n,
    acceptance number Ac (a lot passes with at most Ac non-conforming meters)."""

    lot_min = models.PositiveIntegerField()
    lot_max = models.PositiveIntegerField(null=True, blank=True)
    sample_size = models.PositiveIntegerField()
    acceptance_number = models.PositiveIntegerField()
    extension_years = models.PositiveSmallIntegerField(help_text="Seal extension on a pass")
    source = models.TextField()

    class Meta:
        ordering = ["lot_min"]

    def __str__(self) -> str:
        return f"lots {self.lot_min}-{self.lot_max or '…'}: n={self.sample_size}"


class SamplingLot(TenantModel):
    """A lot of one LDC's meters of one type and seal year, sampled for a seal extension."""

    class Result(models.TextChoices):
        PENDING = "pending", "Pending"
        PASSED = "passed", "Passed"
        FAILED = "failed", "Failed"

    meter_type = models.CharField(max_length=100)
    seal_year = models.PositiveSmallIntegerField()
    lot_size = models.PositiveIntegerField()
    sample_size = models.PositiveIntegerField()
    acceptance_number = models.PositiveIntegerField()
    result = models.CharField(max_length=10, choices=Result.choices, default=Result.PENDING)
    nonconforming = models.PositiveIntegerField(null=True, blank=True)
    seal_expires = models.PositiveSmallIntegerField(help_text="Year the lot's seal expires")
    removal_by = models.DateField(null=True, blank=True, help_text="A failed lot's removal date")
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["seal_year", "meter_type"]
        constraints = [
            models.UniqueConstraint(
                fields=["ldc", "meter_type", "seal_year"], name="one_sampling_lot_per_type_year"
            )
        ]

    def __str__(self) -> str:
        return f"{self.meter_type} sealed {self.seal_year} ({self.lot_size} meters)"
