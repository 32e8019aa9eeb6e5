"""On PostgreSQL, IntervalDay becomes a table partitioned by month of ``day`` (DESIGN.md).

Keys lead with (ldc, meter, day) so the table can later be distributed by LDC. Partitions are
created as months appear (meters.store.ensure_partitions). SQLite keeps the plain table.
"""

from django.db import migrations

FORWARD = """
CREATE SEQUENCE meters_intervalday_pk_seq;
CREATE TABLE meters_intervalday_new (
    id bigint NOT NULL DEFAULT nextval('meters_intervalday_pk_seq'),
    channel smallint NOT NULL CHECK (channel >= 0),
    day date NOT NULL,
    interval_minutes smallint NOT NULL CHECK (interval_minutes >= 0),
    wh bytea NOT NULL,
    flags bytea NOT NULL,
    raw_wh bytea NOT NULL,
    raw_quality bytea NOT NULL,
    version integer NOT NULL CHECK (version >= 0),
    updated_at timestamp with time zone NOT NULL,
    ldc_id bigint NOT NULL REFERENCES ldc_ldc (id) DEFERRABLE INITIALLY DEFERRED,
    meter_id bigint NOT NULL REFERENCES meters_meter (id) DEFERRABLE INITIALLY DEFERRED,
    CONSTRAINT meters_intervalday_new_pkey PRIMARY KEY (id, day),
    CONSTRAINT one_interval_day_new UNIQUE (ldc_id, meter_id, channel, day)
) PARTITION BY RANGE (day);
DO $$
DECLARE month date;
BEGIN
    FOR month IN SELECT DISTINCT date_trunc('month', day)::date FROM meters_intervalday LOOP
        EXECUTE format(
            'CREATE TABLE meters_intervalday_%%s PARTITION OF meters_intervalday_new '
            'FOR VALUES FROM (%%L) TO (%%L) WITH (fillfactor = 60)',
            to_char(month, 'YYYYMM'), month, (month + interval '1 month')::date);
    END LOOP;
END $$;
INSERT INTO meters_intervalday_new SELECT id, channel, day, interval_minutes, wh, flags, raw_wh,
    raw_quality, version, updated_at, ldc_id, meter_id FROM meters_intervalday;
SELECT setval('meters_intervalday_pk_seq',
              COALESCE((SELECT max(id) FROM meters_intervalday_new), 0) + 1, false);
DROP TABLE meters_intervalday;
ALTER TABLE meters_intervalday_new RENAME TO meters_intervalday;
ALTER TABLE meters_intervalday RENAME CONSTRAINT meters_intervalday_new_pkey TO meters_intervalday_pkey;
ALTER TABLE meters_intervalday RENAME CONSTRAINT one_interval_day_new TO one_interval_day;
ALTER SEQUENCE meters_intervalday_pk_seq OWNED BY meters_intervalday.id;
CREATE INDEX meters_inte_ldc_id_3b45df_idx ON meters_intervalday (ldc_id, day);
CREATE INDEX meters_intervalday_meter_id_4edf311c ON meters_intervalday (meter_id);
"""


def partition(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)  # params=(): a literal % is written %%


class Migration(migrations.Migration):
    dependencies = [("meters", "0002_initial")]

    operations = [migrations.RunPython(partition, migrations.RunPython.noop)]
