from typing import Any

from django.apps import AppConfig


class MetersConfig(AppConfig):
    name = "meters"

    def ready(self) -> None:
        # The tasks register in every process: services queue them by name (portal.queue).
        from meters.reads import tasks as _reads_tasks  # noqa: F401
        from meters.registry import deletion  # noqa: F401 - connects its receiver
        from meters.signals import reads_changed, reads_stored, vee_ran
        from meters.vee import tasks as _vee_tasks  # noqa: F401

        for signal, why in ((reads_changed, "edit"), (reads_stored, "load"), (vee_ran, "vee")):
            signal.connect(_forget_read_success, dispatch_uid=f"meters.read_success.{why}")


def _forget_read_success(
    sender: Any,
    *,
    ldc: Any,
    first_day: int | None = None,
    last_day: int | None = None,
    starts: Any = None,
    **kwargs: Any,
) -> None:
    """Reads of that LDC were stored, estimated or edited: the read success of the days they
    touched (UTC day numbers, or the edited intervals' starts) is stale."""
    from meters import read_success

    if starts is not None and len(starts):
        first_day, last_day = int(min(starts)) // 86_400, int(max(starts)) // 86_400
    read_success.forget(ldc, first_day, last_day)
