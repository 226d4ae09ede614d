"""Organisations' webhooks: the endpoint of each organisation, the outbox of work-order events, the delivery log.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07

- ``org_webhooks``: one endpoint per organisation (``python -m orgs webhook set ORG_ID URL``): its URL and
  its signing secret sealed with ``ZHKH_WEBHOOK_KEY`` (``orgs.secrets``: never stored as given, never
  shown again; ``secret_hint`` is the first 8 hex digits of its SHA-256, to tell two secrets apart).
- ``webhook_events``: the outbox. A row per new or changed work order of an organisation that has a
  webhook, written in the transaction of the change (``ops.webhooks.queue_change``), with the work order as
  it was right after the change (``payload``). ``python -m orgs deliver`` claims due rows with
  ``FOR UPDATE SKIP LOCKED``: ``pending`` until a 2xx answer (``delivered``), retried with exponential
  backoff (``attempts``, ``next_attempt_at``, ``last_error``, ``last_status``); ``dropped`` when the
  organisation's webhook was deleted before it went.
- ``webhook_deliveries``: every attempt: when, where, the answer's status code (NULL: no answer), the error.
"""
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None

TYPES = ("('work_order.created', 'work_order.accepted', 'work_order.assigned', 'work_order.visit_planned', "
         "'work_order.resolved', 'work_order.returned', 'work_order.on_the_way', 'work_order.arrived', "
         "'work_order.status_changed', 'work_order.withdrawn')")

UP = f"""
CREATE TABLE org_webhooks (
    org_id      integer PRIMARY KEY REFERENCES organisations(id) ON DELETE CASCADE,
    url         text NOT NULL CONSTRAINT org_webhooks_url_check
                    CHECK (char_length(url) BETWEEN 8 AND 2000 AND url ~ '^https?://'),
    secret_enc  text NOT NULL,
    secret_hint text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    updated_by  text NOT NULL
);

CREATE TABLE webhook_events (
    id              bigserial PRIMARY KEY,
    event_id        text NOT NULL CONSTRAINT webhook_events_event_id_unique UNIQUE,
    org_id          integer NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
    incident_id     bigint REFERENCES incidents(id) ON DELETE SET NULL,
    type            text NOT NULL CONSTRAINT webhook_events_type_check CHECK (type IN {TYPES}),
    payload         jsonb NOT NULL,
    state           text NOT NULL DEFAULT 'pending'
                        CONSTRAINT webhook_events_state_check CHECK (state IN ('pending', 'delivered', 'dropped')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    last_status     integer,
    last_error      text CONSTRAINT webhook_events_error_check CHECK (char_length(last_error) <= 500),
    created_at      timestamptz NOT NULL,
    delivered_at    timestamptz
);
CREATE INDEX webhook_events_due_idx ON webhook_events (next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX webhook_events_org_idx ON webhook_events (org_id, id DESC);

CREATE TABLE webhook_deliveries (
    id           bigserial PRIMARY KEY,
    event_row_id bigint NOT NULL REFERENCES webhook_events(id) ON DELETE CASCADE,
    org_id       integer NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
    url          text NOT NULL,
    at           timestamptz NOT NULL,
    ok           boolean NOT NULL,
    status_code  integer,
    duration_ms  integer,
    error        text CONSTRAINT webhook_deliveries_error_check CHECK (char_length(error) <= 500)
);
CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (event_row_id, at);
CREATE INDEX webhook_deliveries_org_idx ON webhook_deliveries (org_id, at DESC);
"""

DOWN = """
DROP TABLE IF EXISTS webhook_deliveries;
DROP TABLE IF EXISTS webhook_events;
DROP TABLE IF EXISTS org_webhooks;
"""


def upgrade() -> None:
    op.execute(UP)


def downgrade() -> None:
    op.execute(DOWN)
