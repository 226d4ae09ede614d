"""Outage lifecycle, the link of "no water" reports to an active outage, and the schema."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from incidents import outage_repo, outages, service
from incidents.errors import InvalidOutage, InvalidOutageTransition, OutageNotFound
from incidents.model import Outage
from incidents.outages import OutagePlan
from incidents.sla import Rules
from settings import Settings
from tests.incidents.conftest import City

NOW = datetime(2026, 1, 15, 9, 0, tzinfo=timezone.utc)


def _plan(city: City, **kw: object) -> OutagePlan:
    args: dict[str, object] = dict(break_pipe_ids=[city.pipe_ids[1]], pipe_ids=[city.pipe_ids[1]], unintended_pipe_ids=[],
                                   valve_ids=[city.valve_id], optional_valve_ids=[],
                                   building_ids=[city.building_ids[1]], unintended_building_ids=[city.building_ids[2]])
    args.update(kw)
    return OutagePlan(**args)  # type: ignore[arg-type]


def _approve(engine: Engine, city: City, rules: Rules, *, start: datetime = NOW, end: datetime | None = None,
             incident_id: int | None = None, network_id: int | None = None, **plan: object) -> Outage:
    with engine.begin() as conn:
        return outages.insert(conn, network_id=network_id or city.network_id, kind="emergency", plan=_plan(city, **plan),
                              reason="прорыв на Mannerheimintie", actor="chief", planned_start=start, planned_end=end,
                              now=NOW, rules=rules, incident_id=incident_id)


def _step(engine: Engine, fn, outage_id: int, **kw: object):  # type: ignore[no-untyped-def]
    with engine.begin() as conn:
        return fn(conn, outage_id, **kw)


def test_outage_lifecycle_and_counts(clean_engine: Engine, city: City, rules: Rules) -> None:
    planned = _approve(clean_engine, city, rules, start=NOW + timedelta(hours=1), end=NOW + timedelta(hours=3))
    assert planned.state == "planned" and planned.actual_start is None and planned.kind == "emergency"
    with clean_engine.connect() as conn:
        assert outages.affected_buildings_of_active(conn).buildings == 0
    active, linked = _step(clean_engine, outages.start, planned.id, actor="crew", now=NOW + timedelta(hours=1))
    assert active.state == "active" and active.actual_start == NOW + timedelta(hours=1) and linked == []
    assert (active.buildings, active.residents) == (2, 85)
    assert active.valve_ids == [city.valve_id] and active.pipe_ids == [city.pipe_ids[1]]
    assert active.geojson is not None and "MultiLineString" in active.geojson
    with clean_engine.connect() as conn:
        affected = outages.affected_buildings_of_active(conn)
    assert (affected.buildings, affected.residents) == (2, 85)
    assert {r["building_id"]: r["unintended"] for r in affected.rows} == {city.building_ids[1]: False,
                                                                          city.building_ids[2]: True}
    k = service.control_room_kpis(clean_engine, rules=rules, now=NOW + timedelta(hours=2))
    assert (k.active_outages, k.buildings_without_water, k.residents_without_water) == (1, 2, 85)
    with pytest.raises(InvalidOutageTransition, match="from 'active' to 'active'"):
        _step(clean_engine, outages.start, planned.id, actor="crew", now=NOW)
    restored = _step(clean_engine, outages.restore, planned.id, actor="crew", now=NOW + timedelta(hours=2))
    assert restored.state == "restored" and restored.actual_end == NOW + timedelta(hours=2)
    assert restored.ended_by == "crew"
    with clean_engine.connect() as conn:
        assert outages.affected_buildings_of_active(conn).buildings == 0
    with pytest.raises(InvalidOutageTransition, match="'restored' to 'restored'"):
        _step(clean_engine, outages.restore, planned.id, actor="crew", now=NOW)
    with pytest.raises(OutageNotFound):
        _step(clean_engine, outages.restore, 99999, actor="crew", now=NOW)


def test_cancel_and_default_end_from_the_allowance(clean_engine: Engine, city: City, rules: Rules) -> None:
    o = _approve(clean_engine, city, rules)
    assert o.planned_end == NOW + timedelta(hours=4)       # ПП 354: cold water ≤ 4 h at once
    assert _step(clean_engine, outages.cancel, o.id, actor="chief", now=NOW).state == "cancelled"
    with pytest.raises(InvalidOutage, match="at least one isolated pipe"):
        _approve(clean_engine, city, rules, pipe_ids=[])
    with pytest.raises(InvalidOutage, match="before planned_start"):
        _approve(clean_engine, city, rules, end=NOW - timedelta(hours=1))
    with pytest.raises(InvalidOutage, match="unknown network_id 424242"):
        _approve(clean_engine, city, rules, network_id=424242)
    with pytest.raises(InvalidOutage, match="unknown incident_id 77"):
        _approve(clean_engine, city, rules, incident_id=77)


def test_overlap_needs_a_shared_pipe_or_valve_and_overlapping_times(clean_engine: Engine, city: City,
                                                                    rules: Rules) -> None:
    a = _approve(clean_engine, city, rules, unintended_pipe_ids=[city.pipe_ids[0]])
    with clean_engine.connect() as conn:
        others = outage_repo.overlapping_outages(conn, city.network_id, [city.pipe_ids[0]], [])
    assert [o.id for o in others] == [a.id]
    window = (NOW, NOW + timedelta(hours=4))
    assert outages.overlapping(_plan(city), *window, others, NOW) == [others[0]]
    assert outages.overlapping(_plan(city, pipe_ids=[city.hot_pipe_id], valve_ids=[]), *window, others, NOW) == []
    later = (NOW + timedelta(days=3), NOW + timedelta(days=3, hours=2))
    assert outages.overlapping(_plan(city), *later, others, NOW) == []   # same pipes, another day
    same_valve = _plan(city, pipe_ids=[999], valve_ids=[city.valve_id])
    assert outages.overlapping(same_valve, *window, others, NOW) == [others[0]]
    _step(clean_engine, outages.cancel, a.id, actor="crew", now=NOW)
    with clean_engine.connect() as conn:
        assert outage_repo.overlapping_outages(conn, city.network_id, [city.pipe_ids[1]], []) == []


def test_no_water_report_inside_an_active_outage_is_linked(clean_engine: Engine, city: City, rules: Rules,
                                                           settings: Settings) -> None:
    before = service.create_incident(clean_engine, service_code="no_water", lon=24.9425, lat=60.1702,
                                     rules=rules, settings=settings, now=NOW - timedelta(minutes=5))
    o = _approve(clean_engine, city, rules, end=NOW + timedelta(hours=3))
    assert service.get_incident(clean_engine, before.incident.id).outage_id is None   # valves not closed yet
    _, linked = _step(clean_engine, outages.start, o.id, actor="crew", now=NOW)
    assert linked == [before.incident.id]
    assert service.get_incident(clean_engine, before.incident.id).outage_id == o.id
    r = service.create_incident(clean_engine, service_code="no_water", lon=24.9435, lat=60.1702,  # unintended bldg
                                rules=rules, settings=settings, now=NOW + timedelta(minutes=10))
    assert r.outage is not None and r.outage.outage_id == o.id
    assert r.expected_at == NOW + timedelta(hours=3)
    assert r.incident.outage_id == o.id
    hot = service.create_incident(clean_engine, service_code="no_hot_water", lon=24.9435, lat=60.1702,
                                  rules=rules, settings=settings, now=NOW)
    assert hot.outage is None            # a cold-water outage does not explain missing hot water
    outside = service.create_incident(clean_engine, service_code="no_water", lon=24.9405, lat=60.1702,
                                       rules=rules, settings=settings, now=NOW)
    assert outside.outage is None and outside.expected_at == NOW + timedelta(hours=4)
    _step(clean_engine, outages.restore, o.id, actor="crew", now=NOW + timedelta(hours=1))
    after = service.create_incident(clean_engine, service_code="no_water", lon=24.9425, lat=60.1702,
                                    rules=rules, settings=settings)
    assert after.outage is None
    assert [i.id for i in service.list_incidents(clean_engine, outage_id=o.id, newest_first=False)] == \
        [before.incident.id, r.incident.id]


def test_an_outage_grows_but_never_loses_buildings(clean_engine: Engine, city: City, rules: Rules) -> None:
    o = _approve(clean_engine, city, rules, building_ids=[city.building_ids[1]], unintended_building_ids=[])
    _step(clean_engine, outages.start, o.id, actor="crew", now=NOW)
    grown, added = _step(clean_engine, outages.replace_plan, o.id, plan=_plan(city, building_ids=[city.building_ids[0]],
                                                                               unintended_building_ids=[]), now=NOW)
    assert added == [city.building_ids[0]] and grown.buildings == 2 and grown.version == o.version + 2
    with clean_engine.connect() as conn:
        rows = dict(conn.execute(text("SELECT building_id, added_at FROM outage_buildings WHERE outage_id = :o"),
                                 {"o": o.id}).all())
    assert rows == {city.building_ids[1]: None, city.building_ids[0]: NOW}


@pytest.mark.parametrize("table,column,bad", [
    ("incidents", "category", "leak"), ("incidents", "status", "open"), ("incidents", "priority", "high"),
    ("incidents", "channel", "fax"), ("incidents", "resource", "steam"),
])
def test_incident_enums_are_checked(engine: Engine, table: str, column: str, bad: str) -> None:
    with pytest.raises(IntegrityError, match=f"{table}_{column}_check"):
        with engine.begin() as conn:
            conn.execute(text(f"INSERT INTO incidents (category, service_code, geom, {column}) VALUES "
                              f"('other', 'other', ST_SetSRID(ST_MakePoint(24.94, 60.17), 4326), :v)")
                         .bindparams(v=bad) if column != "category" else
                         text("INSERT INTO incidents (category, service_code, geom) VALUES "
                              "(:v, 'other', ST_SetSRID(ST_MakePoint(24.94, 60.17), 4326))").bindparams(v=bad))


def test_schema_geometries_have_srid_and_gist_and_limits(clean_engine: Engine) -> None:
    with clean_engine.connect() as conn:
        cols = dict(((r[0], r[1]), r[2]) for r in conn.execute(text(
            "SELECT f_table_name, f_geometry_column, srid FROM geometry_columns WHERE f_table_name IN ('incidents', 'outages')")))
        assert cols == {("incidents", "geom"): 4326, ("outages", "geom"): 4326}
        for t in ("incidents", "outages"):
            assert conn.execute(text("SELECT count(*) FROM pg_indexes WHERE tablename = :t AND indexdef ILIKE '%gist%'"),
                                {"t": t}).scalar() == 1
    with pytest.raises(IntegrityError, match="incidents_description_check"):
        with clean_engine.begin() as conn:
            conn.execute(text("INSERT INTO incidents (category, service_code, geom, description) VALUES "
                              "('other', 'other', ST_SetSRID(ST_MakePoint(24.94, 60.17), 4326), repeat('x', 4001))"))
    with pytest.raises(IntegrityError, match="outages_state_check"):
        with clean_engine.begin() as conn:
            conn.execute(text("INSERT INTO outages (state, planned_end, created_by, approved_by) "
                              "VALUES ('finished', now(), 'a', 'a')"))
