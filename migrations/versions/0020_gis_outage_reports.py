"""What the ГИС ЖКХ outage export has sent (issue 20): one row per outage exported.

Revision ID: 0020
Revises: 0013
Create Date: 2026-12-06

- ``gis_outage_reports``: per outage, the ``TransportGUID`` of its placing, the ``OutageReportGUID``
  that the service assigned (recorded from its ``getStateResult``; NULL until then), the last
  operation written (``placing``, ``edit``, ``annulment``), the SHA-256 of the report content it
  carried, how many times the outage was written (``sent_version``), when, by whom and to which file.
  A rerun of ``python -m billing outage-report`` compares each outage's content with ``content_hash``
  and writes only what changed (docs/billing.md).
"""
from alembic import op

revision = "0020"
down_revision = "0013"
branch_labels = None
depends_on = None

UP = """
CREATE TABLE IF NOT EXISTS gis_outage_reports (
    outage_id       bigint PRIMARY KEY REFERENCES outages(id) ON DELETE CASCADE,
    transport_guid  uuid NOT NULL CONSTRAINT gis_outage_reports_transport_unique UNIQUE,
    report_guid     uuid CONSTRAINT gis_outage_reports_report_unique UNIQUE,
    operation       text NOT NULL CONSTRAINT gis_outage_reports_operation_check
                    CHECK (operation IN ('placing', 'edit', 'annulment')),
    content_hash    text NOT NULL CONSTRAINT gis_outage_reports_hash_check CHECK (content_hash ~ '^[0-9a-f]{64}$'),
    sent_version    integer NOT NULL DEFAULT 1 CONSTRAINT gis_outage_reports_version_check CHECK (sent_version >= 1),
    first_sent_at   timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz NOT NULL DEFAULT now(),
    sent_by         text NOT NULL CONSTRAINT gis_outage_reports_sent_by_check CHECK (char_length(sent_by) >= 1),
    file            text NOT NULL DEFAULT '',
    nsi_demo        boolean NOT NULL DEFAULT false,
    acknowledged_at timestamptz
);
"""

DOWN = """
DROP TABLE IF EXISTS gis_outage_reports;
"""


def upgrade() -> None:
    op.execute(UP)


def downgrade() -> None:
    op.execute(DOWN)
