"""Readings and the audit trail partitioned by month (issue 17: data that grows without bound).

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06

- ``meter_readings`` becomes ``PARTITION BY RANGE (ts)``, ``audit_events`` ``PARTITION BY RANGE (at)``: one
  partition per calendar month (UTC), named ``<table>_YYYYMM``, plus a ``<table>_default`` partition that
  takes a row no monthly partition covers (a reading from a meter's far past, a month not created ahead):
  a write never fails for want of a partition.
- ``zhkh_ensure_month_partitions(table, key, from, to)`` creates the months of [from, to) that are
  missing, moving the rows the default partition holds for them; ``zhkh_drop_month_partitions(table,
  before)`` drops the months that end before ``before`` (retention). ``python -m scripts.cluster
  partitions`` runs both (docs/scaling.md); this migration creates every month that has rows and the
  current month and three ahead.
- Primary keys must hold the partition key: ``meter_readings`` keeps ``(meter_id, ts)``;
  ``audit_events`` becomes ``(id, at)`` (ids still come from the same sequence, so they stay unique).
- Existing rows are copied into the new tables in this migration's transaction (writers wait for it).
"""
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

FUNCTIONS = r"""
CREATE OR REPLACE FUNCTION zhkh_ensure_month_partitions(parent text, key text, from_month timestamptz,
                                                        to_month timestamptz) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    m timestamptz := date_trunc('month', from_month AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    next_m timestamptz;
    part text;
    made integer := 0;
BEGIN
    WHILE m < to_month LOOP
        next_m := (((m AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC');
        part := parent || '_' || to_char(m AT TIME ZONE 'UTC', 'YYYYMM');
        IF to_regclass(part) IS NULL THEN
            EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part, parent);
            -- the rows the default partition took for this month move into it before it is attached
            EXECUTE format('WITH moved AS (DELETE FROM %I WHERE %I >= $1 AND %I < $2 RETURNING *) '
                           'INSERT INTO %I SELECT * FROM moved', parent || '_default', key, key, part)
                USING m, next_m;
            EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                           parent, part, m, next_m);
            made := made + 1;
        END IF;
        m := next_m;
    END LOOP;
    RETURN made;
END $$;

CREATE OR REPLACE FUNCTION zhkh_drop_month_partitions(parent text, before timestamptz) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    r record;
    dropped integer := 0;
BEGIN
    FOR r IN
        SELECT c.relname AS part
          FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = parent::regclass AND c.relname ~ ('^' || parent || '_[0-9]{6}$')
           AND ((to_date(right(c.relname, 6), 'YYYYMM')::timestamp + interval '1 month') AT TIME ZONE 'UTC') <= before
    LOOP
        EXECUTE format('ALTER TABLE %I DETACH PARTITION %I', parent, r.part);
        EXECUTE format('DROP TABLE %I', r.part);
        dropped := dropped + 1;
    END LOOP;
    RETURN dropped;
END $$;
"""

UP = FUNCTIONS + r"""
ALTER TABLE meter_readings RENAME TO meter_readings_unpartitioned;
ALTER INDEX meter_readings_pkey RENAME TO meter_readings_unpartitioned_pkey;
CREATE TABLE meter_readings (
    meter_id    bigint NOT NULL REFERENCES meters(id) ON DELETE CASCADE,
    ts          timestamptz NOT NULL,
    total       double precision NOT NULL CONSTRAINT meter_readings_total_check CHECK (total >= 0),
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (meter_id, ts)
) PARTITION BY RANGE (ts);
CREATE TABLE meter_readings_default PARTITION OF meter_readings DEFAULT;
SELECT zhkh_ensure_month_partitions('meter_readings', 'ts', least(min(ts), now()), now() + interval '4 months')
  FROM meter_readings_unpartitioned;
INSERT INTO meter_readings SELECT meter_id, ts, total, received_at FROM meter_readings_unpartitioned;
DROP TABLE meter_readings_unpartitioned;

ALTER TABLE audit_events RENAME TO audit_events_unpartitioned;
ALTER INDEX audit_events_pkey RENAME TO audit_events_unpartitioned_pkey;
ALTER INDEX audit_events_at_idx RENAME TO audit_events_unpartitioned_at_idx;
ALTER INDEX audit_events_actor_idx RENAME TO audit_events_unpartitioned_actor_idx;
ALTER INDEX audit_events_object_idx RENAME TO audit_events_unpartitioned_object_idx;
ALTER SEQUENCE audit_events_id_seq OWNED BY NONE;
CREATE TABLE audit_events (
    id          bigint NOT NULL DEFAULT nextval('audit_events_id_seq'),
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL CONSTRAINT audit_events_actor_check CHECK (char_length(actor) BETWEEN 1 AND 300),
    action      text NOT NULL CONSTRAINT audit_events_action_check
                CHECK (action ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$'),
    object_type text CONSTRAINT audit_events_object_type_check
                CHECK (object_type IS NULL OR object_type ~ '^[a-z][a-z0-9_]{0,39}$'),
    object_id   text,
    reason      text NOT NULL DEFAULT '' CONSTRAINT audit_events_reason_check CHECK (char_length(reason) <= 2000),
    details     jsonb NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (id, at)
) PARTITION BY RANGE (at);
ALTER SEQUENCE audit_events_id_seq OWNED BY audit_events.id;
CREATE INDEX audit_events_at_idx ON audit_events (at DESC, id DESC);
CREATE INDEX audit_events_actor_idx ON audit_events (actor, at DESC);
CREATE INDEX audit_events_object_idx ON audit_events (object_type, object_id, at DESC);
CREATE TABLE audit_events_default PARTITION OF audit_events DEFAULT;
SELECT zhkh_ensure_month_partitions('audit_events', 'at', least(min(at), now()), now() + interval '4 months')
  FROM audit_events_unpartitioned;
INSERT INTO audit_events SELECT id, at, actor, action, object_type, object_id, reason, details
  FROM audit_events_unpartitioned;
DROP TABLE audit_events_unpartitioned;
"""

DOWN = r"""
CREATE TABLE meter_readings_plain (
    meter_id    bigint NOT NULL REFERENCES meters(id) ON DELETE CASCADE,
    ts          timestamptz NOT NULL,
    total       double precision NOT NULL CHECK (total >= 0),
    received_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO meter_readings_plain SELECT meter_id, ts, total, received_at FROM meter_readings;
DROP TABLE meter_readings;
ALTER TABLE meter_readings_plain RENAME TO meter_readings;
ALTER TABLE meter_readings RENAME CONSTRAINT meter_readings_plain_total_check TO meter_readings_total_check;
ALTER TABLE meter_readings RENAME CONSTRAINT meter_readings_plain_meter_id_fkey TO meter_readings_meter_id_fkey;
ALTER TABLE meter_readings ADD CONSTRAINT meter_readings_pkey PRIMARY KEY (meter_id, ts);

ALTER SEQUENCE audit_events_id_seq OWNED BY NONE;
CREATE TABLE audit_events_plain (LIKE audit_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
INSERT INTO audit_events_plain SELECT * FROM audit_events;
DROP TABLE audit_events;
ALTER TABLE audit_events_plain RENAME TO audit_events;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_pkey PRIMARY KEY (id);
ALTER SEQUENCE audit_events_id_seq OWNED BY audit_events.id;
CREATE INDEX audit_events_at_idx ON audit_events (at DESC, id DESC);
CREATE INDEX audit_events_actor_idx ON audit_events (actor, at DESC);
CREATE INDEX audit_events_object_idx ON audit_events (object_type, object_id, at DESC);

DROP FUNCTION IF EXISTS zhkh_drop_month_partitions(text, timestamptz);
DROP FUNCTION IF EXISTS zhkh_ensure_month_partitions(text, text, timestamptz, timestamptz);
"""


def upgrade() -> None:
    op.execute(UP)


def downgrade() -> None:
    op.execute(DOWN)
