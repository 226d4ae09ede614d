"""Organisations' desks: accounts and API keys bound to one organisation, work-order events, photos.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-06

- ``users.org_id``: the organisation an ``org_dispatcher`` or ``crew`` account works for; required for
  those two roles and refused for every other (``users_org_check``), so an account is either the
  service's or one organisation's, never both.
- ``api_keys.org_id``: a key of an organisation's own system (``/orgs/v1/``); NULL for Open311 clients.
- ``incidents``: the organisation's side of a report as a work order — ``org_state`` (accepted,
  assigned, visit_planned, resolved; NULL while nobody at the organisation has acted), the crew's login,
  the planned visit the resident will see, the answer text and when the organisation accepted and
  resolved it.
- ``work_order_events``: every action of an organisation on a work order, with the client-chosen
  ``event_id`` (unique per organisation: a repeated one is stored once), its author and the organisation it
  acted for.
- ``work_order_photos``: photos of a resolution, re-encoded on the server (never stored as sent).
"""
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

ROLES = "('operator', 'dispatcher', 'planner', 'inspector', 'admin', 'org_dispatcher', 'crew')"
OLD_ROLES = "('operator', 'dispatcher', 'planner', 'inspector', 'admin')"
KINDS = "('accepted', 'assigned', 'visit_planned', 'resolved', 'returned')"

UP = f"""
ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check CHECK (role IN {ROLES});
ALTER TABLE users ADD COLUMN org_id integer REFERENCES organisations(id) ON DELETE RESTRICT;
ALTER TABLE users ADD CONSTRAINT users_org_check
    CHECK ((role IN ('org_dispatcher', 'crew')) = (org_id IS NOT NULL));

ALTER TABLE api_keys ADD COLUMN org_id integer REFERENCES organisations(id) ON DELETE RESTRICT;

ALTER TABLE incidents
    ADD COLUMN org_state text CONSTRAINT incidents_org_state_check
        CHECK (org_state IS NULL OR org_state IN ('accepted', 'assigned', 'visit_planned', 'resolved')),
    ADD COLUMN org_accepted_at timestamptz,
    ADD COLUMN crew_login text,
    ADD COLUMN visit_at timestamptz,
    ADD COLUMN org_answer text CONSTRAINT incidents_org_answer_check CHECK (char_length(org_answer) <= 4000),
    ADD COLUMN org_resolved_at timestamptz;

CREATE TABLE work_order_events (
    id          bigserial PRIMARY KEY,
    event_id    text NOT NULL CONSTRAINT work_order_events_event_id_check CHECK (event_id ~ '^[A-Za-z0-9._:-]{{1,100}}$'),
    incident_id bigint NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
    org_id      integer NOT NULL REFERENCES organisations(id) ON DELETE RESTRICT,
    kind        text NOT NULL CONSTRAINT work_order_events_kind_check CHECK (kind IN {KINDS}),
    text        text NOT NULL DEFAULT '' CONSTRAINT work_order_events_text_check CHECK (char_length(text) <= 4000),
    visit_at    timestamptz,
    crew_login  text,
    author      text NOT NULL CONSTRAINT work_order_events_author_check CHECK (char_length(author) BETWEEN 1 AND 300),
    at          timestamptz NOT NULL DEFAULT now(),
    -- one organisation's ids never collide with another's (nor tell it which ids exist)
    CONSTRAINT work_order_events_event_id_unique UNIQUE (org_id, event_id)
);
CREATE INDEX work_order_events_incident_idx ON work_order_events (incident_id, at);

CREATE TABLE work_order_photos (
    id           bigserial PRIMARY KEY,
    incident_id  bigint NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
    event_id     bigint REFERENCES work_order_events(id) ON DELETE CASCADE,
    content_type text NOT NULL CONSTRAINT work_order_photos_type_check CHECK (content_type IN ('image/jpeg', 'image/png', 'image/webp')),
    width        integer NOT NULL,
    height       integer NOT NULL,
    data         bytea NOT NULL,
    author       text NOT NULL,
    at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX work_order_photos_incident_idx ON work_order_photos (incident_id);
"""

DOWN = f"""
DROP TABLE IF EXISTS work_order_photos;
DROP TABLE IF EXISTS work_order_events;
ALTER TABLE incidents DROP COLUMN org_state, DROP COLUMN org_accepted_at, DROP COLUMN crew_login,
    DROP COLUMN visit_at, DROP COLUMN org_answer, DROP COLUMN org_resolved_at;
ALTER TABLE api_keys DROP COLUMN org_id;
DELETE FROM user_sessions WHERE user_id IN (SELECT id FROM users WHERE role IN ('org_dispatcher', 'crew'));
ALTER TABLE users DROP CONSTRAINT users_org_check;
UPDATE users SET active = false, role = 'operator' WHERE role IN ('org_dispatcher', 'crew');
ALTER TABLE users DROP COLUMN org_id;
ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check CHECK (role IN {OLD_ROLES});
"""


def upgrade() -> None:
    op.execute(UP)


def downgrade() -> None:
    op.execute(DOWN)
