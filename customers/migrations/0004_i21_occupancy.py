"""Account<->SDP links get move-in and move-out dates (issue 21, occupancy).

The plain many-to-many's table becomes the AccountSdp model's (no table is rebuilt: the state
moves, then two date columns are added). Existing links are given move-in 1970-01-01 (before any
read the repository can hold), which keeps what each account saw, except where several accounts
share one SDP: there the accounts follow each other in the order they were created (the later
one moves in on its creation day, the earlier moves out the day before), so that no two
occupancies of one SDP overlap.
"""

import datetime as dt
from zoneinfo import ZoneInfo

import django.db.models.deletion
from django.db import migrations, models

BEFORE_ANY_READ = dt.date(1970, 1, 1)


def sequence_shared_sdps(apps, schema_editor):
    AccountSdp = apps.get_model("customers", "AccountSdp")
    shared = (
        AccountSdp.objects.values("sdp_id")
        .annotate(n=models.Count("id"))
        .filter(n__gt=1)
        .values_list("sdp_id", flat=True)
    )
    for sdp_id in shared.iterator():
        rows = list(
            AccountSdp.objects.filter(sdp_id=sdp_id)
            .select_related("account", "sdp__ldc")
            .order_by("account__created_at", "pk")
        )
        tz = ZoneInfo(rows[0].sdp.ldc.time_zone)
        for before, after in zip(rows, rows[1:], strict=False):
            moved_in = max(after.account.created_at.astimezone(tz).date(), before.move_in)
            after.move_in = moved_in + dt.timedelta(days=1 if moved_in == before.move_in else 0)
            before.move_out = after.move_in - dt.timedelta(days=1)
        AccountSdp.objects.bulk_update(rows, ["move_in", "move_out"])


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0003_customerinvitation"),
        ("meters", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="AccountSdp",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        (
                            "account",
                            models.ForeignKey(
                                db_column="customeraccount_id",
                                on_delete=django.db.models.deletion.CASCADE,
                                to="customers.customeraccount",
                            ),
                        ),
                        (
                            "sdp",
                            models.ForeignKey(
                                db_column="servicedeliverypoint_id",
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="occupancies",
                                to="meters.servicedeliverypoint",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "occupancy",
                        "verbose_name_plural": "occupancies",
                        "db_table": "customers_customeraccount_sdps",
                        "unique_together": {("account", "sdp")},
                    },
                ),
                migrations.AlterField(
                    model_name="customeraccount",
                    name="sdps",
                    field=models.ManyToManyField(
                        blank=True,
                        related_name="accounts",
                        through="customers.AccountSdp",
                        through_fields=("account", "sdp"),
                        to="meters.servicedeliverypoint",
                    ),
                ),
            ],
            database_operations=[],
        ),
        migrations.AddField(
            model_name="accountsdp",
            name="move_in",
            field=models.DateField(
                default=BEFORE_ANY_READ,
                help_text="First local day of the account at the premises.",
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="accountsdp",
            name="move_out",
            field=models.DateField(
                blank=True,
                help_text="Last local day at the premises (empty: still there).",
                null=True,
            ),
        ),
        migrations.RunPython(sequence_shared_sdps, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="accountsdp",
            index=models.Index(fields=["sdp", "move_in"], name="occupancy_sdp_move_in"),
        ),
        migrations.AddConstraint(
            model_name="accountsdp",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("move_out__isnull", True),
                    ("move_out__gte", models.F("move_in")),
                    _connector="OR",
                ),
                name="occupancy_move_out_after_move_in",
            ),
        ),
    ]
