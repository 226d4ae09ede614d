"""Core GIS schema: networks, nodes, pipes, valves, buildings, service connections.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

UP = """
CREATE EXTENSION IF NOT EXISTS postgis;

CREATE TABLE networks (
    id          serial PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    resource    text NOT NULL CONSTRAINT networks_resource_check
                CHECK (resource IN ('cold_water', 'hot_water', 'heating', 'gas', 'sewer')),
    source_file text,
    crs         text,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE nodes (
    id          bigserial PRIMARY KEY,
    network_id  integer NOT NULL REFERENCES networks(id) ON DELETE CASCADE,
    ext_id      text NOT NULL,
    kind        text NOT NULL DEFAULT 'junction' CONSTRAINT nodes_kind_check
                CHECK (kind IN ('junction', 'source', 'tank', 'reservoir', 'hydrant')),
    elevation_m double precision,
    geom        geometry(Point, 4326) NOT NULL,
    CONSTRAINT nodes_ext_id_unique UNIQUE (network_id, ext_id)
);
CREATE INDEX nodes_geom_gist ON nodes USING gist (geom);
CREATE INDEX nodes_network_idx ON nodes (network_id);

CREATE TABLE pipes (
    id           bigserial PRIMARY KEY,
    network_id   integer NOT NULL REFERENCES networks(id) ON DELETE CASCADE,
    ext_id       text NOT NULL,
    from_node    bigint NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
    to_node      bigint NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
    kind         text NOT NULL DEFAULT 'pipe' CONSTRAINT pipes_kind_check
                 CHECK (kind IN ('pipe', 'pump', 'control_valve')),
    diameter_mm  double precision CONSTRAINT pipes_diameter_check CHECK (diameter_mm IS NULL OR diameter_mm > 0),
    material     text,
    install_year integer CONSTRAINT pipes_install_year_check
                 CHECK (install_year IS NULL OR install_year BETWEEN 1800 AND 2100),
    length_m     double precision CONSTRAINT pipes_length_check CHECK (length_m IS NULL OR length_m >= 0),
    street       text,
    geom         geometry(LineString, 4326) NOT NULL,
    CONSTRAINT pipes_ext_id_unique UNIQUE (network_id, ext_id)
);
CREATE INDEX pipes_geom_gist ON pipes USING gist (geom);
CREATE INDEX pipes_network_idx ON pipes (network_id);

CREATE TABLE valves (
    id             bigserial PRIMARY KEY,
    network_id     integer NOT NULL REFERENCES networks(id) ON DELETE CASCADE,
    ext_id         text NOT NULL,
    pipe_id        bigint NOT NULL REFERENCES pipes(id) ON DELETE CASCADE,
    node_id        bigint NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
    status         text NOT NULL DEFAULT 'open' CONSTRAINT valves_status_check
                   CHECK (status IN ('open', 'closed', 'inoperable')),
    kind           text NOT NULL DEFAULT 'gate' CONSTRAINT valves_kind_check
                   CHECK (kind IN ('gate', 'butterfly', 'ball', 'other')),
    diameter_mm    double precision,
    last_exercised date,
    geom           geometry(Point, 4326) NOT NULL,
    CONSTRAINT valves_ext_id_unique UNIQUE (network_id, ext_id)
);
CREATE INDEX valves_geom_gist ON valves USING gist (geom);
CREATE INDEX valves_network_idx ON valves (network_id);

CREATE TABLE buildings (
    id             bigserial PRIMARY KEY,
    osm_id         bigint,
    address        text,
    street         text,
    housenumber    text,
    name           text,
    kind           text NOT NULL DEFAULT 'other' CONSTRAINT buildings_kind_check
                   CHECK (kind IN ('residential', 'hospital', 'school', 'kindergarten', 'commercial',
                                   'office', 'public', 'industrial', 'religious', 'other')),
    levels         integer,
    residents      integer NOT NULL DEFAULT 0 CONSTRAINT buildings_residents_check CHECK (residents >= 0),
    address_source text NOT NULL DEFAULT 'derived' CONSTRAINT buildings_address_source_check
                   CHECK (address_source IN ('osm', 'derived', 'imported')),
    dataset        text NOT NULL DEFAULT 'demo',
    geom           geometry(Geometry, 4326) NOT NULL CONSTRAINT buildings_geom_type_check
                   CHECK (GeometryType(geom) IN ('POLYGON', 'MULTIPOLYGON'))
);
CREATE INDEX buildings_geom_gist ON buildings USING gist (geom);
CREATE INDEX buildings_address_idx ON buildings (lower(address) text_pattern_ops);

CREATE TABLE service_connections (
    id          bigserial PRIMARY KEY,
    building_id bigint NOT NULL REFERENCES buildings(id) ON DELETE CASCADE,
    pipe_id     bigint NOT NULL REFERENCES pipes(id) ON DELETE CASCADE,
    network_id  integer NOT NULL REFERENCES networks(id) ON DELETE CASCADE,
    geom        geometry(LineString, 4326) NOT NULL,
    CONSTRAINT service_connections_unique UNIQUE (building_id, network_id)
);
CREATE INDEX service_connections_geom_gist ON service_connections USING gist (geom);
CREATE INDEX service_connections_pipe_idx ON service_connections (pipe_id);
"""

DOWN = """
DROP TABLE IF EXISTS service_connections;
DROP TABLE IF EXISTS buildings;
DROP TABLE IF EXISTS valves;
DROP TABLE IF EXISTS pipes;
DROP TABLE IF EXISTS nodes;
DROP TABLE IF EXISTS networks;
"""


def upgrade() -> None:
    op.execute(UP)


def downgrade() -> None:
    op.execute(DOWN)
