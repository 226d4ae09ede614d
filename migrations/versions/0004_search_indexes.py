"""Indexes the map and the address search lean on at city scale (docs/performance.md).

- trigram index on buildings.address (pg_trgm, when the server has it) for substring search;
- partial GiST indexes for what the low zooms draw: non-open valves, mains >= 300 mm, non-junction nodes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    DO $$
    BEGIN
        IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm') THEN
            CREATE EXTENSION IF NOT EXISTS pg_trgm;
            CREATE INDEX IF NOT EXISTS buildings_address_trgm ON buildings USING gin (lower(address) gin_trgm_ops);
        END IF;
    END $$;
    CREATE INDEX valves_not_open_geom_gist ON valves USING gist (geom) WHERE status <> 'open';
    CREATE INDEX pipes_mains_geom_gist ON pipes USING gist (geom) WHERE diameter_mm >= 300;
    CREATE INDEX nodes_special_geom_gist ON nodes USING gist (geom) WHERE kind <> 'junction';
    """)


def downgrade() -> None:
    op.execute("""
    DROP INDEX IF EXISTS buildings_address_trgm;
    DROP INDEX IF EXISTS valves_not_open_geom_gist;
    DROP INDEX IF EXISTS pipes_mains_geom_gist;
    DROP INDEX IF EXISTS nodes_special_geom_gist;
    """)
