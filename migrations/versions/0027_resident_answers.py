"""The resident sees the organisation's answer: the resident's rating of a fixed report, and notices of a
report's planned crew visit and of its resolution by the organisation.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07

- ``incidents.resident_rating`` (1–5) and ``resident_rated_at``: the resident's "fixed? — yes" closes the
  report with a rating (the organisations' KPI "residents' rating"; the author is in the audit trail).
- ``notice_outbox.incident_id``: a notice about a report (events ``visit_planned`` — a crew visit planned
  by the responsible organisation — and ``org_resolved`` — the organisation resolved it), written in the
  transaction of the organisation's action; NULL for the outages' notices and confirmation mails.
"""
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

OLD_EVENTS = "('approved', 'extended', 'restored', 'planned', 'cancelled', 'confirm')"
EVENTS = "('approved', 'extended', 'restored', 'planned', 'cancelled', 'confirm', 'visit_planned', 'org_resolved')"

UP = f"""
ALTER TABLE incidents
    ADD COLUMN resident_rating smallint CONSTRAINT incidents_resident_rating_check
        CHECK (resident_rating IS NULL OR resident_rating BETWEEN 1 AND 5),
    ADD COLUMN resident_rated_at timestamptz,
    ADD CONSTRAINT incidents_resident_rated_check CHECK ((resident_rating IS NULL) = (resident_rated_at IS NULL));

ALTER TABLE notice_outbox ADD COLUMN incident_id bigint REFERENCES incidents(id) ON DELETE CASCADE;
ALTER TABLE notice_outbox DROP CONSTRAINT IF EXISTS notice_outbox_event_check;
ALTER TABLE notice_outbox ADD CONSTRAINT notice_outbox_event_check CHECK (event IN {EVENTS});
CREATE INDEX notice_outbox_incident_idx ON notice_outbox (incident_id) WHERE incident_id IS NOT NULL;
"""

DOWN = f"""
DROP INDEX IF EXISTS notice_outbox_incident_idx;
DELETE FROM notice_outbox WHERE event IN ('visit_planned', 'org_resolved');
ALTER TABLE notice_outbox DROP CONSTRAINT IF EXISTS notice_outbox_event_check;
ALTER TABLE notice_outbox ADD CONSTRAINT notice_outbox_event_check CHECK (event IN {OLD_EVENTS});
ALTER TABLE notice_outbox DROP COLUMN incident_id;
ALTER TABLE incidents DROP CONSTRAINT incidents_resident_rated_check, DROP COLUMN resident_rated_at,
    DROP COLUMN resident_rating;
"""


def upgrade() -> None:
    op.execute(UP)


def downgrade() -> None:
    op.execute(DOWN)
