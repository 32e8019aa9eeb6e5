"""Read files, their batches and rejected records, interval days (and their kept versions) and
register reads."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from meters.models.registry import Meter, new_public_id
from portal.tenancy import TenantModel


class ReadFile(TenantModel):
    """A delivered meter-read file and the progress and outcome of its ingestion."""

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        PARSING = "parsing", "Checking"
        LOADING = "loading", "Loading"
        LOADED = "loaded", "Loaded"
        # Every batch stored, but VEE of some of them failed: the reason is a VeeFailure of the
        # file (retried by beat until it runs); the reads are kept, never lost (issue 20).
        VEE_FAILED = "vee_failed", "Loaded, VEE failed"
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
        if self.is_finished:
            return 100
        if not self.batches_total:
            return 5 if self.status == self.Status.PARSING else 0
        return 10 + int(90 * self.batches_done / self.batches_total)

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.LOADED, self.Status.VEE_FAILED, self.Status.REJECTED)


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
