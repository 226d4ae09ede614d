"""The tiny district of the incidents tests with what a resident looks at: an active cold-water outage
on building 2 (started 5 h 40 min ago), planned works on building 3, an account in building 2 with
the month's charges — a consumption line and a reduction line naming an outage — written as the
billing run writes them (migration 0007's tables)."""
from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, text

from tests.incidents.conftest import City, city  # noqa: F401 - the fixture, re-exported

ACCOUNT = "100200300"
CODE = "K7-4419"
REASON = "Прорыв <b>трубы</b> на Маннергейма"


@dataclass(frozen=True)
class Scene:
    city: City
    active_outage: int
    planned_outage: int
    reduction_outage: int
    started: datetime
    account: str
    code: str


def build_scene(engine: Engine, c: City, now: datetime) -> Scene:
    started = now - timedelta(hours=5, minutes=40)
    b1, b2, b3 = c.building_ids[:3]
    with engine.begin() as conn:
        def outage(state: str, kind: str, reason: str, ps: datetime, pe: datetime, a_s: datetime | None,
                   a_e: datetime | None, buildings: list[int]) -> int:
            oid = conn.execute(text("""
                INSERT INTO outages (network_id, state, kind, reason, pipe_ids, planned_start, planned_end,
                                     actual_start, actual_end, created_by, approved_by)
                VALUES (:n, :s, :k, :r, ARRAY[:p]::bigint[], :ps, :pe, :as_, :ae, 'ivanova', 'ivanova') RETURNING id
            """), {"n": c.network_id, "s": state, "k": kind, "r": reason, "p": c.pipe_ids[1], "ps": ps, "pe": pe,
                   "as_": a_s, "ae": a_e}).scalar_one()
            for b in buildings:
                conn.execute(text("INSERT INTO outage_buildings (outage_id, building_id) VALUES (:o, :b)"),
                             {"o": oid, "b": b})
            return int(oid)

        active = outage("active", "emergency", REASON, started, now + timedelta(hours=2), started, None, [b2])
        planned = outage("planned", "planned", "Замена задвижки", now + timedelta(days=20),
                         now + timedelta(days=20, hours=6), None, None, [b3])
        # last month's long outage: the one the bill's reduction line names
        old = outage("restored", "emergency", "Авария", now - timedelta(days=40), now - timedelta(days=40) + timedelta(hours=14),
                     now - timedelta(days=40), now - timedelta(days=40) + timedelta(hours=14), [b2])
        premises = conn.execute(text("INSERT INTO premises (building_id, number, area_m2) VALUES (:b, '12', 54.3) "
                                     "RETURNING id"), {"b": b2}).scalar_one()
        acc = conn.execute(text("""
            INSERT INTO accounts (number, premises_id, holder_name, residents, area_m2, access_code_hash)
            VALUES (:n, :p, 'Петрова Анна Сергеевна', 2, 54.3, :h) RETURNING id
        """), {"n": ACCOUNT, "p": premises, "h": hashlib.sha256(CODE.encode()).hexdigest()}).scalar_one()
        period = (now.replace(day=1) - timedelta(days=1)).replace(day=1).date()
        conn.execute(text("INSERT INTO billing_periods (period, state) VALUES (:p, 'draft')"), {"p": period})
        charge = conn.execute(text("""
            INSERT INTO charges (period, account_id, service, basis, quantity, unit, price_rub, charged_rub,
                                 reduction_rub, total_rub)
            VALUES (:p, :a, 'cold_water', 'normative', 9.2, 'm3', 52.41, 482.17, 4.34, 477.83) RETURNING id
        """), {"p": period, "a": acc}).scalar_one()
        conn.execute(text("""
            INSERT INTO charge_lines (charge_id, kind, quantity, unit, amount_rub, outage_ids, details) VALUES
            (:c, 'consumption', 9.2, 'm3', 482.17, '{}', '{"basis": "normative"}'),
            (:c, 'reduction', 6, 'h', -4.34, ARRAY[:o]::bigint[],
             '{"interruption_h": "14.0000", "allowance_h": "8.0000", "excess_h": "6.0000", "pct": "0.900000"}')
        """), {"c": charge, "o": old})
    return Scene(c, active, planned, old, started, ACCOUNT, CODE)


@pytest.fixture()
def scene(city: City, clean_engine: Engine) -> Iterator[Scene]:  # noqa: F811
    yield build_scene(clean_engine, city, datetime.now(timezone.utc))
