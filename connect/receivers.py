"""What Connect My Data does when meters announce stored reads: notify the third parties of the
consents those reads belong to (connect.notify). Connected in connect.apps."""

from __future__ import annotations

from typing import Any


def on_reads_stored(sender: Any, *, ldc: Any, meter_ids: list[int], **kwargs: Any) -> None:
    from connect.notify import notifications_queue

    notifications_queue(ldc=ldc, meter_ids=list(meter_ids))


def on_reads_changed(sender: Any, *, ldc: Any, meter_id: int, **kwargs: Any) -> None:
    from connect.notify import notifications_queue

    notifications_queue(ldc=ldc, meter_ids=[int(meter_id)])


def connect() -> None:
    from meters.signals import reads_changed, reads_stored

    reads_stored.connect(on_reads_stored, dispatch_uid="connect.on_reads_stored")
    reads_changed.connect(on_reads_changed, dispatch_uid="connect.on_reads_changed")
