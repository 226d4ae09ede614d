"""DMAs on a hand-made network in PostGIS: derivation, the daily balance, the night check raising one
incident per alarm (notes while it persists, cleared after normal nights), drawn DMAs, the CLI."""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, text

from auth.errors import PermissionDenied
from auth.model import Actor
from dma import service, store
from dma.rules import DmaRules
from ops import dma
from tests.dma.nets import build_net
from tests.dma.nets import write_hourly as _write

TZ = "Europe/Helsinki"           # UTC+2 in March (before the DST change on 29 March)
UTC = timezone.utc
D0 = date(2026, 3, 1)            # first day of readings
CLI = Actor.cli("cli:test")
PLANNER = Actor("petrov", "planner")
RULES = DmaRules(baseline_nights=3, min_history_nights=2, rise_pct=30, rise_abs_m3h=0.5, clear_after_nights=2)


@pytest.fixture()
def net(clean_engine: Engine) -> dict:
    return build_net(clean_engine)


def test_derive_cuts_at_closed_valves_and_inlets_and_signs_the_flows(net: dict, clean_engine: Engine) -> None:
    with clean_engine.begin() as c:
        out = dma.derive_on(c, CLI)
        again = dma.derive_on(c, CLI)
    assert sorted(d["pipes"] for d in out) == [2, 3]
    assert [(d["id"], d["name"]) for d in again] == [(d["id"], d["name"]) for d in out]   # stable ids and names
    with clean_engine.connect() as c:
        dmas = {d["pipes"]: d for d in store.list_dmas(c)}
        fl = store.flows(c)
        members = {r.dma_id: r.building_id for r in c.execute(text("SELECT dma_id, building_id FROM dma_buildings"))}
        audit_rows = c.execute(text("SELECT count(*) FROM audit_events WHERE action = 'dma.derive'")).scalar()
        gtype = c.execute(text("SELECT DISTINCT GeometryType(geom) FROM dmas")).scalars().all()
    a, b = dmas[2], dmas[3]
    assert sorted(fl[a["id"]]) == sorted([(net["M1"], 1), (net["M2"], -1)])
    assert fl[b["id"]] == [(net["M2"], 1)]
    assert members == {a["id"]: net["b1"], b["id"]: net["b2"]}
    assert gtype == ["MULTIPOLYGON"] and audit_rows == 2


def test_balance_per_local_day_with_nrw_and_no_data(net: dict, clean_engine: Engine) -> None:
    # building 1 uses 1 m³/h, building 2 uses 2 m³/h; B loses 0.5 m³/h, A loses 1 m³/h
    _write(clean_engine, net["B1"], lambda t: 1.0, 3)
    _write(clean_engine, net["B2"], lambda t: 2.0, 3)
    _write(clean_engine, net["M2"], lambda t: 2.5, 3)
    # M1 misses the readings round local midnight of 3 March (22:00 UTC ± 4 h): that day has no inflow
    gap = {datetime(2026, 3, 2, 22, tzinfo=UTC) + timedelta(hours=k) for k in range(-4, 5)}
    _write(clean_engine, net["M1"], lambda t: 4.5, 3, skip=gap)
    with clean_engine.begin() as c:
        dma.derive_on(c, CLI)
    with clean_engine.connect() as c:
        rows = service.balance(c, D0, date(2026, 3, 3), rules=RULES, tz=TZ)
    by = {(r.dma, r.day): r for r in rows}
    with clean_engine.connect() as c:
        size = {d["name"]: d["pipes"] for d in store.list_dmas(c)}
    a = next(n for n, k in size.items() if k == 2)
    b = next(n for n, k in size.items() if k == 3)
    ra = by[(a, D0)]
    assert ra.inflow_m3 == pytest.approx(48.0)          # (4.5 − 2.5) × 24
    assert ra.billed_m3 == pytest.approx(24.0) and ra.nrw_m3 == pytest.approx(24.0) and ra.nrw_pct == pytest.approx(50.0)
    rb = by[(b, D0)]
    assert (rb.inflow_m3, rb.billed_m3, rb.nrw_m3) == pytest.approx((60.0, 48.0, 12.0))
    assert rb.nrw_pct == pytest.approx(20.0) and rb.mnf_m3h == pytest.approx(2.5)
    # 3 March: M1 has no total at local midnight -> A's inflow is unknown, not zero; B is unaffected
    assert by[(a, date(2026, 3, 3))].inflow_m3 is None and by[(a, date(2026, 3, 3))].nrw_pct is None
    assert by[(b, date(2026, 3, 3))].inflow_m3 == pytest.approx(60.0)
    # 4 March was never read
    with clean_engine.connect() as c:
        later = service.balance(c, date(2026, 3, 4), date(2026, 3, 4), rules=RULES, tz=TZ)
    assert all(r.inflow_m3 is None and r.billed_m3 is None and r.mnf_m3h is None for r in later)


def _night_rate(base: float, leak_nights: set[int]):
    def rate(t: datetime) -> float:
        night = 2 <= t.hour < 4 or (t.hour == 4 and t.minute == 0)
        extra = 3.0 if t.day in leak_nights else 0.0
        return (base if night else base * 4) + extra
    return rate


def test_night_check_raises_one_incident_notes_while_high_and_clears(net: dict, clean_engine: Engine) -> None:
    # B (fed by M2 only) has 2 m³/h at night; a leak of +3 m³/h on the 5th, 6th and 7th
    leak = {5, 6, 7}
    _write(clean_engine, net["M2"], _night_rate(2.0, leak), 10)
    _write(clean_engine, net["M1"], lambda t: 20.0, 10)
    with clean_engine.begin() as c:
        dma.derive_on(c, CLI)
        b_id = next(d["id"] for d in store.list_dmas(c) if d["pipes"] == 3)
    actions = {}
    now = datetime(2026, 3, 11, 12, tzinfo=UTC)
    for k in range(1, 11):
        with clean_engine.begin() as c:
            res = {r["dma_id"]: r for r in dma.check_night_on(c, CLI, date(2026, 3, k), rules=RULES, tz=TZ, now=now, lang="en")}
        actions[k] = (res[b_id]["verdict"], res[b_id]["action"])
    assert actions[1] == ("learning", "wait") and actions[2] == ("learning", "wait")
    assert actions[3] == ("normal", "quiet")
    assert actions[5] == ("high", "raise") and actions[6] == ("high", "persist") and actions[7] == ("high", "persist")
    assert actions[8] == ("normal", "recovering") and actions[9] == ("normal", "clear")
    with clean_engine.connect() as c:
        inc = c.execute(text("SELECT * FROM incidents")).mappings().all()
        alarm = c.execute(text("SELECT * FROM dma_alarms WHERE dma_id = :d"), {"d": b_id}).mappings().one()
        notes = c.execute(text("SELECT author, body FROM incident_notes ORDER BY id")).all()
        first_event = c.execute(text("SELECT actor FROM incident_events ORDER BY id LIMIT 1")).scalar()
        audits = [r[0] for r in c.execute(text("SELECT action FROM audit_events WHERE actor = 'sensor:dma' ORDER BY id"))]
        baseline_on_7 = c.execute(text("SELECT baseline_m3h FROM dma_nights WHERE dma_id = :d AND day = '2026-03-07'"),
                                  {"d": b_id}).scalar()
    assert len(inc) == 1                                     # deduplicated while the alarm persists
    i = inc[0]
    assert (i["channel"], i["category"], i["priority"]) == ("sensor", "burst", "urgent")
    assert i["attributes"] == {"dma_id": b_id} and "5.00" in i["description"] and "2.00" in i["description"]
    assert first_event == "sensor:dma"
    assert alarm["state"] == "cleared" and alarm["incident_id"] == i["id"]
    assert alarm["opened_on"] == date(2026, 3, 5) and alarm["last_high_on"] == date(2026, 3, 7)
    assert alarm["cleared_on"] == date(2026, 3, 9) and alarm["peak_mnf_m3h"] == pytest.approx(5.0)
    assert [a for a, _ in notes] == ["sensor:dma"] * 3 and "back to normal" in notes[-1][1]
    assert audits == ["dma.alarm_raise", "incident.note_add", "incident.note_add", "incident.note_add", "dma.alarm_clear"]
    assert baseline_on_7 == pytest.approx(2.0)               # the high nights stay out of the baseline
    # judging a night again changes nothing
    with clean_engine.begin() as c:
        again = {r["dma_id"]: r for r in dma.check_night_on(c, CLI, date(2026, 3, 6), rules=RULES, tz=TZ, now=now)}
        assert again[b_id]["action"] == "already_checked"
        assert c.execute(text("SELECT count(*) FROM incident_notes")).scalar() == 3


def test_a_drawn_dma_holds_what_lies_inside(net: dict, clean_engine: Engine) -> None:
    poly = {"type": "Polygon", "coordinates": [[[24.938, 60.1715], [24.950, 60.1715], [24.950, 60.175],
                                                 [24.938, 60.175], [24.938, 60.1715]]]}
    with clean_engine.begin() as c:
        d = dma.draw_on(c, Actor("petrov", "admin"), network_id=net["net"], name="North", geojson={"type": "Feature", "geometry": poly})
    assert d["pipes"] == 2 and d["buildings"] == 1                  # p3 and p4 (midpoints inside), b2 on p4
    with clean_engine.connect() as c:
        pipes = {r[0] for r in c.execute(text("SELECT pipe_id FROM dma_pipes WHERE dma_id = :d"), {"d": d["id"]})}
    assert pipes == {net["p3"], net["p4"]}
    for bad, msg in (({"type": "Point", "coordinates": [24.9, 60.1]}, "Polygon"),
                     ({"type": "Polygon", "coordinates": [[[24.9, 60.1], [24.95, 60.1], [24.9, 60.2]]]}, "closed"),
                     ({"type": "Polygon", "coordinates": [[[2490, 60.1], [24.95, 60.1], [24.9, 60.2], [2490, 60.1]]]}, "degrees")):
        with clean_engine.begin() as c, pytest.raises(service.DmaError, match=msg):
            dma.draw_on(c, Actor("petrov", "admin"), network_id=net["net"], name="Bad", geojson=bad)
    with clean_engine.begin() as c, pytest.raises(service.DmaError, match="already has"):
        dma.draw_on(c, Actor("petrov", "admin"), network_id=net["net"], name="North", geojson=poly)
    with clean_engine.begin() as c, pytest.raises(service.DmaError, match="HTML"):
        dma.draw_on(c, Actor("petrov", "admin"), network_id=net["net"], name="<b>x</b>", geojson=poly)


def test_changes_need_data_import_and_are_audited_by_the_use_case(net: dict, clean_engine: Engine) -> None:
    poly = {"type": "Polygon", "coordinates": [[[24.938, 60.1715], [24.950, 60.1715], [24.950, 60.175],
                                                 [24.938, 60.175], [24.938, 60.1715]]]}
    for change in (lambda: dma.derive(PLANNER, bind=clean_engine),
                   lambda: dma.draw(PLANNER, name="North", geojson=poly, bind=clean_engine),
                   lambda: dma.check_night(PLANNER, D0, bind=clean_engine)):
        with pytest.raises(PermissionDenied):
            change()
    d = dma.draw(Actor("petrov", "admin"), name="North", geojson=poly, bind=clean_engine)   # the first water network
    with clean_engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM dmas")).scalar() == 1
        who = c.execute(text("SELECT actor, object_id FROM audit_events WHERE action = 'dma.draw'")).one()
    assert tuple(who) == ("petrov", str(d["id"]))
    assert [r["id"] for r in dma.overview(PLANNER, until=D0, bind=clean_engine).dmas] == [d["id"]]   # planners read


def _cli(db_url: str, *args: str) -> subprocess.CompletedProcess:
    import os

    from settings import ROOT

    env = {**os.environ, "DATABASE_URL": db_url,
           "ZHKH_SLA_RULES_FILE": str(ROOT / "incidents" / "rules" / "helsinki.yaml")}   # the region's days
    return subprocess.run([sys.executable, "-m", "dma", *args], capture_output=True, text=True, env=env, timeout=60)


def test_cli_balance_json_and_bad_input(net: dict, clean_engine: Engine, db_url: str, tmp_path) -> None:
    _write(clean_engine, net["B1"], lambda t: 1.0, 2)
    _write(clean_engine, net["B2"], lambda t: 2.0, 2)
    _write(clean_engine, net["M2"], lambda t: 2.5, 2)
    _write(clean_engine, net["M1"], lambda t: 4.5, 2)
    r = _cli(db_url, "derive", "--json")
    assert r.returncode == 0, r.stderr
    r = _cli(db_url, "balance", "--from", "2026-03-01", "--to", "2026-03-01", "--json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert sorted((x["inflow_m3"], x["billed_m3"]) for x in rows) == [(48.0, 24.0), (60.0, 48.0)]
    for args, msg in ((("balance", "--from", "2026-13-01", "--to", "2026-03-01"), "not a date"),
                      (("balance", "--from", "2026-03-02", "--to", "2026-03-01"), "before"),
                      (("check-night", "--date", "x\x01"), "not a date"),
                      (("derive", "--network", "999"), "no network")):
        r = _cli(db_url, *args)
        assert r.returncode == 2 and msg in r.stderr and len(r.stderr.strip().splitlines()) == 1, (args, r.stderr)
    bad = tmp_path / "bad.geojson"
    bad.write_text("{not json")
    r = _cli(db_url, "draw", "--name", "X", "--geojson", str(bad))
    assert r.returncode == 2 and "not JSON" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = _cli(db_url, "draw", "--name", "X", "--geojson", str(tmp_path / "missing.json"))
    assert r.returncode == 2 and "cannot read" in r.stderr
    with clean_engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM dmas WHERE source = 'drawn'")).scalar() == 0
