"""People and rights, the audit trail, and the schema for safe operations.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27

- ``users``: accounts (login, display name, role, argon2 hash, active, created/last-login times);
  ``user_sessions``: a signed-in browser (only the SHA-256 of its token is stored);
  ``login_throttle``: failed passwords per typed login (existing or not), and its lock.
- ``audit_events``: every write that is not an incident status change (those stay in
  ``incident_events``) with its author: a user's login, ``api:<key name>`` or ``cli:<os user>``.
- ``incident_notes``: free notes on a report; each author edits only their own.
- ``outages``: ``kind`` (emergency | planned works) and the pipes that broke (``break_pipe_ids``),
  so a plan can be recomputed (a valve found stuck, a second break merged in);
  ``outage_buildings.added_at``: when a building joined an outage that was extended.
- ``incidents``: the idempotency token is unique per API key, not across all clients.
- ``buildings.ext_id``: the source's own id, unique per dataset, so a re-import updates a
  building in place (reports and outages keep their links).
"""
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ROLES = "('operator', 'dispatcher', 'planner', 'inspector', 'admin')"
AUDIT_ACTIONS = """(
    'auth.login', 'auth.login_failed', 'auth.logout',
    'user.add', 'user.set_role', 'user.disable', 'user.enable', 'user.passwd',
    'api_key.create', 'api_key.revoke',
    'incident.note_add', 'incident.note_edit',
    'outage.schedule', 'outage.approve', 'outage.start', 'outage.extend', 'outage.reschedule',
    'outage.merge', 'outage.restore', 'outage.cancel',
    'valve.status',
    'data.import', 'demo.reload'
)"""

UP = f"""
CREATE TABLE users (
    id            serial PRIMARY KEY,
    login         text NOT NULL CONSTRAINT users_login_unique UNIQUE
                  CONSTRAINT users_login_check CHECK (login ~ '^[a-z0-9][a-z0-9._@-]{{1,63}}$'),
    display_name  text NOT NULL DEFAULT '' CONSTRAINT users_display_name_check CHECK (char_length(display_name) <= 200),
    role          text NOT NULL CONSTRAINT users_role_check CHECK (role IN {ROLES}),
    password_hash text,
    auth_source   text NOT NULL DEFAULT 'local' CONSTRAINT users_auth_source_check
                  CHECK (auth_source IN ('local', 'oidc')),
    active        boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    created_by    text NOT NULL CONSTRAINT users_created_by_check CHECK (char_length(created_by) >= 1),
    last_login_at timestamptz,
    CONSTRAINT users_local_has_password CHECK (auth_source <> 'local' OR password_hash IS NOT NULL)
);

CREATE TABLE user_sessions (
    id           bigserial PRIMARY KEY,
    token_hash   text NOT NULL CONSTRAINT user_sessions_token_unique UNIQUE
                 CONSTRAINT user_sessions_token_check CHECK (token_hash ~ '^[0-9a-f]{{64}}$'),
    user_id      integer NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    ended_at     timestamptz,
    end_reason   text CONSTRAINT user_sessions_end_reason_check
                 CHECK (end_reason IS NULL OR end_reason IN ('logout', 'idle', 'disabled', 'role_changed',
                                                             'password_changed')),
    CONSTRAINT user_sessions_end_check CHECK ((ended_at IS NULL) = (end_reason IS NULL))
);
CREATE INDEX user_sessions_user_idx ON user_sessions (user_id) WHERE ended_at IS NULL;

CREATE TABLE login_throttle (
    login        text PRIMARY KEY CONSTRAINT login_throttle_login_check CHECK (char_length(login) <= 200),
    failures     integer NOT NULL DEFAULT 0 CONSTRAINT login_throttle_failures_check CHECK (failures >= 0),
    locked_until timestamptz
);

CREATE TABLE audit_events (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL CONSTRAINT audit_events_actor_check CHECK (char_length(actor) BETWEEN 1 AND 300),
    action      text NOT NULL CONSTRAINT audit_events_action_check CHECK (action IN {AUDIT_ACTIONS}),
    object_type text CONSTRAINT audit_events_object_type_check
                CHECK (object_type IS NULL OR object_type IN ('incident', 'outage', 'valve', 'network', 'user',
                                                              'api_key', 'dataset', 'note')),
    object_id   text,
    reason      text NOT NULL DEFAULT '' CONSTRAINT audit_events_reason_check CHECK (char_length(reason) <= 2000),
    details     jsonb NOT NULL DEFAULT '{{}}'::jsonb
);
CREATE INDEX audit_events_at_idx ON audit_events (at DESC, id DESC);
CREATE INDEX audit_events_actor_idx ON audit_events (actor, at DESC);
CREATE INDEX audit_events_object_idx ON audit_events (object_type, object_id, at DESC);
CREATE INDEX incident_events_at_idx ON incident_events (at DESC, id DESC);
CREATE INDEX incident_events_actor_idx ON incident_events (actor, at DESC);

CREATE TABLE incident_notes (
    id          bigserial PRIMARY KEY,
    incident_id bigint NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
    author      text NOT NULL CONSTRAINT incident_notes_author_check CHECK (char_length(author) BETWEEN 1 AND 300),
    body        text NOT NULL CONSTRAINT incident_notes_body_check CHECK (char_length(body) BETWEEN 1 AND 2000),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    version     integer NOT NULL DEFAULT 1
);
CREATE INDEX incident_notes_incident_idx ON incident_notes (incident_id, created_at);

ALTER TABLE outages
    ADD COLUMN kind text NOT NULL DEFAULT 'emergency' CONSTRAINT outages_kind_check CHECK (kind IN ('emergency', 'planned')),
    ADD COLUMN break_pipe_ids bigint[] NOT NULL DEFAULT '{{}}';
UPDATE outages SET break_pipe_ids = pipe_ids;
CREATE INDEX outages_pipe_ids_gin ON outages USING gin (pipe_ids) WHERE state IN ('planned', 'active');
CREATE INDEX outages_incident_idx ON outages (incident_id);
ALTER TABLE outage_buildings ADD COLUMN added_at timestamptz;

ALTER TABLE incidents DROP CONSTRAINT incidents_client_token_unique;
ALTER TABLE incidents ADD CONSTRAINT incidents_client_token_check CHECK (char_length(client_token) <= 200);
CREATE UNIQUE INDEX incidents_client_token_scope ON incidents ((coalesce(api_key_id, 0)), client_token)
    WHERE client_token IS NOT NULL;

ALTER TABLE buildings ADD COLUMN ext_id text;
UPDATE buildings b SET ext_id = CASE WHEN s.n = 1 THEN b.osm_id::text ELSE 'id' || b.id END
FROM (SELECT id, count(*) OVER (PARTITION BY dataset, osm_id) AS n FROM buildings) s
WHERE s.id = b.id;
UPDATE buildings SET ext_id = 'id' || id WHERE ext_id IS NULL;
ALTER TABLE buildings ALTER COLUMN ext_id SET NOT NULL;
ALTER TABLE buildings ADD CONSTRAINT buildings_ext_id_unique UNIQUE (dataset, ext_id);
-- a building without a source id gets 'id<database id>' (stable: it never changes afterwards)
CREATE FUNCTION zhkh_building_ext_id() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.ext_id IS NULL OR NEW.ext_id = '' THEN
        NEW.ext_id := 'id' || NEW.id;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER buildings_ext_id_default BEFORE INSERT ON buildings
    FOR EACH ROW EXECUTE FUNCTION zhkh_building_ext_id();
"""

DOWN = """
DROP TRIGGER IF EXISTS buildings_ext_id_default ON buildings;
DROP FUNCTION IF EXISTS zhkh_building_ext_id();
ALTER TABLE buildings DROP CONSTRAINT IF EXISTS buildings_ext_id_unique;
ALTER TABLE buildings DROP COLUMN IF EXISTS ext_id;
DROP INDEX IF EXISTS incidents_client_token_scope;
ALTER TABLE incidents DROP CONSTRAINT IF EXISTS incidents_client_token_check;
ALTER TABLE incidents ADD CONSTRAINT incidents_client_token_unique UNIQUE (client_token);
ALTER TABLE outage_buildings DROP COLUMN IF EXISTS added_at;
DROP INDEX IF EXISTS outages_incident_idx;
DROP INDEX IF EXISTS outages_pipe_ids_gin;
ALTER TABLE outages DROP COLUMN IF EXISTS break_pipe_ids, DROP COLUMN IF EXISTS kind;
DROP TABLE IF EXISTS incident_notes;
DROP INDEX IF EXISTS incident_events_actor_idx;
DROP INDEX IF EXISTS incident_events_at_idx;
DROP TABLE IF EXISTS audit_events;
DROP TABLE IF EXISTS login_throttle;
DROP TABLE IF EXISTS user_sessions;
DROP TABLE IF EXISTS users;
"""


def upgrade() -> None:
    op.execute(UP)


def downgrade() -> None:
    op.execute(DOWN)
