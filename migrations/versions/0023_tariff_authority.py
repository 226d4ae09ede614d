"""Who sets a tariff and on what legal basis (issue 20, «Тарифы» on the residents' page).

Revision ID: 0023
Revises: 0016
Create Date: 2026-12-06

- ``tariffs.organisation``: the body that sets the tariff (e.g. the region's tariff regulator), a JSON
  object of language → name (``{"ru": "…", "en": "…"}``); ``{}`` when the tariffs file names none.
- ``tariffs.legal_basis``: the act that set this price (order, number, date), language → text.

Both are written by ``billing.tariffs.sync_tariffs`` from the tariffs file (``organisation`` per
service, ``basis`` per price date). Existing rows get ``{}`` until the next billing run or demo load.
The resident's report form needs no schema change: a queued report's client-generated id is kept in
``incidents.client_token`` (unique per API key since 0005).
"""
from alembic import op

revision = "0023"
down_revision = "0018"
branch_labels = None
depends_on = None

UP = """
ALTER TABLE tariffs ADD COLUMN IF NOT EXISTS organisation jsonb NOT NULL DEFAULT '{}'::jsonb;
ALTER TABLE tariffs ADD COLUMN IF NOT EXISTS legal_basis jsonb NOT NULL DEFAULT '{}'::jsonb;
ALTER TABLE tariffs DROP CONSTRAINT IF EXISTS tariffs_organisation_check;
ALTER TABLE tariffs ADD CONSTRAINT tariffs_organisation_check CHECK (jsonb_typeof(organisation) = 'object');
ALTER TABLE tariffs DROP CONSTRAINT IF EXISTS tariffs_legal_basis_check;
ALTER TABLE tariffs ADD CONSTRAINT tariffs_legal_basis_check CHECK (jsonb_typeof(legal_basis) = 'object');
"""

DOWN = """
ALTER TABLE tariffs DROP CONSTRAINT IF EXISTS tariffs_legal_basis_check;
ALTER TABLE tariffs DROP CONSTRAINT IF EXISTS tariffs_organisation_check;
ALTER TABLE tariffs DROP COLUMN IF EXISTS legal_basis;
ALTER TABLE tariffs DROP COLUMN IF EXISTS organisation;
"""


def upgrade() -> None:
    op.execute(UP)


def downgrade() -> None:
    op.execute(DOWN)
