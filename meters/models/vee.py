"""VEE's stored state: an LDC's parameters and the exception queue."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from meters.models.registry import Meter, ServiceDeliveryPoint, new_public_id
from portal.tenancy import TenantModel


class VeeSettings(TenantModel):
    """An LDC's VEE parameters (overrides of the defaults in meters.vee), edited by its admin."""

    params = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name_plural = "VEE settings"
        constraints = [models.UniqueConstraint(fields=["ldc"], name="one_vee_settings")]

    def __str__(self) -> str:
        return f"VEE settings of {self.ldc_id}"


class VeeException(TenantModel):
    """A validation rule that fired on a meter-day and needs a person: the exception queue."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACCEPTED = "accepted", "Accepted as is"
        ESTIMATED = "estimated", "Estimated"
        EDITED = "edited", "Edited"
        CLEARED = "cleared", "Cleared by new data"

    public_id = models.CharField(max_length=16, default=new_public_id, unique=True, editable=False)
    meter = models.ForeignKey(Meter, on_delete=models.PROTECT, related_name="+")
    sdp = models.ForeignKey(
        ServiceDeliveryPoint, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    channel = models.PositiveSmallIntegerField(default=1)
    day = models.DateField(help_text="UTC day of the interval row")
    rule = models.CharField(max_length=4)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    detail = models.CharField(max_length=500, blank=True)
    intervals = models.PositiveSmallIntegerField(default=0)
    data_version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["ldc", "meter", "channel", "day", "rule"], name="one_exception_per_rule"
            )
        ]
        indexes = [models.Index(fields=["ldc", "status", "day"])]
        ordering = ["-day", "meter_id", "rule"]

    def __str__(self) -> str:
        return f"{self.rule} {self.meter_id} {self.day}"


class VeeFailure(TenantModel):
    """A VEE run that raised (bad settings, a bug): what it was for, why, and its retries.

    Ingestion never stops for it: the reads stay stored, the file says "Loaded, VEE failed" with
    the reason, and beat runs the same meter-days again until they pass (issue 20)."""

    read_file = models.ForeignKey(
        "meters.ReadFile", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    meter_ids = models.JSONField(default=list)
    first_day = models.IntegerField(help_text="UTC day number")
    last_day = models.IntegerField(help_text="UTC day number")
    error = models.TextField()
    attempts = models.PositiveSmallIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    last_tried_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["ldc", "resolved_at"])]
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"VEE failure {self.pk}: {self.error[:60]}"
