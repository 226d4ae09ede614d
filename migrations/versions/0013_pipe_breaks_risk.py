"""Pipe break history and stored break-risk scores (issue 10 §4).

Revision ID: 0013
Revises: 0011
Create Date: 2026-11-27

- ``pipe_breaks``: one row per known break of a pipe: from a burst incident (``incident``), from the
  generated or recorded past (``history``) or from a file (``import``). A pipe, day and source
  appear once (reruns of the demo and of the refresh are idempotent).
- ``pipe_risk``: the last forecast per pipe (``forecast.store``): expected breaks within
  ``horizon_days`` after ``as_of`` and the same per km (the map colours pipes by it).
"""
from alembic import op

revision = "0013"
down_revision = "0011"
branch_labels = None
depends_on = None

UP = """
CREATE TABLE pipe_breaks (
    id           bigserial PRIMARY KEY,
    pipe_id      bigint NOT NULL REFERENCES pipes(id) ON DELETE CASCADE,
    occurred_on  date NOT NULL,
    source       text NOT NULL CONSTRAINT pipe_breaks_source_check
                 CHECK (source IN ('incident', 'history', 'import')),
    incident_id  bigint REFERENCES incidents(id) ON DELETE SET NULL,
    created_by   text NOT NULL CONSTRAINT pipe_breaks_created_by_check CHECK (char_length(created_by) >= 1),
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pipe_breaks_unique UNIQUE (pipe_id, occurred_on, source)
);
CREATE INDEX pipe_breaks_incident_idx ON pipe_breaks (incident_id);

CREATE TABLE pipe_risk (
    pipe_id          bigint PRIMARY KEY REFERENCES pipes(id) ON DELETE CASCADE,
    as_of            date NOT NULL,
    horizon_days     integer NOT NULL CONSTRAINT pipe_risk_horizon_check CHECK (horizon_days > 0),
    expected_breaks  double precision NOT NULL CONSTRAINT pipe_risk_expected_check CHECK (expected_breaks >= 0),
    per_km_year      double precision NOT NULL CONSTRAINT pipe_risk_per_km_check CHECK (per_km_year >= 0),
    computed_at      timestamptz NOT NULL DEFAULT now()
);
"""

DOWN = """
DROP TABLE IF EXISTS pipe_risk;
DROP TABLE IF EXISTS pipe_breaks;
"""


def upgrade() -> None:
    op.execute(UP)


def downgrade() -> None:
    op.execute(DOWN)
