from typing import Any

from django.apps import AppConfig


class MetersConfig(AppConfig):
    name = "meters"

    def ready(self) -> None:
        from meters import signals  # noqa: F401 - connects the receivers
        from meters.vee_service import reads_changed, reads_stored, vee_ran

        for signal, why in ((reads_changed, "edit"), (reads_stored, "load"), (vee_ran, "vee")):
            signal.connect(_forget_read_success, dispatch_uid=f"meters.read_success.{why}")


def _forget_read_success(sender: Any, *, ldc: Any, **kwargs: Any) -> None:
    """Reads of that LDC were stored, estimated or edited: its counted read success is stale."""
    from meters import read_success

    read_success.forget(ldc.pk)
