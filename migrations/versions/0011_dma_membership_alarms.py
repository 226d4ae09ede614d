"""District metered areas: membership, inlet points, nights and leak alarms (issue 10 §2).

Revision ID: 0011
Revises: 0009
Create Date: 2026-11-27

- ``dma_pipes`` / ``dma_buildings``: what a DMA holds (a building belongs to the DMA of the pipe
  its service connection is on; a drawn DMA holds what lies inside its outline).
- ``dma_inlets``: where a ``dma_inlet`` meter sits: on ``pipe_id`` at its end ``node_id``, counting
  water that flows from the node into the pipe (the DMA is on the pipe's side). Derivation cuts the
  network there as it does at normally-closed valves.
- ``dma_flows``: which inlet meters feed a DMA (+1) or carry water on out of it to another (-1).
- ``dma_nights``: the minimum night flow of a DMA and night, its baseline and the verdict.
- ``dma_alarms``: a leak alarm (open while the night flow stays high), with its incident; at most
  one open alarm per DMA.
"""
from alembic import op

revision = "0011"
down_revision = "0009"
branch_labels = None
depends_on = None

UP = """
CREATE TABLE dma_pipes (
    dma_id   integer NOT NULL REFERENCES dmas(id) ON DELETE CASCADE,
    pipe_id  bigint NOT NULL REFERENCES pipes(id) ON DELETE CASCADE,
    PRIMARY KEY (dma_id, pipe_id)
);
CREATE INDEX dma_pipes_pipe_idx ON dma_pipes (pipe_id);

CREATE TABLE dma_buildings (
    dma_id       integer NOT NULL REFERENCES dmas(id) ON DELETE CASCADE,
    building_id  bigint NOT NULL REFERENCES buildings(id) ON DELETE CASCADE,
    PRIMARY KEY (dma_id, building_id)
);
CREATE INDEX dma_buildings_building_idx ON dma_buildings (building_id);

CREATE TABLE dma_inlets (
    meter_id  bigint PRIMARY KEY REFERENCES meters(id) ON DELETE CASCADE,
    pipe_id   bigint NOT NULL REFERENCES pipes(id) ON DELETE CASCADE,
    node_id   bigint NOT NULL REFERENCES nodes(id) ON DELETE CASCADE
);
CREATE INDEX dma_inlets_pipe_idx ON dma_inlets (pipe_id);

CREATE TABLE dma_flows (
    dma_id    integer NOT NULL REFERENCES dmas(id) ON DELETE CASCADE,
    meter_id  bigint NOT NULL REFERENCES meters(id) ON DELETE CASCADE,
    sign      smallint NOT NULL CONSTRAINT dma_flows_sign_check CHECK (sign IN (-1, 1)),
    PRIMARY KEY (dma_id, meter_id)
);

CREATE TABLE dma_nights (
    dma_id        integer NOT NULL REFERENCES dmas(id) ON DELETE CASCADE,
    day           date NOT NULL,
    mnf_m3h       double precision,
    baseline_m3h  double precision,
    verdict       text NOT NULL CONSTRAINT dma_nights_verdict_check
                  CHECK (verdict IN ('no_data', 'learning', 'normal', 'high')),
    checked_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dma_id, day)
);

CREATE TABLE dma_alarms (
    id             bigserial PRIMARY KEY,
    dma_id         integer NOT NULL REFERENCES dmas(id) ON DELETE CASCADE,
    state          text NOT NULL DEFAULT 'open' CONSTRAINT dma_alarms_state_check CHECK (state IN ('open', 'cleared')),
    opened_on      date NOT NULL,
    last_high_on   date NOT NULL,
    cleared_on     date,
    normal_nights  integer NOT NULL DEFAULT 0,
    baseline_m3h   double precision NOT NULL,
    peak_mnf_m3h   double precision NOT NULL,
    incident_id    bigint REFERENCES incidents(id) ON DELETE SET NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX dma_alarms_one_open ON dma_alarms (dma_id) WHERE state = 'open';
CREATE INDEX dma_alarms_incident_idx ON dma_alarms (incident_id);
"""

DOWN = """
DROP TABLE IF EXISTS dma_alarms;
DROP TABLE IF EXISTS dma_nights;
DROP TABLE IF EXISTS dma_flows;
DROP TABLE IF EXISTS dma_inlets;
DROP TABLE IF EXISTS dma_buildings;
DROP TABLE IF EXISTS dma_pipes;
"""


def upgrade() -> None:
    op.execute(UP)


def downgrade() -> None:
    op.execute(DOWN)
