"""The registry (SDPs, meters and their effective-dated relationships), read files and intervals."""

from __future__ import annotations

import datetime as dt
import secrets

from django.conf import settings
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

    class Meta:
        constraints = [models.UniqueConstraint(fields=["ldc", "serial"], name="one_meter_serial")]
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


class ReadFile(TenantModel):
    """A delivered meter-read file and the progress and outcome of its ingestion."""

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        PARSING = "parsing", "Checking"
        LOADING = "loading", "Loading"
        LOADED = "loaded", "Loaded"
        REJECTED = "rejected", "Rejected"

    public_id = models.CharField(max_length=16, default=new_public_id, unique=True, editable=False)
    interface = models.CharField(max_length=20)
    sha256 = models.CharField(max_length=64)
    file = models.FileField(upload_to="read_files/%Y/%m/%d/", max_length=300)
    original_name = models.CharField(max_length=255)
    size_bytes = models.BigIntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RECEIVED)
    error = models.TextField(blank=True)
    records = models.PositiveIntegerField(default=0)
    intervals_total = models.BigIntegerField(default=0)
    intervals_accepted = models.BigIntegerField(default=0)
    intervals_rejected = models.BigIntegerField(default=0)
    registers_accepted = models.PositiveIntegerField(default=0)
    batches_total = models.PositiveIntegerField(default=0)
    batches_done = models.PositiveIntegerField(default=0)
    report = models.JSONField(default=dict, blank=True)
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    received_via = models.CharField(max_length=40, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # A worker holds the file while it works on it; a lease that runs out lets another resume.
    lease_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["ldc", "sha256"], name="one_file_per_digest")
        ]
        ordering = ["-received_at"]
        indexes = [models.Index(fields=["ldc", "-received_at"])]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.interface})"

    @property
    def progress_percent(self) -> int:
        if self.status in (self.Status.LOADED, self.Status.REJECTED):
            return 100
        if not self.batches_total:
            return 5 if self.status == self.Status.PARSING else 0
        return 10 + int(90 * self.batches_done / self.batches_total)

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.LOADED, self.Status.REJECTED)


class ReadFileBatch(TenantModel):
    """One load batch of a read file, committed (written in the batch's own transaction).

    A file's batches hold disjoint meters and may commit in any order (two loaders at once);
    a retried file skips the batches recorded here, and queues again the VEE of any batch whose
    worker died between its commit and queuing that VEE (``vee_queued`` still false)."""

    read_file = models.ForeignKey(ReadFile, on_delete=models.CASCADE, related_name="batches")
    number = models.PositiveIntegerField()
    intervals_accepted = models.PositiveIntegerField(default=0)
    intervals_rejected = models.PositiveIntegerField(default=0)
    vee_queued = models.BooleanField(default=False)
    loaded_at = models.DateTimeField(default=timezone.now)
    # The batch's data-collection figures (meters.spool.batch_figures): they add up to the file's.
    figures = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["read_file", "number"], name="one_load_per_batch")
        ]

    def __str__(self) -> str:
        return f"{self.read_file_id} batch {self.number}"


class ReadRejection(TenantModel):
    """Records of an accepted file that broke a business rule, grouped by meter, reason and line."""

    read_file = models.ForeignKey(ReadFile, on_delete=models.CASCADE, related_name="rejections")
    reason = models.CharField(max_length=40)
    meter_serial = models.CharField(max_length=60)
    line = models.PositiveIntegerField(default=0)
    intervals = models.PositiveIntegerField(default=0)
    first_start = models.DateTimeField(null=True)
    last_start = models.DateTimeField(null=True)
    message = models.CharField(max_length=300)

    class Meta:
        ordering = ["read_file_id", "line", "meter_serial"]

    def __str__(self) -> str:
        return f"{self.meter_serial}: {self.message}"


class IntervalDay(TenantModel):
    """One meter channel's intervals for one UTC day, as packed arrays (see DESIGN.md).

    ``wh``/``flags`` are the current values (after VEE and edits); ``raw_wh``/``raw_quality`` are
    the values and head-end quality codes as received (a Quality value, or 255: never received).
    """

    # The natural key is the primary key (migration 0009): no id column, no sequence, and no
    # index besides the key and (ldc, day); each index cost ingestion about a tenth.
    pk = models.CompositePrimaryKey("ldc_id", "meter_id", "channel", "day")
    # No foreign-key constraints in the database (migration 0006): their two checks per stored
    # day cost a fifth of ingestion. Every writer stores days only of meters it resolved in its
    # LDC and holds their row locks (meters.store.lock_meters), and deleting a meter or an LDC
    # that has days is refused by a trigger on PostgreSQL (with one probe of the key), by
    # PROTECT for an LDC and by meters.signals for a meter (DO_NOTHING: Django's own check would
    # look days up by meter alone, which no index serves).
    ldc = models.ForeignKey(
        "ldc.LDC", on_delete=models.PROTECT, related_name="+", db_constraint=False, db_index=False
    )
    meter = models.ForeignKey(
        Meter, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False, db_index=False
    )
    channel = models.PositiveSmallIntegerField(default=1)  # 1 delivered, 2 received
    day = models.DateField()  # UTC
    interval_minutes = models.PositiveSmallIntegerField()
    wh = models.BinaryField()  # int32 little-endian, 1440 // interval_minutes values
    flags = models.BinaryField()  # one uint8 of IntervalFlag bits per interval
    raw_wh = models.BinaryField()  # int32 little-endian, as received
    raw_quality = models.BinaryField()  # uint8 Quality as received, 255 where never received
    # VEE's outcome per interval: estimation method (uint8, meters.vee.Method) and the bits of the
    # validation rules that fired (uint32 little-endian, bit nn = rule Vnn); empty until VEE ran.
    methods = models.BinaryField(default=b"", db_default=b"", blank=True)
    rules = models.BinaryField(default=b"", db_default=b"", blank=True)
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["ldc", "day"])]

    def __str__(self) -> str:
        return f"{self.meter_id}/{self.channel} {self.day}"


class IntervalDayVersion(TenantModel):
    """A superseded version of an interval day, kept when a changed actual replaced it."""

    meter = models.ForeignKey(Meter, on_delete=models.PROTECT, related_name="+")
    channel = models.PositiveSmallIntegerField(default=1)
    day = models.DateField()
    version = models.PositiveIntegerField()
    interval_minutes = models.PositiveSmallIntegerField()
    wh = models.BinaryField()
    flags = models.BinaryField()
    raw_wh = models.BinaryField()
    raw_quality = models.BinaryField()
    superseded_at = models.DateTimeField(default=timezone.now)
    superseded_by_file = models.ForeignKey(
        ReadFile, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["ldc", "meter", "channel", "day", "version"], name="one_day_version"
            )
        ]

    def __str__(self) -> str:
        return f"{self.meter_id}/{self.channel} {self.day} v{self.version}"


class RegisterRead(TenantModel):
    """A cumulative register read of a meter at an instant (for VEE's sum check)."""

    meter = models.ForeignKey(Meter, on_delete=models.PROTECT, related_name="+")
    channel = models.PositiveSmallIntegerField(default=1)
    read_at = models.DateTimeField()
    wh = models.BigIntegerField()
    read_file = models.ForeignKey(ReadFile, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["ldc", "meter", "channel", "read_at"], name="one_register_read"
            )
        ]
        ordering = ["meter_id", "read_at"]

    def __str__(self) -> str:
        return f"{self.meter_id} {self.read_at:%Y-%m-%d %H:%M} {self.wh / 1000:.3f} kWh"


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
