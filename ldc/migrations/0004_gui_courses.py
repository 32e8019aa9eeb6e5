"""The four GUI training courses the SME offers every LDC's staff."""

from django.db import migrations

COURSES = [
    (
        "introduction",
        "Introduction to the MDM/R",
        "What the repository does for the LDC: registry, reads, VEE, billing quantities.",
        90,
        False,
    ),
    (
        "gui-step-by-step",
        "The MDM/R GUI step by step",
        "Every page of the portal an LDC's staff use; completing it gives write access to "
        "production data.",
        180,
        True,
    ),
    (
        "vee-exceptions",
        "Working VEE exceptions",
        "The exception queue, estimates and edits with a reason.",
        120,
        False,
    ),
    (
        "billing-quantities",
        "Billing quantities",
        "Requesting, checking and releasing TOU billing quantities for the CIS.",
        120,
        False,
    ),
]


def seed(apps, schema_editor):
    Course = apps.get_model("ldc", "Course")
    for position, (code, title, description, minutes, required) in enumerate(COURSES, start=1):
        Course.objects.update_or_create(
            code=code,
            defaults={
                "title": title,
                "description": description,
                "duration_minutes": minutes,
                "required_for_write": required,
                "position": position,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("ldc", "0003_onboarding")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
