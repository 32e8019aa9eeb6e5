"""Seed the OEB-approved Smart Metering Charge rates (data, with their source)."""

from decimal import Decimal

from django.db import migrations

RATES = [
    (
        "2013-05-01",
        "2017-12-31",
        "0.7900",
        "EB-2012-0100",
        "OEB Decision and Order EB-2012-0100 (SME application for a Smart Metering Charge; the "
        "IESO applied for $0.806, notice of 2012-05-24, smi-ieso.ca); $0.79 from 2013-05-01. "
        "The $0.79 figure and its start date are from earlier research, not re-read here.",
    ),
    (
        "2018-01-01",
        "2022-12-31",
        "0.5700",
        "",
        "OEB decision for 2018-2022 (decision number UNVERIFIED: not found with the search "
        "tool). IESO 'Usage Fees' page (Sept 2022) says an interim $0.43 applied until "
        "2022-12-31 after the OEB's approval; its start date is unverified, so not seeded.",
    ),
    (
        "2023-01-01",
        "2027-12-31",
        "0.4200",
        "EB-2022-0137",
        "OEB Decision and Order EB-2022-0137: $0.42 per meter per month from 2023-01-01 to "
        "2027-12-31 (IESO 'Usage Fees' page, Smart Metering Entity Charge).",
    ),
]


def seed(apps, schema_editor):
    SmcRate = apps.get_model("ldc", "SmcRate")
    for start, end, rate, decision, source in RATES:
        SmcRate.objects.update_or_create(
            effective_from=start,
            defaults={
                "effective_to": end,
                "rate": Decimal(rate),
                "decision": decision,
                "source": source,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("ldc", "0005_i23_smart_metering_charge")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
