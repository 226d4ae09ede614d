"""Incidents, their audit events, outages (approved shutoffs) and API keys.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26

Vocabularies (mirrored in ``incidents/workflow.py`` and ``incidents/sla.py``):

- category: burst, no_water, low_pressure, no_heating, sewer, electricity, elevator, repair, other
- resource: cold_water, hot_water, heating, gas, sewer, electricity, none
  (the utility the report is about; ``none`` for elevators, roofs, glass...)
- priority: emergency, urgent, routine
- status: new, accepted, dispatched, in_progress, resolved, closed, rejected, duplicate, cancelled
- channel: phone, app, portal, sensor, api
- outage state: planned, active, restored, cancelled

SLA state (on_time/at_risk/overdue/met/breached) is never stored: it is computed from the
timestamps here and the rules file (``incidents/sla.py``).
"""
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UP = """
CREATE TABLE api_keys (
    id          serial PRIMARY KEY,
    name        text NOT NULL CONSTRAINT api_keys_name_check CHECK (char_length(name) BETWEEN 1 AND 200),
    key_hash    text NOT NULL CONSTRAINT api_keys_hash_unique UNIQUE
                CONSTRAINT api_keys_hash_check CHECK (key_hash ~ '^[0-9a-f]{64}$'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

CREATE TABLE incidents (
    id             bigserial PRIMARY KEY,
    category       text NOT NULL CONSTRAINT incidents_category_check
                   CHECK (category IN ('burst', 'no_water', 'low_pressure', 'no_heating', 'sewer',
                                       'electricity', 'elevator', 'repair', 'other')),
    resource       text NOT NULL DEFAULT 'none' CONSTRAINT incidents_resource_check
                   CHECK (resource IN ('cold_water', 'hot_water', 'heating', 'gas', 'sewer',
                                       'electricity', 'none')),
    priority       text NOT NULL DEFAULT 'routine' CONSTRAINT incidents_priority_check
                   CHECK (priority IN ('emergency', 'urgent', 'routine')),
    status         text NOT NULL DEFAULT 'new' CONSTRAINT incidents_status_check
                   CHECK (status IN ('new', 'accepted', 'dispatched', 'in_progress', 'resolved',
                                     'closed', 'rejected', 'duplicate', 'cancelled')),
    channel        text NOT NULL DEFAULT 'phone' CONSTRAINT incidents_channel_check
                   CHECK (channel IN ('phone', 'app', 'portal', 'sensor', 'api')),
    service_code   text NOT NULL,
    geom           geometry(Point, 4326) NOT NULL,
    address        text,
    building_id    bigint REFERENCES buildings(id) ON DELETE SET NULL,
    pipe_id        bigint REFERENCES pipes(id) ON DELETE SET NULL,
    network_id     integer REFERENCES networks(id) ON DELETE SET NULL,
    description    text NOT NULL DEFAULT '' CONSTRAINT incidents_description_check
                   CHECK (char_length(description) <= 4000),
    reporter_name  text,
    reporter_phone text,
    reporter_email text,
    media_url      text,
    attributes     jsonb NOT NULL DEFAULT '{}'::jsonb,
    duplicate_of   bigint REFERENCES incidents(id) ON DELETE SET NULL
                   CONSTRAINT incidents_not_own_duplicate CHECK (duplicate_of IS NULL OR duplicate_of <> id),
    outage_id      bigint,
    api_key_id     integer REFERENCES api_keys(id) ON DELETE SET NULL,
    client_token   text CONSTRAINT incidents_client_token_unique UNIQUE,
    version        integer NOT NULL DEFAULT 1 CONSTRAINT incidents_version_check CHECK (version >= 1),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    accepted_at    timestamptz,
    resolved_at    timestamptz,
    closed_at      timestamptz
);
CREATE INDEX incidents_geom_gist ON incidents USING gist (geom);
CREATE INDEX incidents_created_idx ON incidents (created_at DESC);
CREATE INDEX incidents_open_idx ON incidents (category, created_at)
    WHERE status IN ('new', 'accepted', 'dispatched', 'in_progress');
CREATE INDEX incidents_building_idx ON incidents (building_id);
CREATE INDEX incidents_outage_idx ON incidents (outage_id);

CREATE TABLE incident_events (
    id          bigserial PRIMARY KEY,
    incident_id bigint NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL CONSTRAINT incident_events_actor_check CHECK (char_length(actor) >= 1),
    from_status text CONSTRAINT incident_events_from_check
                CHECK (from_status IS NULL OR from_status IN ('new', 'accepted', 'dispatched', 'in_progress',
                       'resolved', 'closed', 'rejected', 'duplicate', 'cancelled')),
    to_status   text NOT NULL CONSTRAINT incident_events_to_check
                CHECK (to_status IN ('new', 'accepted', 'dispatched', 'in_progress', 'resolved',
                                     'closed', 'rejected', 'duplicate', 'cancelled')),
    note        text NOT NULL DEFAULT ''
);
CREATE INDEX incident_events_incident_idx ON incident_events (incident_id, at);

CREATE TABLE outages (
    id                 bigserial PRIMARY KEY,
    network_id         integer REFERENCES networks(id) ON DELETE SET NULL,
    state              text NOT NULL DEFAULT 'planned' CONSTRAINT outages_state_check
                       CHECK (state IN ('planned', 'active', 'restored', 'cancelled')),
    reason             text NOT NULL DEFAULT '',
    incident_id        bigint REFERENCES incidents(id) ON DELETE SET NULL,
    pipe_ids           bigint[] NOT NULL DEFAULT '{}',
    unintended_pipe_ids bigint[] NOT NULL DEFAULT '{}',
    valve_ids          bigint[] NOT NULL DEFAULT '{}',
    optional_valve_ids bigint[] NOT NULL DEFAULT '{}',
    geom               geometry(Geometry, 4326),
    planned_start      timestamptz NOT NULL DEFAULT now(),
    planned_end        timestamptz NOT NULL,
    actual_start       timestamptz,
    actual_end         timestamptz,
    created_by         text NOT NULL,
    approved_by        text NOT NULL,
    started_by         text,
    ended_by           text,
    version            integer NOT NULL DEFAULT 1,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT outages_planned_order_check CHECK (planned_end >= planned_start),
    CONSTRAINT outages_actual_order_check CHECK (actual_end IS NULL OR actual_start IS NULL OR actual_end >= actual_start)
);
CREATE INDEX outages_geom_gist ON outages USING gist (geom);
CREATE INDEX outages_state_idx ON outages (state);

CREATE TABLE outage_buildings (
    outage_id   bigint NOT NULL REFERENCES outages(id) ON DELETE CASCADE,
    building_id bigint NOT NULL REFERENCES buildings(id) ON DELETE CASCADE,
    unintended  boolean NOT NULL DEFAULT false,
    PRIMARY KEY (outage_id, building_id)
);
CREATE INDEX outage_buildings_building_idx ON outage_buildings (building_id);

ALTER TABLE incidents ADD CONSTRAINT incidents_outage_fk
    FOREIGN KEY (outage_id) REFERENCES outages(id) ON DELETE SET NULL;
"""

DOWN = """
ALTER TABLE IF EXISTS incidents DROP CONSTRAINT IF EXISTS incidents_outage_fk;
DROP TABLE IF EXISTS outage_buildings;
DROP TABLE IF EXISTS outages;
DROP TABLE IF EXISTS incident_events;
DROP TABLE IF EXISTS incidents;
DROP TABLE IF EXISTS api_keys;
"""


def upgrade() -> None:
    op.execute(UP)


def downgrade() -> None:
    op.execute(DOWN)
