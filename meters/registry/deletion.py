"""A meter that has interval days cannot be deleted.

IntervalDay.meter is DO_NOTHING (its PROTECT would look the days up by meter alone, which no
index serves at scale); this asks once through the primary key (ldc, meter, ...) instead. On
PostgreSQL a trigger refuses the delete too (migrations 0006 and 0009).
"""

from __future__ import annotations

from typing import Any

from django.db.models import ProtectedError
from django.db.models.signals import pre_delete
from django.dispatch import receiver

from meters.models import IntervalDay, Meter


@receiver(pre_delete, sender=Meter, dispatch_uid="meters.keep_meters_with_days")
def keep_meters_with_days(sender: type[Meter], instance: Meter, **kwargs: Any) -> None:
    days = IntervalDay.objects.filter(ldc_id=instance.ldc_id, meter_id=instance.pk)
    first = days.first()
    if first is not None:
        raise ProtectedError(f"Meter {instance.serial} still has interval days.", {first})
