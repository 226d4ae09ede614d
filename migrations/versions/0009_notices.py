"""Residents' notices: subscriptions to an address, the outbox of notices and their delivery log.

Revision ID: 0009
Revises: 0007
Create Date: 2026-11-27

- ``subscriptions``: a building's notices to an e-mail (and a phone kept for an SMS gateway), in a
  language; one per building and e-mail; ``unsubscribe_token`` is the secret of the link in every
  mail; ``unsubscribed_at`` set = nothing more is sent.
- ``notice_outbox``: one row per subscription and outage event (approved, extended, restored,
  planned), written in the transaction of the outage change. ``dedupe_key`` is UNIQUE: the same
  event of the same outage version reaches a subscriber once, however often it is enqueued.
  ``state`` pending → sent | failed (attempts exhausted) | dropped (unsubscribed before delivery).
- ``notice_deliveries``: every attempt (sent or the SMTP error), for the log.
"""
from alembic import op

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None

UP = """
CREATE TABLE subscriptions (
    id                bigserial PRIMARY KEY,
    building_id       bigint NOT NULL REFERENCES buildings(id) ON DELETE CASCADE,
    email             text NOT NULL CONSTRAINT subscriptions_email_check
                      CHECK (char_length(email) BETWEEN 3 AND 254 AND email ~ '^[^@\\s]+@[^@\\s]+$'),
    phone             text CONSTRAINT subscriptions_phone_check CHECK (phone IS NULL OR phone ~ '^\\+?[0-9]{5,15}$'),
    lang              text NOT NULL DEFAULT 'ru' CONSTRAINT subscriptions_lang_check CHECK (lang IN ('ru', 'en')),
    unsubscribe_token text NOT NULL CONSTRAINT subscriptions_token_unique UNIQUE,
    created_at        timestamptz NOT NULL DEFAULT now(),
    unsubscribed_at   timestamptz,
    CONSTRAINT subscriptions_unique UNIQUE (building_id, email)
);

CREATE TABLE notice_outbox (
    id              bigserial PRIMARY KEY,
    subscription_id bigint NOT NULL REFERENCES subscriptions(id) ON DELETE CASCADE,
    outage_id       bigint NOT NULL REFERENCES outages(id) ON DELETE CASCADE,
    event           text NOT NULL CONSTRAINT notice_outbox_event_check
                    CHECK (event IN ('approved', 'extended', 'restored', 'planned')),
    dedupe_key      text NOT NULL CONSTRAINT notice_outbox_dedupe_unique UNIQUE,
    subject         text NOT NULL,
    body            text NOT NULL,
    state           text NOT NULL DEFAULT 'pending' CONSTRAINT notice_outbox_state_check
                    CHECK (state IN ('pending', 'sent', 'failed', 'dropped')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz
);
CREATE INDEX notice_outbox_due_idx ON notice_outbox (next_attempt_at) WHERE state = 'pending';
CREATE INDEX notice_outbox_outage_idx ON notice_outbox (outage_id);

CREATE TABLE notice_deliveries (
    id          bigserial PRIMARY KEY,
    outbox_id   bigint NOT NULL REFERENCES notice_outbox(id) ON DELETE CASCADE,
    at          timestamptz NOT NULL DEFAULT now(),
    channel     text NOT NULL DEFAULT 'email',
    recipient   text NOT NULL,
    ok          boolean NOT NULL,
    message_id  text NOT NULL,
    error       text
);
CREATE INDEX notice_deliveries_outbox_idx ON notice_deliveries (outbox_id, at);
"""

DOWN = """
DROP TABLE IF EXISTS notice_deliveries;
DROP TABLE IF EXISTS notice_outbox;
DROP TABLE IF EXISTS subscriptions;
"""


def upgrade() -> None:
    op.execute(UP)


def downgrade() -> None:
    op.execute(DOWN)
