"""Residents, money, meters and responsibility: the shared data model of issues 9–11.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27

Who answers for what
- ``organisations``: management companies (управляющие компании), utilities (ресурсоснабжающие
  организации) and contractors, with their contacts.
- ``buildings.management_company_id``, ``networks.utility_id``, ``incidents.responsible_org_id``
  (set at intake from the category; a dispatcher may change it, audited).
- ``buildings.house_guid``: the building's FIAS / ГИС ЖКХ house GUID (the outage export names houses
  by it).

Residents and money
- ``premises``: flats and non-residential rooms of a building (number unique per building).
- ``accounts``: personal accounts (лицевые счета): number, premises, holder, residents registered,
  area; ``access_code_hash`` is the SHA-256 of the code printed on the bill (the resident's page
  shows charges only to whoever holds both).
- ``tariffs``: ₽ per unit of a resource for a period, and the region's normative (норматив) per
  person and month; loaded from the billing rules file.
- ``billing_periods``: one row per month: draft (rerun replaces its charges) or closed (never
  changed again; corrections go to a later month).
- ``charges`` (one per account, service and month) and ``charge_lines`` (consumption, the
  building's common share ОДН, reductions for interruptions naming their outages, corrections).

Meters
- ``dmas``: district metered areas of a network (derived from normally-closed valves, or drawn).
- ``meters``: building, flat, DMA-inlet and source meters (serial unique).
- ``meter_readings``: a register's cumulative total at a time, once per meter and time.
- ``meter_rejects``: messages that could not be stored, with the reason.

``audit_events``: action and object type follow a pattern (``area.verb``) instead of a closed list,
so new use-cases do not need a migration each; ``ops.audit`` still names every action it writes.
"""
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

RESOURCES = "('cold_water', 'hot_water', 'heating', 'gas', 'sewer', 'electricity')"

UP = f"""
CREATE TABLE organisations (
    id          serial PRIMARY KEY,
    kind        text NOT NULL CONSTRAINT organisations_kind_check
                CHECK (kind IN ('management_company', 'utility', 'contractor')),
    name        text NOT NULL CONSTRAINT organisations_name_check CHECK (char_length(name) BETWEEN 1 AND 300),
    short_name  text,
    inn         text CONSTRAINT organisations_inn_check CHECK (inn IS NULL OR inn ~ '^[0-9]{{10}}([0-9]{{2}})?$'),
    phone       text,
    email       text,
    address     text,
    active      boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT organisations_name_unique UNIQUE (name)
);

ALTER TABLE buildings
    ADD COLUMN management_company_id integer REFERENCES organisations(id) ON DELETE SET NULL,
    ADD COLUMN house_guid uuid CONSTRAINT buildings_house_guid_unique UNIQUE;
CREATE INDEX buildings_management_company_idx ON buildings (management_company_id);
ALTER TABLE networks ADD COLUMN utility_id integer REFERENCES organisations(id) ON DELETE SET NULL;
ALTER TABLE incidents ADD COLUMN responsible_org_id integer REFERENCES organisations(id) ON DELETE SET NULL;
CREATE INDEX incidents_responsible_org_idx ON incidents (responsible_org_id, created_at);

CREATE TABLE premises (
    id          bigserial PRIMARY KEY,
    building_id bigint NOT NULL REFERENCES buildings(id) ON DELETE CASCADE,
    number      text NOT NULL CONSTRAINT premises_number_check CHECK (char_length(number) BETWEEN 1 AND 20),
    kind        text NOT NULL DEFAULT 'flat' CONSTRAINT premises_kind_check
                CHECK (kind IN ('flat', 'non_residential')),
    floor       integer,
    area_m2     numeric(9, 2) NOT NULL CONSTRAINT premises_area_check CHECK (area_m2 > 0),
    CONSTRAINT premises_number_unique UNIQUE (building_id, number)
);

CREATE TABLE accounts (
    id                   bigserial PRIMARY KEY,
    number               text NOT NULL CONSTRAINT accounts_number_unique UNIQUE
                         CONSTRAINT accounts_number_check CHECK (number ~ '^[0-9]{{6,20}}$'),
    premises_id          bigint NOT NULL REFERENCES premises(id) ON DELETE CASCADE,
    holder_name          text NOT NULL CONSTRAINT accounts_holder_check CHECK (char_length(holder_name) BETWEEN 1 AND 300),
    residents            integer NOT NULL DEFAULT 0 CONSTRAINT accounts_residents_check CHECK (residents >= 0),
    area_m2              numeric(9, 2) NOT NULL CONSTRAINT accounts_area_check CHECK (area_m2 > 0),
    electricity_sources  smallint NOT NULL DEFAULT 2 CONSTRAINT accounts_sources_check
                         CHECK (electricity_sources IN (1, 2)),
    access_code_hash     text CONSTRAINT accounts_code_check CHECK (access_code_hash IS NULL OR access_code_hash ~ '^[0-9a-f]{{64}}$'),
    opened_on            date NOT NULL DEFAULT current_date,
    closed_on            date,
    CONSTRAINT accounts_dates_check CHECK (closed_on IS NULL OR closed_on >= opened_on)
);
CREATE INDEX accounts_premises_idx ON accounts (premises_id);

CREATE TABLE tariffs (
    id                  serial PRIMARY KEY,
    service             text NOT NULL CONSTRAINT tariffs_service_check CHECK (service IN {RESOURCES}),
    valid_from          date NOT NULL,
    valid_to            date,
    unit                text NOT NULL CONSTRAINT tariffs_unit_check CHECK (unit IN ('m3', 'gcal', 'kwh')),
    price_rub           numeric(12, 4) NOT NULL CONSTRAINT tariffs_price_check CHECK (price_rub >= 0),
    normative_per_person numeric(12, 4) CONSTRAINT tariffs_normative_check
                        CHECK (normative_per_person IS NULL OR normative_per_person >= 0),
    normative_per_m2    numeric(12, 6) CONSTRAINT tariffs_normative_m2_check
                        CHECK (normative_per_m2 IS NULL OR normative_per_m2 >= 0),
    source              text NOT NULL DEFAULT '',
    CONSTRAINT tariffs_dates_check CHECK (valid_to IS NULL OR valid_to >= valid_from),
    CONSTRAINT tariffs_unique UNIQUE (service, valid_from)
);

CREATE TABLE billing_periods (
    period      date PRIMARY KEY CONSTRAINT billing_periods_first_day CHECK (extract(day FROM period) = 1),
    state       text NOT NULL DEFAULT 'draft' CONSTRAINT billing_periods_state_check
                CHECK (state IN ('draft', 'closed')),
    computed_at timestamptz,
    computed_by text,
    closed_at   timestamptz,
    closed_by   text
);

CREATE TABLE charges (
    id           bigserial PRIMARY KEY,
    period       date NOT NULL REFERENCES billing_periods(period),
    account_id   bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    service      text NOT NULL CONSTRAINT charges_service_check CHECK (service IN {RESOURCES}),
    basis        text NOT NULL CONSTRAINT charges_basis_check CHECK (basis IN ('meter', 'normative', 'area')),
    quantity     numeric(14, 4) NOT NULL,
    unit         text NOT NULL,
    price_rub    numeric(12, 4) NOT NULL,
    charged_rub  numeric(12, 2) NOT NULL CONSTRAINT charges_charged_check CHECK (charged_rub >= 0),
    reduction_rub numeric(12, 2) NOT NULL DEFAULT 0 CONSTRAINT charges_reduction_check
                 CHECK (reduction_rub >= 0 AND reduction_rub <= charged_rub),
    correction_rub numeric(12, 2) NOT NULL DEFAULT 0,
    total_rub    numeric(12, 2) NOT NULL,
    CONSTRAINT charges_unique UNIQUE (period, account_id, service)
);
CREATE INDEX charges_account_idx ON charges (account_id, period);

CREATE TABLE charge_lines (
    id          bigserial PRIMARY KEY,
    charge_id   bigint NOT NULL REFERENCES charges(id) ON DELETE CASCADE,
    kind        text NOT NULL CONSTRAINT charge_lines_kind_check
                CHECK (kind IN ('consumption', 'common', 'reduction', 'temperature', 'correction')),
    quantity    numeric(14, 4),
    unit        text,
    amount_rub  numeric(12, 2) NOT NULL,
    outage_ids  bigint[] NOT NULL DEFAULT '{{}}',
    details     jsonb NOT NULL DEFAULT '{{}}'::jsonb
);
CREATE INDEX charge_lines_charge_idx ON charge_lines (charge_id);

CREATE TABLE dmas (
    id          serial PRIMARY KEY,
    network_id  integer NOT NULL REFERENCES networks(id) ON DELETE CASCADE,
    name        text NOT NULL CONSTRAINT dmas_name_check CHECK (char_length(name) BETWEEN 1 AND 200),
    source      text NOT NULL DEFAULT 'derived' CONSTRAINT dmas_source_check CHECK (source IN ('derived', 'drawn')),
    geom        geometry(MultiPolygon, 4326),
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT dmas_name_unique UNIQUE (network_id, name)
);
CREATE INDEX dmas_geom_gist ON dmas USING gist (geom);

CREATE TABLE meters (
    id           bigserial PRIMARY KEY,
    serial       text NOT NULL CONSTRAINT meters_serial_unique UNIQUE
                 CONSTRAINT meters_serial_check CHECK (serial ~ '^[A-Za-z0-9._-]{{1,64}}$'),
    resource     text NOT NULL CONSTRAINT meters_resource_check CHECK (resource IN {RESOURCES}),
    kind         text NOT NULL CONSTRAINT meters_kind_check
                 CHECK (kind IN ('flat', 'building', 'dma_inlet', 'source')),
    building_id  bigint REFERENCES buildings(id) ON DELETE CASCADE,
    premises_id  bigint REFERENCES premises(id) ON DELETE CASCADE,
    dma_id       integer REFERENCES dmas(id) ON DELETE SET NULL,
    install_date date NOT NULL,
    removed_on   date,
    CONSTRAINT meters_flat_has_premises CHECK (kind <> 'flat' OR premises_id IS NOT NULL),
    CONSTRAINT meters_building_has_building CHECK (kind <> 'building' OR building_id IS NOT NULL)
);
CREATE INDEX meters_building_idx ON meters (building_id);
CREATE INDEX meters_premises_idx ON meters (premises_id);
CREATE INDEX meters_dma_idx ON meters (dma_id);

CREATE TABLE meter_readings (
    meter_id    bigint NOT NULL REFERENCES meters(id) ON DELETE CASCADE,
    ts          timestamptz NOT NULL,
    total       double precision NOT NULL CONSTRAINT meter_readings_total_check CHECK (total >= 0),
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (meter_id, ts)
);

CREATE TABLE meter_rejects (
    id          bigserial PRIMARY KEY,
    topic       text NOT NULL,
    payload     text NOT NULL,
    reason      text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX meter_rejects_received_idx ON meter_rejects (received_at DESC);

ALTER TABLE audit_events DROP CONSTRAINT audit_events_action_check;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_action_check
    CHECK (action ~ '^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)+$');
ALTER TABLE audit_events DROP CONSTRAINT audit_events_object_type_check;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_object_type_check
    CHECK (object_type IS NULL OR object_type ~ '^[a-z][a-z0-9_]{{0,39}}$');
"""

DOWN = """
DROP TABLE IF EXISTS meter_rejects;
DROP TABLE IF EXISTS meter_readings;
DROP TABLE IF EXISTS meters;
DROP TABLE IF EXISTS dmas;
DROP TABLE IF EXISTS charge_lines;
DROP TABLE IF EXISTS charges;
DROP TABLE IF EXISTS billing_periods;
DROP TABLE IF EXISTS tariffs;
DROP TABLE IF EXISTS accounts;
DROP TABLE IF EXISTS premises;
ALTER TABLE incidents DROP COLUMN IF EXISTS responsible_org_id;
ALTER TABLE networks DROP COLUMN IF EXISTS utility_id;
ALTER TABLE buildings DROP COLUMN IF EXISTS management_company_id, DROP COLUMN IF EXISTS house_guid;
DROP TABLE IF EXISTS organisations;
"""


def upgrade() -> None:
    op.execute(UP)


def downgrade() -> None:
    # the audit checks stay as patterns: rows written since may use actions the old list lacks
    op.execute(DOWN)
