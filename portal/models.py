"""Accounts and the append-only audit trail."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone


class UserManager(BaseUserManager["User"]):
    """Users are identified by e-mail address."""

    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        if not email:
            raise ValueError("An e-mail address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person: LDC staff, an SME coordinator or a customer (role from Membership/links)."""

    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="Can use the Django admin.")
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    def __str__(self) -> str:
        return self.full_name or self.email

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    def for_ldc(self, ldc: Any) -> AuditEventQuerySet:
        return self.filter(ldc=ldc)

    def update(self, **kwargs: Any) -> int:
        raise TypeError("audit events are append-only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise TypeError("audit events are append-only")


class AuditEvent(models.Model):
    """One state change: who, which LDC, what, before/after, when, from where. Append-only."""

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        "portal.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=200, help_text="Who, kept if the user goes.")
    ldc = models.ForeignKey(
        "ldc.LDC", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    action = models.CharField(max_length=80, db_index=True)
    object_type = models.CharField(max_length=80, blank=True)
    object_id = models.CharField(max_length=120, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    client_address = models.GenericIPAddressField(null=True, blank=True)
    via = models.CharField(max_length=40, blank=True, help_text="web, api token, command, task")

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["ldc", "-at"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} {self.object_repr}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise TypeError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise TypeError("audit events are append-only")


class RolloutMetric(models.TextChoices):
    """The province-wide rollout figures a coordinator can set a target for."""

    METERS_INSTALLED = "meters_installed", "Smart meters installed"
    SDPS_REGISTERED = "sdps_registered", "SDPs registered"
    SDPS_ENROLLED = "sdps_enrolled", "SDPs enrolled"
    TOU_BILLED = "tou_billed", "Customers on TOU billing"


class RolloutTarget(models.Model):
    """A provincial target set by an SME coordinator (e.g. 3.6 million on TOU billing by a date).

    Setting a target adds a row and closes the previous one (``superseded_at``): history is kept.
    """

    metric = models.CharField(max_length=30, choices=RolloutMetric.choices)
    value = models.PositiveBigIntegerField()
    due_date = models.DateField()
    note = models.CharField(max_length=300, blank=True)
    set_by = models.ForeignKey(
        "portal.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    set_at = models.DateTimeField(default=timezone.now)
    superseded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["metric", "-set_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["metric"],
                condition=models.Q(superseded_at__isnull=True),
                name="one_current_target_per_metric",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_metric_display()}: {self.value:,} by {self.due_date}"


class RolloutSnapshot(models.Model):
    """One week's rollout figures for the province (``ldc`` empty) or one LDC (aggregates only)."""

    week = models.DateField(help_text="Monday of the week (local).")
    ldc = models.ForeignKey(
        "ldc.LDC", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    taken_at = models.DateTimeField(default=timezone.now)
    ldcs = models.PositiveIntegerField(default=1)
    customers = models.PositiveBigIntegerField(default=0)
    meters_installed = models.PositiveBigIntegerField(default=0)
    sdps_registered = models.PositiveBigIntegerField(default=0)
    sdps_enrolled = models.PositiveBigIntegerField(default=0)
    tou_billed = models.PositiveBigIntegerField(default=0)
    stage = models.CharField(max_length=20, blank=True)
    in_production = models.PositiveIntegerField(default=0)
    read_success_pct = models.FloatField(null=True, blank=True)  # last 7 days; None: no meters
    open_exceptions = models.PositiveIntegerField(default=0)
    dq_issues = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["week", "ldc_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["week", "ldc"],
                condition=models.Q(ldc__isnull=False),
                name="one_ldc_snapshot_per_week",
            ),
            models.UniqueConstraint(
                fields=["week"],
                condition=models.Q(ldc__isnull=True),
                name="one_province_snapshot_per_week",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.week} {self.ldc_id or 'province'}"
