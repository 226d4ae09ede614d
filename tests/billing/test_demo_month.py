"""``billing demo-month`` on a small star-shaped network: the outages made through the use-cases have
the intended intervals, a rerun adds nothing, and the billed month's reduction lines name the outages
with hand-computed hours."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from sqlalchemy import Engine, text

from apps.demo.billing import access_code, load_billing_demo
from apps.demo.billing_month import (
    ACTIVE_SINCE,
    DEMO_AUTHOR,
    guide,
    load_demo_month,
    previous_period,
)
from billing.rule import month_bounds
from billing.rules_file import load_billing_rules
from billing.tariffs import load_tariffs
from ops.base import utcnow
from settings import ROOT
from tests.billing.city import run_cli

RULES = ROOT / "billing" / "rules" / "helsinki.yaml"
SEED = 5


def _square(lon: float, lat: float, half: float = 0.0001) -> str:
    return (f"POLYGON(({lon-half} {lat-half/2}, {lon+half} {lat-half/2}, {lon+half} {lat+half/2}, "
            f"{lon-half} {lat+half/2}, {lon-half} {lat-half/2}))")


@pytest.fixture()
def star(clean_engine: Engine) -> Iterator[dict[str, list[int]]]:
    """A source S with four dead-end pipes, each behind its own valve at S: pipe A feeds three
    residential buildings, B two, C one, D one (so A, B, C are the demo month's areas, in that order;
    D is the spare)."""
    from ops import network as net_ops

    net_ops._indexes.clear()   # the isolation index is cached per (database, network id, revision)
    areas: dict[str, list[int]] = {}
    with clean_engine.begin() as conn:
        net = conn.execute(text("INSERT INTO networks (name, resource) VALUES ('cw', 'cold_water') RETURNING id")).scalar_one()
        point = "ST_SetSRID(ST_MakePoint(:x, :y), 4326)"
        s = conn.execute(text(f"INSERT INTO nodes (network_id, ext_id, kind, geom) VALUES (:n, 'S', 'source', {point}) "
                              "RETURNING id"), {"n": net, "x": 24.94, "y": 60.17}).scalar_one()
        for k, (name, dx, dy, count) in enumerate((("A", 0.004, 0, 3), ("B", -0.004, 0, 2), ("C", 0, 0.003, 1),
                                                         ("D", 0, -0.003, 1))):
            end = conn.execute(text(f"INSERT INTO nodes (network_id, ext_id, kind, geom) VALUES (:n, :e, 'junction', "
                                    f"{point}) RETURNING id"), {"n": net, "e": f"N{name}", "x": 24.94 + dx,
                                                               "y": 60.17 + dy}).scalar_one()
            pipe = conn.execute(text(
                "INSERT INTO pipes (network_id, ext_id, from_node, to_node, diameter_mm, geom) VALUES (:n, :e, :a, :b, "
                "150, ST_SetSRID(ST_MakeLine(ST_MakePoint(24.94, 60.17), ST_MakePoint(:x, :y)), 4326)) RETURNING id"),
                {"n": net, "e": f"P{name}", "a": s, "b": end, "x": 24.94 + dx, "y": 60.17 + dy}).scalar_one()
            conn.execute(text(f"INSERT INTO valves (network_id, ext_id, pipe_id, node_id, geom) VALUES (:n, :e, :p, :s, "
                              f"{point})"), {"n": net, "e": f"V{name}", "p": pipe, "s": s, "x": 24.94 + dx / 10,
                                            "y": 60.17 + dy / 10})
            ids = []
            for i in range(count):
                lon, lat = 24.94 + dx * (i + 1) / 4 + 0.0003, 60.17 + dy * (i + 1) / 4 + 0.0003
                b = conn.execute(text("INSERT INTO buildings (address, kind, residents, levels, geom) VALUES "
                                      "(:a, 'residential', :r, 4, ST_GeomFromText(:g, 4326)) RETURNING id"),
                                 {"a": f"Demokatu {k * 10 + i + 1}", "r": 10 + 3 * i, "g": _square(lon, lat)}).scalar_one()
                conn.execute(text("INSERT INTO service_connections (building_id, pipe_id, network_id, geom) VALUES "
                                  "(:b, :p, :n, ST_SetSRID(ST_MakeLine(ST_MakePoint(:x, :y), ST_MakePoint(:x, :y)), 4326))"),
                             {"b": b, "p": pipe, "n": net, "x": lon, "y": lat})
                ids.append(int(b))
            areas[name] = ids
            areas[f"pipe{name}"] = [int(pipe)]
        load_billing_demo(conn, seed=SEED, book=load_tariffs())
        # a subscriber in area A: the past outages' notices are dropped, the active one's stays pending
        conn.execute(text("INSERT INTO subscriptions (building_id, email, unsubscribe_token, confirmed_at) VALUES (:b, 'a@example.org', "
                          "'tok-demo-month', now())"), {"b": areas["A"][0]})
    yield areas
    net_ops._indexes.clear()


def _hours(a, b) -> float:
    return (b - a).total_seconds() / 3600


def test_demo_month_outages_reductions_and_rerun(star: dict[str, list[int]], clean_engine: Engine, db_url: str,
                                                 monkeypatch, capsys) -> None:
    rules = load_billing_rules(RULES)
    zone = rules.zone
    now = utcnow()
    period = previous_period(now, zone)
    month_start, month_end = month_bounds(period, zone)
    out = load_demo_month(rules_file=RULES, bind=clean_engine, now=now)
    assert out["period"] == period and set(out["outages"]) == {"burst", "repair", "valve", "flushing", "now"}
    ids = out["outages"]

    with clean_engine.connect() as conn:
        rows = {r.id: r for r in conn.execute(text(
            "SELECT id, kind, state, actual_start, actual_end, planned_end, created_by, started_by, ended_by "
            "FROM outages ORDER BY id"))}
        buildings = {oid: sorted(int(r[0]) for r in conn.execute(text(
            "SELECT building_id FROM outage_buildings WHERE outage_id = :o"), {"o": oid})) for oid in rows}
    assert len(rows) == 5
    # the intended intervals, in the region's local time of the previous month
    local = {k: (rows[ids[k]].actual_start.astimezone(zone), rows[ids[k]].actual_end) for k in ids}
    y, m = int(period[:4]), int(period[5:7])
    expect = {"burst": ((8, 21, 10), 12.5, "emergency", "A"), "repair": ((14, 8, 0), 7.0, "emergency", "B"),
              "valve": ((14, 12, 0), 6.5, "planned", "B"), "flushing": ((21, 10, 0), 4.0, "planned", "C")}
    for key, ((day, hh, mm), hours, kind, area) in expect.items():
        start, end = local[key]
        o = rows[ids[key]]
        assert (start.year, start.month, start.day, start.hour, start.minute) == (y, m, day, hh, mm), key
        assert _hours(start, end) == hours and (o.kind, o.state) == (kind, "restored"), key
        assert buildings[ids[key]] == star[area], key
        assert o.created_by == o.started_by == o.ended_by == DEMO_AUTHOR
    active = rows[ids["now"]]
    assert active.state == "active" and active.actual_end is None and buildings[ids["now"]] == star["A"]
    assert abs((now - ACTIVE_SINCE) - active.actual_start) < timedelta(minutes=1)
    assert active.planned_end > now + timedelta(hours=2)

    with clean_engine.connect() as conn:
        lines = conn.execute(text("""
            SELECT p.building_id, cl.outage_ids, cl.quantity, cl.amount_rub, cl.details, c.charged_rub, c.service
            FROM charge_lines cl JOIN charges c ON c.id = cl.charge_id JOIN accounts a ON a.id = c.account_id
            JOIN premises p ON p.id = a.premises_id WHERE cl.kind = 'reduction' AND c.period = :p
        """), {"p": month_start.astimezone(zone).date()}).all()
        state = conn.execute(text("SELECT state FROM billing_periods")).scalars().all()
        accounts = dict(conn.execute(text("SELECT p.building_id, count(*) FROM accounts a JOIN premises p "
                                          "ON p.id = a.premises_id GROUP BY 1")).all())
        authors = set(conn.execute(text("SELECT DISTINCT actor FROM audit_events")).scalars())
        outbox = dict(conn.execute(text("SELECT outage_id, string_agg(DISTINCT state, ',') FROM notice_outbox "
                                        "GROUP BY 1")).all())
    assert state == ["closed"]
    # the active outage reaches into the previous month only when this runs in the first hours of a month
    spill = max(0.0, _hours(active.actual_start, month_end))
    by_building: dict[int, list] = {}
    for row in lines:
        by_building.setdefault(row.building_id, []).append(row)
    # area A: 12.5 h (+ spill) − 8 h; area B: 7 h ∪ 6.5 h overlapping 3 h = 10.5 h − 8 h; area C: 4 h, none
    want = {b: (12.5 + spill, sorted([ids["burst"]] + ([ids["now"]] if spill else []))) for b in star["A"]}
    want |= {b: (10.5, sorted([ids["repair"], ids["valve"]])) for b in star["B"]}
    assert set(by_building) == set(want)
    for b, found in by_building.items():
        hours, outage_ids = want[b]
        assert len(found) == accounts[b]           # one cold-water reduction per account
        for row in found:
            excess = Decimal(str(hours - 8))
            pct = excess * Decimal("0.15")
            assert row.service == "cold_water" and sorted(row.outage_ids) == outage_ids
            assert Decimal(str(row.details["interruption_h"])) == Decimal(str(hours))
            assert Decimal(str(row.quantity)) == excess and Decimal(str(row.details["pct"])) == pct
            assert -row.amount_rub == (row.charged_rub * pct / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    # the residents' page explains the area-B line with both outages and when they were off (local time)
    from apps.http.resident.account import explain
    from resident.texts import Texts

    row = by_building[star["B"][0]][0]
    said = explain({"kind": "reduction", "outage_ids": row.outage_ids, "details": row.details}, Texts("ru", zone))
    assert said == (f"−0,375 %: 2,5 ч сверх допустимых 8 ч, отключения №{ids['repair']} (14.{m:02d}.{y} 08:00 – 15:00), "
                    f"№{ids['valve']} (14.{m:02d}.{y} 12:00 – 18:30)")
    assert authors == {"cli:demo"}
    assert outbox == {ids["burst"]: "dropped", ids["now"]: "pending"}

    # what make demo prints: the address with the active outage, an account there and its demo code
    g = guide(seed=SEED, bind=clean_engine)
    assert g is not None and g["active"] and g["building_id"] == star["A"][-1] and g["address"] == "Demokatu 3"
    assert g["code"] == access_code(SEED, g["account"]) and g["account"].startswith(f"77{star['A'][-1]:05d}")

    # a rerun adds nothing, through the command as make demo calls it
    code, text_out, err = run_cli(monkeypatch, capsys, db_url, "demo-month", "--if-missing", "--seed", str(SEED),
                                  env={"ZHKH_BILLING_RULES_FILE": str(RULES)})
    assert code == 0, err
    assert "exists already" in text_out and "Demokatu 3" in text_out and g["code"] in text_out
    with clean_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM outages")).scalar() == 5
        assert conn.execute(text("SELECT count(*) FROM audit_events WHERE action = 'billing.run'")).scalar() == 1


def test_demo_month_is_refused_in_production(clean_engine: Engine, db_url: str, monkeypatch, capsys) -> None:
    code, _, err = run_cli(monkeypatch, capsys, db_url, "demo-month", env={"ZHKH_ENV": "production"})
    assert code == 2 and "refused in production" in err and err.count("\n") == 1
    with clean_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM outages")).scalar() == 0


@pytest.mark.parametrize("state", ["active", "restored"])
def test_an_area_someone_else_cut_off_is_not_taken(state: str, star: dict[str, list[int]], clean_engine: Engine) -> None:
    """On a demo database others wrote to (an outage left open, one restored this month), the demo month
    takes the next pipes (B, C, D), so its figures stay the hand-computed ones."""
    with clean_engine.begin() as conn:
        oid = conn.execute(text("""
            INSERT INTO outages (network_id, state, kind, reason, pipe_ids, planned_start, planned_end, actual_start,
                                 actual_end, created_by, approved_by)
            SELECT id, :state, 'emergency', 'not the demo', ARRAY[:p]::bigint[], now() - interval '3 hours',
                   now() + interval '4 hours', now() - interval '2 hours',
                   CASE WHEN :state = 'restored' THEN now() - interval '1 hour' END, 'ivanova', 'ivanova'
            FROM networks RETURNING id"""), {"p": star["pipeA"][0], "state": state}).scalar_one()
        conn.execute(text("INSERT INTO outage_buildings (outage_id, building_id) SELECT :o, unnest(CAST(:b AS bigint[]))"),
                     {"o": oid, "b": star["A"]})
    out = load_demo_month(rules_file=RULES, bind=clean_engine)
    assert [out["areas"][k]["pipe"] for k in "ABC"] == [star["pipeB"][0], star["pipeC"][0], star["pipeD"][0]]
    assert out["guide"]["building_id"] in star["B"]
    with clean_engine.connect() as conn:
        assert conn.execute(text("SELECT state FROM outages WHERE id = :o"), {"o": oid}).scalar() == state
