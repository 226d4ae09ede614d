"""Crews in the field (the phone page, ``python -m field serve``): two more work-order events, where and when
a crew acted and took its photos, and the crews' marks on an outage's valve sheet.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07

- ``work_order_events.kind``: also ``on_the_way`` and ``arrived`` (a crew's own steps; they change no
  organisation state). ``lat``/``lon``: where the phone was (geolocation, when the crew allowed it);
  ``done_at``: when the crew acted by the phone's clock (an action queued offline is sent later).
- ``work_order_photos``: ``taken_at``, ``lat``, ``lon`` — the only metadata kept of a photo (the phone
  resizes it and drops its EXIF, the server re-encodes it); sent as fields, never read from the image.
- ``valve_field_reports``: a crew's mark on a valve of an outage — ``closed`` or ``stuck`` ("will not
  close"), with its client-chosen ``event_id`` (unique per organisation: stored once), when and where;
  a ``stuck`` mark waits (``pending``) until the service's dispatcher approves the re-plan (``approved``).
"""
from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None

KINDS = "('accepted', 'assigned', 'visit_planned', 'resolved', 'returned', 'on_the_way', 'arrived')"
OLD_KINDS = "('accepted', 'assigned', 'visit_planned', 'resolved', 'returned')"

UP = f"""
ALTER TABLE work_order_events DROP CONSTRAINT work_order_events_kind_check;
ALTER TABLE work_order_events ADD CONSTRAINT work_order_events_kind_check CHECK (kind IN {KINDS});
ALTER TABLE work_order_events
    ADD COLUMN done_at timestamptz,
    ADD COLUMN lat double precision CONSTRAINT work_order_events_lat_check CHECK (lat BETWEEN -90 AND 90),
    ADD COLUMN lon double precision CONSTRAINT work_order_events_lon_check CHECK (lon BETWEEN -180 AND 180);
ALTER TABLE work_order_photos
    ADD COLUMN taken_at timestamptz,
    ADD COLUMN lat double precision CONSTRAINT work_order_photos_lat_check CHECK (lat BETWEEN -90 AND 90),
    ADD COLUMN lon double precision CONSTRAINT work_order_photos_lon_check CHECK (lon BETWEEN -180 AND 180);

CREATE TABLE valve_field_reports (
    id          bigserial PRIMARY KEY,
    event_id    text NOT NULL CONSTRAINT valve_field_reports_event_id_check CHECK (event_id ~ '^[A-Za-z0-9._:-]{{1,100}}$'),
    org_id      integer NOT NULL REFERENCES organisations(id) ON DELETE RESTRICT,
    outage_id   bigint NOT NULL REFERENCES outages(id) ON DELETE CASCADE,
    valve_id    bigint NOT NULL REFERENCES valves(id) ON DELETE CASCADE,
    kind        text NOT NULL CONSTRAINT valve_field_reports_kind_check CHECK (kind IN ('closed', 'stuck')),
    note        text NOT NULL DEFAULT '' CONSTRAINT valve_field_reports_note_check CHECK (char_length(note) <= 1000),
    done_at     timestamptz NOT NULL,
    lat         double precision CONSTRAINT valve_field_reports_lat_check CHECK (lat BETWEEN -90 AND 90),
    lon         double precision CONSTRAINT valve_field_reports_lon_check CHECK (lon BETWEEN -180 AND 180),
    author      text NOT NULL CONSTRAINT valve_field_reports_author_check CHECK (char_length(author) BETWEEN 1 AND 300),
    at          timestamptz NOT NULL DEFAULT now(),
    state       text NOT NULL DEFAULT 'recorded'
                CONSTRAINT valve_field_reports_state_check CHECK (state IN ('recorded', 'pending', 'approved')),
    decided_by  text,
    decided_at  timestamptz,
    CONSTRAINT valve_field_reports_event_id_unique UNIQUE (org_id, event_id)
);
CREATE INDEX valve_field_reports_outage_idx ON valve_field_reports (outage_id, at);
"""

DOWN = f"""
DROP TABLE IF EXISTS valve_field_reports;
ALTER TABLE work_order_photos DROP COLUMN taken_at, DROP COLUMN lat, DROP COLUMN lon;
ALTER TABLE work_order_events DROP COLUMN done_at, DROP COLUMN lat, DROP COLUMN lon;
DELETE FROM work_order_events WHERE kind IN ('on_the_way', 'arrived');
ALTER TABLE work_order_events DROP CONSTRAINT work_order_events_kind_check;
ALTER TABLE work_order_events ADD CONSTRAINT work_order_events_kind_check CHECK (kind IN {OLD_KINDS});
"""


def upgrade() -> None:
    op.execute(UP)


def downgrade() -> None:
    op.execute(DOWN)
