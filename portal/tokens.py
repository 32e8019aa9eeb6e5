"""Machine API tokens: a key per client (CIS, AMI head-end) of one LDC, with a role.

The model belongs to the ``ldc`` app (its table and migrations) and lives in the foundation, where
authentication and access read it.
"""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from portal.tenancy import LDC_ROLES, Role, TenantModel

TOKEN_PREFIX = "omdr"  # noqa: S105 - a public marker, not a secret


def _hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiToken(TenantModel):
    """A machine client's key (CIS, AMI head-end) for one LDC, with a role. Only a hash is kept."""

    name = models.CharField(max_length=100)
    role = models.CharField(
        max_length=30, choices=[(r.value, r.label) for r in LDC_ROLES], default=Role.AMI_OPERATOR
    )
    key_id = models.CharField(max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "ldc"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_id})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @staticmethod
    def new_key() -> tuple[str, str, str]:
        """A fresh (key_id, secret, full key); the full key is shown once, never stored."""
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        return key_id, secret, f"{TOKEN_PREFIX}_{key_id}_{secret}"

    def set_secret(self, secret: str) -> None:
        self.key_hash = _hash_key(secret)

    def matches(self, secret: str) -> bool:
        return secrets.compare_digest(self.key_hash, _hash_key(secret))
