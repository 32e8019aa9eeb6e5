"""Seed Measurement Canada seal periods and the compliance-sampling plan (data, with source)."""

from django.db import migrations

E26 = (
    "Measurement Canada bulletin E-26 'Reverification periods for electricity meters and "
    "metering installations' (in force since November 2003) sets the initial reverification "
    "(seal) period per meter type. The figure here comes from earlier research (electronic "
    "electricity meters: 8 years, 6 for some types) and is UNVERIFIED: E-26's table was not "
    "found with the search tool. Add a row per meter type as approved."
)
SS06 = (
    "Measurement Canada S-S-06 'Sampling plans for the inspection of isolated lots of meters in "
    "service' (ISO 2859-2 plans indexed by limiting quality, with S-S-01 random sampling); see "
    "also S-01 implementation guide. The lot-size/sample-size/acceptance figures and the "
    "extension here are PLACEHOLDERS, UNVERIFIED: S-S-06's tables were not found with the "
    "search tool; replace them with S-S-06's before relying on a result."
)
PLAN = [
    (1, 150, 20, 0),
    (151, 500, 50, 1),
    (501, 1200, 80, 2),
    (1201, 3200, 125, 3),
    (3201, 10000, 200, 5),
    (10001, None, 315, 7),
]


def seed(apps, schema_editor):
    SealPeriod = apps.get_model("meters", "SealPeriod")
    SamplingPlanRow = apps.get_model("meters", "SamplingPlanRow")
    SealPeriod.objects.update_or_create(
        meter_type="*", defaults={"initial_years": 8, "source": E26}
    )
    if not SamplingPlanRow.objects.exists():
        SamplingPlanRow.objects.bulk_create(
            SamplingPlanRow(
                lot_min=a,
                lot_max=b,
                sample_size=n,
                acceptance_number=ac,
                extension_years=4,
                source=SS06,
            )
            for a, b, n, ac in PLAN
        )


class Migration(migrations.Migration):
    dependencies = [("meters", "0010_i23_meter_seals")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
