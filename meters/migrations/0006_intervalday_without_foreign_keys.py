"""The interval table keeps no foreign-key constraints on PostgreSQL (see IntervalDay).

Checking both keys of every stored day (one lookup each, at commit) took about a fifth of
ingestion time. Instead, deleting a meter or an LDC that still has interval days is refused by a
trigger: the rare side pays, with one index probe. SQLite keeps its constraints (the model state
says db_constraint=False; nothing there is at scale).
"""

from django.db import migrations, models

FORWARD = """
DO $$
DECLARE name text;
BEGIN
    FOR name IN SELECT conname FROM pg_constraint
                WHERE conrelid = 'meters_intervalday'::regclass AND contype = 'f' LOOP
        EXECUTE format('ALTER TABLE meters_intervalday DROP CONSTRAINT %%I', name);
    END LOOP;
END $$;
CREATE FUNCTION meters_intervalday_keep_referenced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'meters_meter' THEN
        IF EXISTS (SELECT 1 FROM meters_intervalday WHERE meter_id = OLD.id) THEN
            RAISE EXCEPTION 'meter %% still has interval days', OLD.id
                USING ERRCODE = 'foreign_key_violation';
        END IF;
    ELSIF EXISTS (SELECT 1 FROM meters_intervalday WHERE ldc_id = OLD.id) THEN
        RAISE EXCEPTION 'LDC %% still has interval days', OLD.id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN OLD;
END $$;
CREATE TRIGGER meters_intervalday_meter_referenced BEFORE DELETE ON meters_meter
    FOR EACH ROW EXECUTE FUNCTION meters_intervalday_keep_referenced();
CREATE TRIGGER meters_intervalday_ldc_referenced BEFORE DELETE ON ldc_ldc
    FOR EACH ROW EXECUTE FUNCTION meters_intervalday_keep_referenced();
"""

BACKWARD = """
DROP TRIGGER meters_intervalday_meter_referenced ON meters_meter;
DROP TRIGGER meters_intervalday_ldc_referenced ON ldc_ldc;
DROP FUNCTION meters_intervalday_keep_referenced();
ALTER TABLE meters_intervalday ADD FOREIGN KEY (ldc_id) REFERENCES ldc_ldc (id)
    DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE meters_intervalday ADD FOREIGN KEY (meter_id) REFERENCES meters_meter (id)
    DEFERRABLE INITIALLY DEFERRED;
"""


def forward(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)  # params=(): a literal % is written %%


def backward(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("meters", "0005_onboarding"), ("ldc", "0004_gui_courses")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="intervalday",
                    name="ldc",
                    field=models.ForeignKey(
                        db_constraint=False,
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
                        on_delete=models.deletion.PROTECT,
                        related_name="+",
                        to="meters.meter",
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(forward, backward)],
        )
    ]
