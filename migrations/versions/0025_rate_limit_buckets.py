"""The residents' page's rate limits shared by every replica (issue 17 §2: shared state is shared).

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-06

``rate_limit_buckets``: one row per limit and client key (``bucket`` names the limit and its rate, e.g.
``general:60/60s``; ``key`` the client's address). ``tat`` is the bucket's "theoretical arrival time"
(GCRA, the token bucket written as one timestamp): the bucket is full when ``tat <= now()``, and a hit
of cost ``c`` moves it ``c`` × (period / capacity) ahead unless that would put it more than a period
ahead (then the hit is refused and the row is left as it was). ``allowed`` is the last hit's outcome,
written by the same statement so the caller reads it back (``resident.ratelimit``).

UNLOGGED: a bucket is not worth a WAL record and a synchronous standby's round trip on every request
of the residents' page; after a crash or a failover the table starts empty (every client with a full
bucket), which is the right failure for a rate limit. A row whose ``tat`` has passed is a full bucket
and is deleted by the next sweep.
"""
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

UP = """
CREATE UNLOGGED TABLE IF NOT EXISTS rate_limit_buckets (
    bucket text NOT NULL,
    key text NOT NULL,
    tat timestamptz NOT NULL,
    allowed boolean NOT NULL DEFAULT true,
    PRIMARY KEY (bucket, key)
);
CREATE INDEX IF NOT EXISTS rate_limit_buckets_tat ON rate_limit_buckets (tat);
"""

DOWN = "DROP TABLE IF EXISTS rate_limit_buckets;"


def upgrade() -> None:
    op.execute(UP)


def downgrade() -> None:
    op.execute(DOWN)
