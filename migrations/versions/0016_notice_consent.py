"""Notices: double opt-in, one mail per address and event, withdrawn and cancellation notices.

Revision ID: 0016
Revises: 0013
Create Date: 2026-12-06

- ``subscriptions.confirmed_at``: the owner of the address opened the confirmation link; a
  subscription without it is inactive (nothing is sent). ``confirm_token_hash`` (SHA-256 of the
  link's random token) and ``confirm_expires_at`` hold the pending request. Subscriptions made before
  this revision were taken without confirmation; they are kept as confirmed (at their creation), so
  nobody loses notices on the upgrade.
- ``notice_outbox.subscription_ids``: the subscriptions one mail speaks for (one mail per e-mail
  address and event, naming every subscribed address inside the outage); NULL on older rows = the
  row's ``subscription_id`` alone. ``outage_id`` may be NULL (a confirmation mail); events
  ``cancelled`` (the outage will not happen) and ``confirm``; state ``withdrawn`` (not sent: its
  outage was cancelled).
"""
from alembic import op

revision = "0016"
down_revision = "0020"
branch_labels = None
depends_on = None

UP = """
ALTER TABLE subscriptions ADD COLUMN IF NOT EXISTS confirmed_at timestamptz;
ALTER TABLE subscriptions ADD COLUMN IF NOT EXISTS confirm_token_hash text;
ALTER TABLE subscriptions ADD COLUMN IF NOT EXISTS confirm_expires_at timestamptz;
UPDATE subscriptions SET confirmed_at = created_at WHERE confirmed_at IS NULL AND confirm_token_hash IS NULL;
CREATE UNIQUE INDEX IF NOT EXISTS subscriptions_confirm_token_unique ON subscriptions (confirm_token_hash)
    WHERE confirm_token_hash IS NOT NULL;
CREATE INDEX IF NOT EXISTS subscriptions_email_idx ON subscriptions (email);

ALTER TABLE notice_outbox ADD COLUMN IF NOT EXISTS subscription_ids bigint[];
ALTER TABLE notice_outbox ALTER COLUMN outage_id DROP NOT NULL;
ALTER TABLE notice_outbox DROP CONSTRAINT IF EXISTS notice_outbox_event_check;
ALTER TABLE notice_outbox ADD CONSTRAINT notice_outbox_event_check
    CHECK (event IN ('approved', 'extended', 'restored', 'planned', 'cancelled', 'confirm'));
ALTER TABLE notice_outbox DROP CONSTRAINT IF EXISTS notice_outbox_state_check;
ALTER TABLE notice_outbox ADD CONSTRAINT notice_outbox_state_check
    CHECK (state IN ('pending', 'sent', 'failed', 'dropped', 'withdrawn'));
CREATE INDEX IF NOT EXISTS notice_outbox_subscription_idx ON notice_outbox (subscription_id, created_at);
"""

DOWN = """
DROP INDEX IF EXISTS notice_outbox_subscription_idx;
DELETE FROM notice_outbox WHERE event IN ('cancelled', 'confirm') OR outage_id IS NULL;
UPDATE notice_outbox SET state = 'dropped' WHERE state = 'withdrawn';
ALTER TABLE notice_outbox DROP CONSTRAINT IF EXISTS notice_outbox_state_check;
ALTER TABLE notice_outbox ADD CONSTRAINT notice_outbox_state_check
    CHECK (state IN ('pending', 'sent', 'failed', 'dropped'));
ALTER TABLE notice_outbox DROP CONSTRAINT IF EXISTS notice_outbox_event_check;
ALTER TABLE notice_outbox ADD CONSTRAINT notice_outbox_event_check
    CHECK (event IN ('approved', 'extended', 'restored', 'planned'));
ALTER TABLE notice_outbox ALTER COLUMN outage_id SET NOT NULL;
ALTER TABLE notice_outbox DROP COLUMN IF EXISTS subscription_ids;
DROP INDEX IF EXISTS subscriptions_email_idx;
DROP INDEX IF EXISTS subscriptions_confirm_token_unique;
UPDATE subscriptions SET unsubscribed_at = coalesce(unsubscribed_at, now()) WHERE confirmed_at IS NULL;
ALTER TABLE subscriptions DROP COLUMN IF EXISTS confirm_expires_at;
ALTER TABLE subscriptions DROP COLUMN IF EXISTS confirm_token_hash;
ALTER TABLE subscriptions DROP COLUMN IF EXISTS confirmed_at;
"""


def upgrade() -> None:
    op.execute(UP)


def downgrade() -> None:
    op.execute(DOWN)
