"""IntervalDay is keyed by its natural key (ldc, meter, channel, day): no id, no sequence.

The id column, its sequence and its index, the separate unique constraint on the natural key and
the index on meter_id alone cost ingestion about a third of the time PostgreSQL spent writing
days (bench/ingest.py), and no query needed them: every read of interval days is by LDC and
meter, or by LDC and day. Django's admin cannot show such a model (meters/admin.py). The delete
guard of migration 0006 now finds a meter's days through the key (ldc_id first).
"""

from django.db import migrations, models

PG_FORWARD = """
ALTER TABLE meters_intervalday DROP CONSTRAINT one_interval_day;
ALTER TABLE meters_intervalday DROP CONSTRAINT meters_intervalday_pkey;
ALTER TABLE meters_intervalday
    ADD CONSTRAINT meters_intervalday_pkey PRIMARY KEY (ldc_id, meter_id, channel, day);
DROP INDEX meters_intervalday_meter_id_4edf311c;
ALTER TABLE meters_intervalday DROP COLUMN id;
"""

PG_BACKWARD = """
CREATE SEQUENCE meters_intervalday_pk_seq;
ALTER TABLE meters_intervalday ADD COLUMN id bigint;
UPDATE meters_intervalday SET id = nextval('meters_intervalday_pk_seq');
ALTER TABLE meters_intervalday ALTER COLUMN id SET DEFAULT nextval('meters_intervalday_pk_seq');
ALTER TABLE meters_intervalday ALTER COLUMN id SET NOT NULL;
ALTER SEQUENCE meters_intervalday_pk_seq OWNED BY meters_intervalday.id;
ALTER TABLE meters_intervalday DROP CONSTRAINT meters_intervalday_pkey;
ALTER TABLE meters_intervalday ADD CONSTRAINT meters_intervalday_pkey PRIMARY KEY (id, day);
ALTER TABLE meters_intervalday
    ADD CONSTRAINT one_interval_day UNIQUE (ldc_id, meter_id, channel, day);
CREATE INDEX meters_intervalday_meter_id_4edf311c ON meters_intervalday (meter_id);
"""

GUARD = """
CREATE OR REPLACE FUNCTION meters_intervalday_keep_referenced() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'meters_meter' THEN
        IF EXISTS (SELECT 1 FROM meters_intervalday
                   WHERE ldc_id = OLD.ldc_id AND meter_id = OLD.id) THEN
            RAISE EXCEPTION 'meter %% still has interval days', OLD.id
                USING ERRCODE = 'foreign_key_violation';
        END IF;
    ELSIF EXISTS (SELECT 1 FROM meters_intervalday WHERE ldc_id = OLD.id) THEN
        RAISE EXCEPTION 'LDC %% still has interval days', OLD.id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN OLD;
END $$;
"""

_COLUMNS = (
    '"channel", "day", "interval_minutes", "wh", "flags", "raw_wh", "raw_quality", "version", '
    '"updated_at", "ldc_id", "meter_id", "methods", "rules"'
)
_SQLITE_COLUMNS = """
    "channel" smallint unsigned NOT NULL CHECK ("channel" >= 0),
    "day" date NOT NULL,
    "interval_minutes" smallint unsigned NOT NULL CHECK ("interval_minutes" >= 0),
    "wh" BLOB NOT NULL,
    "flags" BLOB NOT NULL,
    "raw_wh" BLOB NOT NULL,
    "raw_quality" BLOB NOT NULL,
    "version" integer unsigned NOT NULL CHECK ("version" >= 0),
    "updated_at" datetime NOT NULL,
    "ldc_id" bigint NOT NULL REFERENCES "ldc_ldc" ("id") DEFERRABLE INITIALLY DEFERRED,
    "meter_id" bigint NOT NULL REFERENCES "meters_meter" ("id") DEFERRABLE INITIALLY DEFERRED,
    "methods" BLOB DEFAULT X'' NOT NULL,
    "rules" BLOB DEFAULT X'' NOT NULL"""

# SQLite cannot change a primary key in place: the table is rebuilt (it keeps its foreign keys).
SQLITE_FORWARD = [
    f'CREATE TABLE "meters_intervalday__new" ({_SQLITE_COLUMNS}, '
    'PRIMARY KEY ("ldc_id", "meter_id", "channel", "day"))',
    f'INSERT INTO "meters_intervalday__new" ({_COLUMNS}) '  # noqa: S608 - constants
    f'SELECT {_COLUMNS} FROM "meters_intervalday"',
    'DROP TABLE "meters_intervalday"',
    'ALTER TABLE "meters_intervalday__new" RENAME TO "meters_intervalday"',
    'CREATE INDEX "meters_inte_ldc_id_3b45df_idx" ON "meters_intervalday" ("ldc_id", "day")',
]
SQLITE_BACKWARD = [
    'CREATE TABLE "meters_intervalday__new" ('
    f'"id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, {_SQLITE_COLUMNS}, '
    'CONSTRAINT "one_interval_day" UNIQUE ("ldc_id", "meter_id", "channel", "day"))',
    f'INSERT INTO "meters_intervalday__new" ({_COLUMNS}) '  # noqa: S608 - constants
    f'SELECT {_COLUMNS} FROM "meters_intervalday"',
    'DROP TABLE "meters_intervalday"',
    'ALTER TABLE "meters_intervalday__new" RENAME TO "meters_intervalday"',
    'CREATE INDEX "meters_intervalday_ldc_id_5523056b" ON "meters_intervalday" ("ldc_id")',
    'CREATE INDEX "meters_intervalday_meter_id_4edf311c" ON "meters_intervalday" ("meter_id")',
    'CREATE INDEX "meters_inte_ldc_id_3b45df_idx" ON "meters_intervalday" ("ldc_id", "day")',
]


def forward(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_FORWARD)
        schema_editor.execute(GUARD)  # params=(): a literal % is written %%
    else:
        for sql in SQLITE_FORWARD:
            schema_editor.execute(sql)


def backward(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_BACKWARD)
        schema_editor.execute(GUARD.replace("ldc_id = OLD.ldc_id AND meter_id", "meter_id"))
    else:
        for sql in SQLITE_BACKWARD:
            schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("ldc", "0004_gui_courses"), ("meters", "0008_read_file_batch_figures")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveConstraint(model_name="intervalday", name="one_interval_day"),
                migrations.RemoveField(model_name="intervalday", name="id"),
                migrations.AddField(
                    model_name="intervalday",
                    name="pk",
                    field=models.CompositePrimaryKey(
                        "ldc_id",
                        "meter_id",
                        "channel",
                        "day",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                migrations.AlterField(
                    model_name="intervalday",
                    name="ldc",
                    field=models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=models.deletion.PROTECT,
                        related_name="+",
                        to="ldc.ldc",
                    ),
                ),
                migrations.AlterField(
                    model_name="intervalday",
                    name="meter",
                    field=models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=models.deletion.DO_NOTHING,
                        related_name="+",
                        to="meters.meter",
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(forward, backward)],
        )
    ]
