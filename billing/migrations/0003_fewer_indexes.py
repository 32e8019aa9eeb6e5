"""Fewer indexes on the billing tables: a batch writes 10,000 requests and quantities at once and
every index costs on each row (bench/billing.py). Dropped: the index on ldc alone of requests and
quantities (the indexes leading with ldc serve every query by LDC), the varchar_pattern_ops twins
of the public ids (for LIKE: nothing searches ids by prefix); superseded_by is indexed only where
set (nearly every row is null; what asks by it asks for ids). models.py says which query uses
each index kept."""

import django.db.models.deletion
from django.db import migrations, models

# The names Django gave the LIKE twins of the unique public_id columns (PostgreSQL only).
LIKE_INDEXES = {
    "billing_billingquantity": "billing_billingquantity_public_id_19e2783a_like",
    "billing_billingquantityrequest": "billing_billingquantityrequest_public_id_bf6beb17_like",
}


def drop_like_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name in LIKE_INDEXES.values():
            schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")


def create_like_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        qn = schema_editor.quote_name
        for table, name in LIKE_INDEXES.items():
            schema_editor.execute(
                f"CREATE INDEX IF NOT EXISTS {qn(name)} ON {qn(table)} "
                "(public_id varchar_pattern_ops)"
            )


class Migration(migrations.Migration):
    dependencies = [("billing", "0002_seed_oeb_prices")]

    operations = [
        migrations.AlterField(
            model_name="billingquantity",
            name="ldc",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="ldc.ldc",
            ),
        ),
        migrations.AlterField(
            model_name="billingquantity",
            name="superseded_by",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="billing.billingquantity",
            ),
        ),
        migrations.AlterField(
            model_name="billingquantityrequest",
            name="ldc",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="ldc.ldc",
            ),
        ),
        migrations.AddIndex(
            model_name="billingquantity",
            index=models.Index(
                condition=models.Q(("superseded_by__isnull", False)),
                fields=["superseded_by"],
                name="bq_superseded_by",
            ),
        ),
        migrations.RunPython(drop_like_indexes, create_like_indexes),
    ]
