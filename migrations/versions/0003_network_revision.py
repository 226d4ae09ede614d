"""networks.revision: bumped whenever a valve's status changes, so cached graphs know they are stale.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    ALTER TABLE networks ADD COLUMN revision integer NOT NULL DEFAULT 0;
    CREATE FUNCTION zhkh_bump_network_revision() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE networks SET revision = revision + 1 WHERE id = NEW.network_id;
        RETURN NEW;
    END $$;
    CREATE TRIGGER valves_status_revision AFTER UPDATE OF status ON valves
        FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
        EXECUTE FUNCTION zhkh_bump_network_revision();
    """)


def downgrade() -> None:
    op.execute("""
    DROP TRIGGER IF EXISTS valves_status_revision ON valves;
    DROP FUNCTION IF EXISTS zhkh_bump_network_revision();
    ALTER TABLE networks DROP COLUMN IF EXISTS revision;
    """)
