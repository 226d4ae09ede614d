"""A burst from report to restore through the application layer, on the demo city: the plan stays on the
outage, the report follows the outage, a stuck valve grows it in one step, overlapping approvals are
refused or merged, planned works are scheduled, and every step leaves an audit row with its author."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, text

from auth.errors import PermissionDenied
from auth.model import Actor
from incidents.errors import InvalidOutage, InvalidOutageTransition
from ops import audit_log, outages
from ops import incidents as reports
from ops import network as net_ops
from ops.base import utcnow
from ops.errors import OutageConflict
from tests.ops.conftest import Demo


def busiest_pipe(engine: Engine, network_id: int, skip: int = 0) -> tuple[int, float, float]:
    with engine.connect() as conn:
        row = conn.execute(text(
            """SELECT p.id, ST_X(ST_LineInterpolatePoint(p.geom, 0.5)) AS lon, ST_Y(ST_LineInterpolatePoint(p.geom, 0.5)) AS lat
               FROM pipes p JOIN service_connections sc ON sc.pipe_id = p.id WHERE p.network_id = :n
               GROUP BY p.id ORDER BY count(*) DESC, p.id OFFSET :skip LIMIT 1"""), {"n": network_id, "skip": skip}).one()
    return int(row.id), float(row.lon), float(row.lat)


def burst(actor: Actor, engine: Engine, lon: float, lat: float, text_: str = "Прорыв, вода на проезжей части") -> int:
    res = reports.take_report(actor, service_code="burst", lon=lon, lat=lat, description=text_, bind=engine)
    return res.incident.id


def trail(engine: Engine, kind: str, oid: int) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [(e["action"], e["actor"]) for e in audit_log.events_of(conn, kind, oid)]


def test_a_burst_from_report_to_restore(demo: Demo, actors: dict[str, Actor]) -> None:
    eng, net = demo.engine, demo.network_id
    pipe, lon, lat = busiest_pipe(eng, net)
    inc_id = burst(actors["operator"], eng, lon, lat)
    inc = reports.report(actors["dispatcher"], inc_id, bind=eng).incident
    assert inc.pipe_id == pipe and inc.network_id == net and inc.status == "new"

    plan = net_ops.plan(actors["dispatcher"], net, [pipe], bind=eng)
    assert plan.valves_to_close and plan.affected
    outage = outages.approve(actors["dispatcher"], network_id=net, break_pipe_ids=[pipe], incident_id=inc_id,
                             seen_plan=plan.fingerprint, bind=eng)
    assert (outage.state, outage.kind, outage.approved_by) == ("planned", "emergency", "ivanova")
    assert outage.valve_ids == [int(v["id"]) for v in plan.valves_to_close]     # crew order kept
    assert outage.break_pipe_ids == [pipe] and outage.buildings == len(plan.affected)
    after = reports.report(actors["dispatcher"], inc_id, bind=eng)
    assert after.incident.status == "dispatched" and after.incident.outage_id == outage.id
    assert [(e["from_status"], e["to_status"], e["actor"]) for e in after.history][1:] == [
        ("new", "accepted", "ivanova"), ("accepted", "dispatched", "ivanova")]

    # the plan stays visible on the outage: valves in crew order with points, addresses
    detail = outages.of_incident(actors["inspector"], inc_id, bind=eng)
    assert detail is not None and detail.outage.id == outage.id
    assert [v["order"] for v in detail.valves] == list(range(1, len(plan.valves_to_close) + 1))
    assert all(60.1 < v["lat"] < 60.2 for v in detail.valves)
    assert {b["id"] for b in detail.buildings} == {b["id"] for b in plan.affected}
    assert set(detail.pipe_geojson) == set(plan.result.isolated_links) | set(plan.result.unintended_links)

    # a "no water" call from a cut-off building before the valves are closed is not linked yet …
    victim = next(b for b in plan.affected if not b["unintended"])
    call = reports.take_report(actors["operator"], service_code="no_water", building_id=victim["id"],
                               description="Нет воды с утра", bind=eng).incident
    assert call.outage_id is None
    # … the crew closes the valves: active, the break in progress, the call linked
    active = outages.start(actors["dispatcher"], outage.id, bind=eng)
    assert active.state == "active" and active.actual_start is not None and active.started_by == "ivanova"
    assert reports.report(actors["dispatcher"], inc_id, bind=eng).incident.status == "in_progress"
    assert reports.report(actors["dispatcher"], call.id, bind=eng).incident.outage_id == outage.id

    restored = outages.restore(actors["dispatcher"], outage.id, bind=eng)
    assert restored.state == "restored" and restored.ended_by == "ivanova"
    for rid in (inc_id, call.id):
        got = reports.report(actors["dispatcher"], rid, bind=eng)
        assert got.incident.status == "resolved"
        assert got.history[-1]["note"] == f"outage #{outage.id} restored"
    assert trail(eng, "outage", outage.id) == [("outage.approve", "ivanova"), ("outage.start", "ivanova"),
                                               ("outage.restore", "ivanova")]
    with pytest.raises(InvalidOutageTransition, match="'restored' to 'restored'"):
        outages.restore(actors["dispatcher"], outage.id, bind=eng)


def stuck_candidate(demo: Demo, actor: Actor) -> tuple[int, int, float, float]:
    """A pipe and one of its valves whose failure grows the shutoff."""
    for skip in range(40):
        pipe, lon, lat = busiest_pipe(demo.engine, demo.network_id, skip)
        base = net_ops.plan(actor, demo.network_id, [pipe], bind=demo.engine)
        for v in base.valves_to_close:
            grown = net_ops.plan(actor, demo.network_id, [pipe], extra_inoperable=[v["id"]], bind=demo.engine)
            if len(grown.affected) > len(base.affected):
                return pipe, int(v["id"]), lon, lat
    pytest.fail("no valve whose failure grows a shutoff")


def test_a_stuck_valve_grows_the_outage_in_one_step(demo: Demo, actors: dict[str, Actor]) -> None:
    eng, net = demo.engine, demo.network_id
    pipe, valve, lon, lat = stuck_candidate(demo, actors["dispatcher"])
    inc_id = burst(actors["dispatcher"], eng, lon, lat)
    outage = outages.approve(actors["dispatcher"], network_id=net, break_pipe_ids=[pipe], incident_id=inc_id, bind=eng)
    outage = outages.start(actors["dispatcher"], outage.id, bind=eng)

    preview = outages.preview_extension(actors["inspector"], outage.id, [valve], bind=eng)   # a read: inspectors may
    assert preview.buildings_added and preview.residents_added > 0
    with pytest.raises(PermissionDenied, match="outages.approve"):
        outages.extend(actors["inspector"], outage.id, [valve], bind=eng)
    with pytest.raises(InvalidOutage, match="not valves outage"):
        outages.extend(actors["dispatcher"], outage.id, [999_999_999], bind=eng)

    grown = outages.extend(actors["dispatcher"], outage.id, [valve], reason="шпиндель сорван",
                           seen_plan=preview.plan.fingerprint, bind=eng)
    assert grown.id == outage.id and grown.buildings == outage.buildings + len(preview.buildings_added)
    assert valve not in grown.valve_ids and set(preview.valves_added) <= set(grown.valve_ids)
    with eng.connect() as conn:
        assert conn.execute(text("SELECT status FROM valves WHERE id = :v"), {"v": valve}).scalar_one() == "inoperable"
        added = conn.execute(text("SELECT count(*) FROM outage_buildings WHERE outage_id = :o AND added_at IS NOT NULL"),
                             {"o": outage.id}).scalar_one()
    assert added == len(preview.buildings_added)  # the new buildings are cut off from now, not from the start
    assert [a for a, _ in trail(eng, "outage", outage.id)] == ["outage.approve", "outage.start", "outage.extend"]
    valve_trail = audit_log.events(actors["admin"], audit_log.AuditFilter(object_type="valve", object_id=str(valve)),
                                   bind=eng)
    assert valve_trail[0]["details"]["to"] == "inoperable" and valve_trail[0]["reason"] == "шпиндель сорван"
    assert valve_trail[0]["details"]["outage_id"] == outage.id

    # a plan seen before the valve failed is no longer the plan: approving it is refused
    with pytest.raises(outages.PlanChanged):
        outages.extend(actors["dispatcher"], outage.id, [int(grown.valve_ids[0])], seen_plan=preview.plan.fingerprint,
                       bind=eng)
    # repaired again, audited
    net_ops.mark_valve(actors["planner"], valve, "repaired", reason="заменена", bind=eng)
    with eng.connect() as conn:
        assert conn.execute(text("SELECT status FROM valves WHERE id = :v"), {"v": valve}).scalar_one() == "open"
    with pytest.raises(PermissionDenied):
        net_ops.mark_valve(actors["operator"], valve, "stuck", bind=eng)


def test_two_reports_of_one_burst_never_make_two_outages(demo: Demo, actors: dict[str, Actor]) -> None:
    eng, net = demo.engine, demo.network_id
    pipe, lon, lat = busiest_pipe(eng, net)
    first = burst(actors["operator"], eng, lon, lat)
    second = burst(actors["operator"], eng, lon + 0.00001, lat, "Фонтан из люка")
    o1 = outages.approve(actors["dispatcher"], network_id=net, break_pipe_ids=[pipe], incident_id=first, bind=eng)
    assert [o.id for o in outages.preview_conflicts(actors["dispatcher"], net, [pipe], bind=eng)] == [o1.id]
    with pytest.raises(OutageConflict, match=f"#{o1.id}") as refused:
        outages.approve(actors["dispatcher"], network_id=net, break_pipe_ids=[pipe], incident_id=second, bind=eng)
    assert refused.value.outage_ids == [o1.id]
    merged = outages.approve(actors["dispatcher"], network_id=net, break_pipe_ids=[pipe], incident_id=second,
                             merge_into=o1.id, bind=eng)
    assert merged.id == o1.id and merged.pipe_ids == o1.pipe_ids
    with eng.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM outages WHERE state IN ('planned', 'active')")).scalar_one() == 1
    assert reports.report(actors["dispatcher"], second, bind=eng).incident.status == "dispatched"
    # the report is in an outage now: approving it again is refused, naming the outage
    with pytest.raises(OutageConflict, match=f"already in outage #{o1.id}"):
        outages.approve(actors["dispatcher"], network_id=net, break_pipe_ids=[pipe], incident_id=second, bind=eng)
    outages.start(actors["dispatcher"], o1.id, bind=eng)
    assert {reports.report(actors["dispatcher"], i, bind=eng).incident.status for i in (first, second)} == {"in_progress"}
    outages.restore(actors["dispatcher"], o1.id, bind=eng)
    assert {reports.report(actors["dispatcher"], i, bind=eng).incident.status for i in (first, second)} == {"resolved"}
    assert [a for a, _ in trail(eng, "outage", o1.id)] == ["outage.approve", "outage.merge", "outage.start",
                                                          "outage.restore"]


def test_a_second_break_nearby_merges_into_one_grown_outage(demo: Demo, actors: dict[str, Actor]) -> None:
    eng, net = demo.engine, demo.network_id
    pipe, _, _ = busiest_pipe(eng, net)
    plan = net_ops.plan(actors["dispatcher"], net, [pipe], bind=eng)
    # a pipe just beyond one of the valves: its own shutoff shares that valve
    with eng.connect() as conn:
        neighbour = conn.execute(text(
            "SELECT pipe_id FROM valves WHERE id = :v"), {"v": int(plan.valves_to_close[0]["id"])}).scalar_one()
        if neighbour in {int(p) for p in plan.result.isolated_links}:
            neighbour = conn.execute(text(
                "SELECT v2.pipe_id FROM valves v1 JOIN valves v2 ON v2.node_id = v1.node_id AND v2.pipe_id <> v1.pipe_id "
                "WHERE v1.id = :v ORDER BY v2.id LIMIT 1"), {"v": int(plan.valves_to_close[0]["id"])}).scalar_one()
    o1 = outages.approve(actors["dispatcher"], network_id=net, break_pipe_ids=[pipe], bind=eng)
    conflicts = outages.preview_conflicts(actors["dispatcher"], net, [neighbour], bind=eng)
    assert [c.id for c in conflicts] == [o1.id]  # the neighbouring segment shares a valve with the first shutoff
    both = net_ops.plan(actors["dispatcher"], net, [pipe, neighbour], bind=eng)
    merged = outages.approve(actors["dispatcher"], network_id=net, break_pipe_ids=[neighbour], merge_into=o1.id, bind=eng)
    assert merged.break_pipe_ids == sorted({pipe, int(neighbour)})
    assert set(merged.pipe_ids) == {int(p) for p in both.result.isolated_links}
    assert merged.valve_ids == [int(v["id"]) for v in both.valves_to_close]


def test_planned_works_are_scheduled_and_checked_for_overlaps(demo: Demo, actors: dict[str, Actor]) -> None:
    eng, net = demo.engine, demo.network_id
    pipe, _, _ = busiest_pipe(eng, net)
    start = utcnow() + timedelta(days=15)
    works = outages.schedule(actors["planner"], network_id=net, break_pipe_ids=[pipe], planned_start=start,
                             planned_end=start + timedelta(hours=6), reason="Замена задвижки", bind=eng)
    assert (works.kind, works.state, works.created_by) == ("planned", "planned", "petrov")
    with pytest.raises(OutageConflict, match=f"#{works.id}"):
        outages.schedule(actors["planner"], network_id=net, break_pipe_ids=[pipe], planned_start=start + timedelta(hours=2),
                         planned_end=start + timedelta(hours=8), reason="Промывка", bind=eng)
    later = outages.schedule(actors["planner"], network_id=net, break_pipe_ids=[pipe], planned_start=start + timedelta(days=1),
                             planned_end=start + timedelta(days=1, hours=4), reason="Промывка", bind=eng)
    assert later.id != works.id
    # an emergency today does not collide with works next month
    assert outages.preview_conflicts(actors["dispatcher"], net, [pipe], bind=eng) == []
    with pytest.raises(InvalidOutage, match="has passed"):
        outages.schedule(actors["planner"], network_id=net, break_pipe_ids=[pipe], planned_start=utcnow() - timedelta(hours=2),
                         planned_end=utcnow() + timedelta(hours=2), reason="x", bind=eng)
    with pytest.raises(InvalidOutage, match="need a reason"):
        outages.schedule(actors["planner"], network_id=net, break_pipe_ids=[pipe], planned_start=start + timedelta(days=3),
                         planned_end=start + timedelta(days=3, hours=1), reason=" ", bind=eng)
    moved = outages.reschedule(actors["planner"], works.id, planned_start=start + timedelta(days=2),
                               planned_end=start + timedelta(days=2, hours=5), reason="перенос по просьбе УК", bind=eng)
    assert moved.planned_start == start + timedelta(days=2)
    with pytest.raises(PermissionDenied, match="outages.plan"):
        outages.schedule(actors["inspector"], network_id=net, break_pipe_ids=[pipe], planned_start=start,
                         planned_end=start + timedelta(hours=1), reason="x", bind=eng)
    with pytest.raises(InvalidOutage, match="needs a reason"):
        outages.cancel(actors["planner"], later.id, reason="", bind=eng)
    assert outages.cancel(actors["planner"], later.id, reason="не нужно", bind=eng).state == "cancelled"
    assert [a for a, _ in trail(eng, "outage", works.id)] == ["outage.schedule", "outage.reschedule"]


def test_rights_are_checked_by_every_outage_use_case(demo: Demo, actors: dict[str, Actor]) -> None:
    eng, net = demo.engine, demo.network_id
    pipe, lon, lat = busiest_pipe(eng, net)
    for role in ("operator", "planner", "inspector"):
        with pytest.raises(PermissionDenied, match="outages.approve"):
            outages.approve(actors[role], network_id=net, break_pipe_ids=[pipe], bind=eng)
    o = outages.approve(actors["admin"], network_id=net, break_pipe_ids=[pipe], bind=eng)
    for role in ("operator", "planner", "inspector"):
        with pytest.raises(PermissionDenied):
            outages.start(actors[role], o.id, bind=eng)
    outages.start(actors["dispatcher"], o.id, bind=eng)
    for role in ("operator", "planner", "inspector"):
        with pytest.raises(PermissionDenied, match="outages.restore"):
            outages.restore(actors[role], o.id, bind=eng)
    # reading is for everyone
    for role in actors:
        assert outages.get(actors[role], o.id, bind=eng).outage.state == "active"
    with pytest.raises(PermissionDenied):
        reports.take_report(actors["inspector"], service_code="burst", lon=lon, lat=lat, bind=eng)


def test_a_valve_found_stuck_survives_a_reload_and_a_reload_waits_for_open_outages(demo: Demo,
                                                                                   actors: dict[str, Actor]) -> None:
    from data.demo import load_demo
    from data.errors import NetworkBusy
    from settings import get_settings

    eng, net = demo.engine, demo.network_id
    with eng.connect() as conn:
        valve = conn.execute(text("SELECT id FROM valves WHERE network_id = :n AND status = 'open' ORDER BY id LIMIT 1"),
                             {"n": net}).scalar_one()
        ids_before = dict(conn.execute(text("SELECT ext_id, id FROM pipes WHERE network_id = :n"), {"n": net}).all())
    net_ops.mark_valve(actors["dispatcher"], valve, "stuck", reason="не поворачивается", bind=eng)
    load_demo(eng, seed=42, network_name=get_settings().demo_network_name)
    with eng.connect() as conn:
        assert conn.execute(text("SELECT status FROM valves WHERE id = :v"), {"v": valve}).scalar_one() == "inoperable"
        assert dict(conn.execute(text("SELECT ext_id, id FROM pipes WHERE network_id = :n"), {"n": net}).all()) == ids_before
    pipe, _, _ = busiest_pipe(eng, net)
    outages.approve(actors["dispatcher"], network_id=net, break_pipe_ids=[pipe], bind=eng)
    with pytest.raises(NetworkBusy, match="planned or active"):
        load_demo(eng, seed=42, network_name=get_settings().demo_network_name)
