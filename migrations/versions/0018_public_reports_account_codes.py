"""Reports' public side and account codes (issue 22 §6, §7).

Revision ID: 0018
Revises: 0013
Create Date: 2026-12-06

- ``incidents.public_token``: the random, non-guessable name of a report's page on the residents'
  side (``/report/<token>``), 32 hex characters from ``gen_random_uuid()`` (122 random bits, the
  server's strong random source); every existing report gets one, every new one by default.
- ``incidents.description_private``: the operator hid the description from every public view
  (residents' page, Open311); operators still see it in full.
- ``accounts.access_code_hash`` may now hold an Argon2id hash (``$argon2id$…``); old SHA-256 rows
  stay valid and are converted on the next successful entry (a SHA-256 cannot be inverted).
- ``account_code_tries``: wrong account codes per account number (any client address), and until
  when the number is locked. Keyed by the number as typed, so an unknown number locks the same
  way and the lock does not tell whether the account exists.
"""
from alembic import op

revision = "0018"
down_revision = "0016"
branch_labels = None
depends_on = None

UP = """
ALTER TABLE incidents ADD COLUMN IF NOT EXISTS public_token text;
UPDATE incidents SET public_token = replace(gen_random_uuid()::text, '-', '') WHERE public_token IS NULL;
ALTER TABLE incidents ALTER COLUMN public_token SET DEFAULT replace(gen_random_uuid()::text, '-', '');
ALTER TABLE incidents ALTER COLUMN public_token SET NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS incidents_public_token_unique ON incidents (public_token);
ALTER TABLE incidents ADD COLUMN IF NOT EXISTS description_private boolean NOT NULL DEFAULT false;

ALTER TABLE accounts DROP CONSTRAINT IF EXISTS accounts_code_check;
ALTER TABLE accounts ADD CONSTRAINT accounts_code_check CHECK (
    access_code_hash IS NULL OR access_code_hash ~ '^[0-9a-f]{64}$' OR access_code_hash LIKE '$argon2id$%');

CREATE TABLE IF NOT EXISTS account_code_tries (
    number        text PRIMARY KEY CONSTRAINT account_code_tries_number_check CHECK (char_length(number) <= 40),
    failures      integer NOT NULL DEFAULT 0 CONSTRAINT account_code_tries_failures_check CHECK (failures >= 0),
    first_failure timestamptz,
    last_failure  timestamptz,
    locked_until  timestamptz
);
"""

DOWN = """
DROP TABLE IF EXISTS account_code_tries;
ALTER TABLE accounts DROP CONSTRAINT IF EXISTS accounts_code_check;
UPDATE accounts SET access_code_hash = NULL WHERE access_code_hash LIKE '$argon2id$%';
ALTER TABLE accounts ADD CONSTRAINT accounts_code_check
    CHECK (access_code_hash IS NULL OR access_code_hash ~ '^[0-9a-f]{64}$');
ALTER TABLE incidents DROP COLUMN IF EXISTS description_private;
DROP INDEX IF EXISTS incidents_public_token_unique;
ALTER TABLE incidents DROP COLUMN IF EXISTS public_token;
"""


def upgrade() -> None:
    op.execute(UP)


def downgrade() -> None:
    op.execute(DOWN)
