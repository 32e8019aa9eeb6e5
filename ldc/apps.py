from typing import Any

from django.apps import AppConfig


class LdcConfig(AppConfig):
    name = "ldc"
    verbose_name = "LDCs (tenants)"

    def ready(self) -> None:
        from ldc import schema  # noqa: F401 - registers the OpenAPI auth extension
        from meters.vee_service import reads_changed, reads_stored, vee_ran

        reads_changed.connect(_forget_read_success, dispatch_uid="ldc.forget_read_success.edit")
        reads_stored.connect(_forget_read_success, dispatch_uid="ldc.forget_read_success.load")
        vee_ran.connect(_forget_read_success, dispatch_uid="ldc.forget_read_success.vee")


def _forget_read_success(sender: Any, *, ldc: Any, **kwargs: Any) -> None:
    """Reads changed: the dashboard's cached read success of that LDC is stale."""
    from ldc.dashboard import forget_read_success
    from portal import rollout

    forget_read_success(ldc.pk)
    rollout.forget_read_success(ldc.pk)
