"""``billing run`` / ``billing close`` on a hand-built building: every figure computed by hand."""
from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from auth.model import Actor
from billing.rules_file import DEFAULT_RULES_FILE
from ops import billing as ops_billing
from settings import ROOT
from tests.billing.city import (
    Small,
    add_outage,
    build_small,
    msk,
    run_cli,
    write_tariffs,
)

ACTOR = Actor.cli("cli:tests")
D = Decimal


@pytest.fixture()
def small(clean_engine: Engine) -> Small:
    return build_small(clean_engine)


@pytest.fixture()
def tariffs(tmp_path: Path) -> Path:
    return write_tariffs(tmp_path)


def _run(engine: Engine, tariffs: Path, period: str = "2026-10", **kw):
    return ops_billing.run_period(ACTOR, period, tariffs_file=tariffs, rules_file=DEFAULT_RULES_FILE, bind=engine,
                                  now=msk(2026, 11, 27, 12), **kw)


def _charges(engine: Engine, period: str = "2026-10-01") -> dict[tuple[int, str], dict]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM charges WHERE period = :p"), {"p": period}).mappings().all()
        lines = conn.execute(text("SELECT l.* FROM charge_lines l JOIN charges c ON c.id = l.charge_id "
                                  "WHERE c.period = :p ORDER BY l.id"), {"p": period}).mappings().all()
    out = {}
    for r in rows:
        out[(r["account_id"], r["service"])] = {**r, "lines": [dict(ln) for ln in lines if ln["charge_id"] == r["id"]]}
    return out


def _line(charge: dict, kind: str) -> dict | None:
    found = [ln for ln in charge["lines"] if ln["kind"] == kind]
    assert len(found) <= 1
    return found[0] if found else None


def test_a_small_buildings_month_by_hand(clean_engine: Engine, small: Small, tariffs: Path) -> None:
    totals = _run(clean_engine, tariffs)
    c = _charges(clean_engine)
    a1, a2, a3 = small.accounts["1"], small.accounts["2"], small.accounts["3"]
    assert len(c) == 15 and totals["accounts"] == 3

    # cold water: flat 1 metered 8 m³; flat 2 normative 5 × 3; flat 3's meter has no reading before
    # October → normative 5 × 1. Building 38 m³ − 28 = 10 m³ common, by area 50/60/40 of 150 m².
    assert (c[(a1, "cold_water")]["basis"], c[(a1, "cold_water")]["quantity"]) == ("meter", D("8"))
    assert (c[(a2, "cold_water")]["basis"], c[(a2, "cold_water")]["quantity"]) == ("normative", D("15"))
    assert (c[(a3, "cold_water")]["basis"], c[(a3, "cold_water")]["quantity"]) == ("normative", D("5"))
    common = {a: _line(c[(a, "cold_water")], "common") for a in (a1, a2, a3)}
    assert [common[a]["quantity"] for a in (a1, a2, a3)] == [D("3.3333"), D("4.0000"), D("2.6667")]
    assert [common[a]["amount_rub"] for a in (a1, a2, a3)] == [D("166.67"), D("200.00"), D("133.34")]
    assert common[a1]["details"]["common_volume"] == "10.0000"
    assert [c[(a, "cold_water")]["charged_rub"] for a in (a1, a2, a3)] == [D("566.67"), D("950.00"), D("383.34")]

    # hot water (no building meter → no common share), sewer = cold + hot, heating by area, electricity
    assert [c[(a, "hot_water")]["charged_rub"] for a in (a1, a2, a3)] == [D("800.00"), D("1800.00"), D("600.00")]
    assert _line(c[(a1, "hot_water")], "common") is None
    assert [(c[(a, "sewer")]["quantity"], c[(a, "sewer")]["basis"]) for a in (a1, a2, a3)] == [
        (D("12"), "meter"), (D("24"), "normative"), (D("8"), "normative")]
    assert [c[(a, "sewer")]["charged_rub"] for a in (a1, a2, a3)] == [D("480.00"), D("960.00"), D("320.00")]
    assert [(c[(a, "heating")]["basis"], c[(a, "heating")]["charged_rub"]) for a in (a1, a2, a3)] == [
        ("area", D("2000.00")), ("area", D("2400.00")), ("area", D("1600.00"))]
    assert [c[(a, "electricity")]["charged_rub"] for a in (a1, a2, a3)] == [D("1000.00"), D("1500.00"), D("500.00")]

    # interruptions of cold water: A 10:00–20:00 and B 15:00–01:00 overlap → 15 h once; C adds its
    # 2 h inside October; the cancelled and the September outages count nothing. 17 h − 8 h = 9 h
    # → 1.35 % of the cold-water charge.
    red = {a: _line(c[(a, "cold_water")], "reduction") for a in (a1, a2, a3)}
    assert [red[a]["amount_rub"] for a in (a1, a2, a3)] == [D("-7.65"), D("-12.83"), D("-5.18")]
    assert [c[(a, "cold_water")]["reduction_rub"] for a in (a1, a2, a3)] == [D("7.65"), D("12.83"), D("5.18")]
    assert sorted(red[a1]["outage_ids"]) == sorted([small.outages["A"], small.outages["B"], small.outages["C"]])
    d = red[a1]["details"]
    assert (D(d["interruption_h"]), D(d["allowance_h"]), D(d["excess_h"]), D(d["pct"])) == (
        D("17"), D("8"), D("9"), D("1.35"))
    assert {o["id"] for o in d["outages"]} == set(red[a1]["outage_ids"])
    assert c[(a2, "cold_water")]["total_rub"] == D("937.17")
    # other services had no outages
    assert all(_line(ch, "reduction") is None for (a, s), ch in c.items() if s != "cold_water")

    assert D(totals["charged_rub"]) == D("15860.01")
    assert D(totals["reduction_rub"]) == D("25.66")
    assert D(totals["total_rub"]) == D("15834.35")
    with clean_engine.connect() as conn:
        ev = conn.execute(text("SELECT actor, action, object_id, details FROM audit_events "
                               "WHERE action = 'billing.run'")).one()
        assert ev.actor == "cli:tests" and ev.object_id == "2026-10" and ev.details["charges"] == 15
        assert conn.execute(text("SELECT count(*) FROM tariffs")).scalar() == 5


def test_a_rerun_replaces_the_draft(clean_engine: Engine, small: Small, tariffs: Path) -> None:
    first = _run(clean_engine, tariffs)
    again = _run(clean_engine, tariffs)
    assert again == first
    with clean_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM charges")).scalar() == 15
        lines = conn.execute(text("SELECT count(*) FROM charge_lines")).scalar()
    assert lines == 15 + 3 + 3  # consumption each, common and reduction on the three cold-water charges
    with clean_engine.begin() as conn:  # a resident registered late: the draft follows
        conn.execute(text("UPDATE accounts SET residents = 4 WHERE id = :a"), {"a": small.accounts["2"]})
    _run(clean_engine, tariffs)
    c = _charges(clean_engine)
    assert c[(small.accounts["2"], "electricity")]["charged_rub"] == D("2000.00")
    with clean_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM charges")).scalar() == 15


def test_a_closed_month_is_never_changed_and_corrections_go_to_the_next(
        clean_engine: Engine, small: Small, tariffs: Path, db_url: str) -> None:
    _run(clean_engine, tariffs, close=True)
    before = _charges(clean_engine)
    with pytest.raises(ops_billing.PeriodClosed):
        _run(clean_engine, tariffs)
    with pytest.raises(ops_billing.PeriodClosed):
        ops_billing.close_period(ACTOR, "2026-10", rules_file=DEFAULT_RULES_FILE, bind=clean_engine)

    # the command line: exit 2, one line, nothing changed
    env = {**os.environ, "DATABASE_URL": db_url, "ZHKH_BILLING_TARIFFS_FILE": str(tariffs),
           "ZHKH_BILLING_RULES_FILE": str(DEFAULT_RULES_FILE)}
    out = subprocess.run([sys.executable, "-m", "billing", "run", "--period", "2026-10"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "closed" in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert _charges(clean_engine) == before

    # an outage of 10 Oct recorded late: 10 h more in October → 27 h, excess 19 h, 2.85 %
    with clean_engine.begin() as conn:
        late = add_outage(conn, small.network_id, [small.building_id], msk(2026, 10, 20, 0), msk(2026, 10, 20, 10))
    nov = _run(clean_engine, tariffs, period="2026-11")
    c = _charges(clean_engine, "2026-11-01")
    a1 = small.accounts["1"]
    corr = _line(c[(a1, "cold_water")], "correction")
    # due now 566.67 × 2.85 % = 16.15; granted 7.65 → 8.50 back
    assert corr["amount_rub"] == D("-8.50") and corr["details"]["for_period"] == "2026-10"
    assert late in corr["outage_ids"]
    assert c[(a1, "cold_water")]["correction_rub"] == D("-8.50")
    assert c[(a1, "cold_water")]["total_rub"] == c[(a1, "cold_water")]["charged_rub"] - D("8.50")
    # flats 2 and 3: 950 and 383.34 at 2.85 % (27.08, 10.93) less what was granted (12.83, 5.18)
    assert D(nov["correction_rub"]) == D("-8.50") + D("-14.25") + D("-5.75")
    assert _charges(clean_engine) == before  # October untouched
    # November rerun: the same correction, not a second one
    _run(clean_engine, tariffs, period="2026-11")
    assert _line(_charges(clean_engine, "2026-11-01")[(a1, "cold_water")], "correction")["amount_rub"] == D("-8.50")
    # once November (with its correction) is closed, December corrects nothing more
    ops_billing.close_period(ACTOR, "2026-11", rules_file=DEFAULT_RULES_FILE, bind=clean_engine)
    dec = _run(clean_engine, tariffs, period="2026-12")
    assert D(dec["correction_rub"]) == 0
    with pytest.raises(ops_billing.PeriodClosed):  # a month before a closed one cannot be computed
        _run(clean_engine, tariffs, period="2026-09")


def test_bad_input_exits_2_with_one_line(clean_engine: Engine, db_url: str, tmp_path: Path, monkeypatch,
                                         capsys) -> None:
    for args in (["run", "--period", "2026-13"], ["run", "--period", "oct"], ["close", "--period", "2026-10"],
                 ["run", "--period", "2026-10", "--tariffs", str(tmp_path / "missing.yaml")], ["run"],
                 ["demo-code", "42"], ["demo"]):
        code, _, err = run_cli(monkeypatch, capsys, db_url, *args)
        assert code == 2, (args, err)
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    with clean_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM billing_periods")).scalar() == 0


def test_an_active_outage_counts_until_now(clean_engine: Engine, small: Small, tariffs: Path) -> None:
    with clean_engine.begin() as conn:
        active = add_outage(conn, small.network_id, [small.building_id], msk(2026, 11, 27, 0), None, state="active")
    # now = 27 Nov 12:00 → 12 h, 4 h beyond the allowance → 0.6 %; November has no readings: all
    # normative (flat 1: 2 × 5 m³ × 50 ₽ = 500 ₽) and no common share (no building volume)
    _run(clean_engine, tariffs, period="2026-11")
    ch = _charges(clean_engine, "2026-11-01")[(small.accounts["1"], "cold_water")]
    assert (ch["basis"], ch["charged_rub"], ch["reduction_rub"]) == ("normative", D("500.00"), D("3.00"))
    red = _line(ch, "reduction")
    assert red["outage_ids"] == [active] and red["details"]["outages"][0]["end"] is None
    assert _line(ch, "common") is None
