"""Seed the OEB price sets from billing.prices.PRICE_TABLE (coordinators edit them afterwards)."""

from django.db import migrations


def seed(apps, schema_editor):  # type: ignore[no-untyped-def]
    from billing.prices import PRICE_TABLE

    price_set_model = apps.get_model("billing", "OebPriceSet")
    for price_set in PRICE_TABLE:
        price_set_model.objects.get_or_create(
            effective=price_set.effective,
            defaults={
                "cents_per_kwh": {p: dict(v) for p, v in price_set.cents_per_kwh.items()},
                "source": price_set.source,
                "unverified": list(price_set.unverified),
            },
        )


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
