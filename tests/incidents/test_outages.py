"""Outage lifecycle, the link of "no water" reports to an active outage, and the schema."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from incidents import outages, service
from incidents.errors import InvalidOutage, InvalidOutageTransition, OutageNotFound
from incidents.model import Outage
from incidents.sla import Rules
from settings import Settings
from tests.incidents.conftest import City

NOW = datetime(2026, 1, 15, 9, 0, tzinfo=timezone.utc)


def _approve(engine: Engine, city: City, **kw: object) -> Outage:
    args: dict[str, object] = dict(network_id=city.network_id, pipe_ids=[city.pipe_ids[1]], valve_ids=[city.valve_id],
                                   affected_building_ids=[city.building_ids[1]],
                                   unintended_building_ids=[city.building_ids[2]], actor="chief", now=NOW,
                                   reason="прорыв на Mannerheimintie")
    args.update(kw)
    return outages.approve_outage(engine, **args)  # type: ignore[arg-type]


def test_outage_lifecycle_and_counts(clean_engine: Engine, city: City, rules: Rules) -> None:
    planned = _approve(clean_engine, city, start_now=False, planned_start=NOW + timedelta(hours=1),
                       planned_end=NOW + timedelta(hours=3), rules=rules)
    assert planned.state == "planned" and planned.actual_start is None
    assert outages.active_outages(clean_engine) == []
    active = outages.start_outage(clean_engine, planned.id, actor="crew", now=NOW + timedelta(hours=1))
    assert active.state == "active" and active.actual_start == NOW + timedelta(hours=1)
    assert (active.buildings, active.residents) == (2, 85)
    assert [o.id for o in service.outages_of_incident(clean_engine, 1)] == []
    assert [o.id for o in service.list_outages(clean_engine, ["active"])] == [active.id]
    assert active.valve_ids == [city.valve_id] and active.pipe_ids == [city.pipe_ids[1]]
    assert active.geojson is not None and "MultiLineString" in active.geojson
    [listed] = outages.active_outages(clean_engine)
    assert listed.id == active.id
    affected = outages.affected_buildings_of_active_outages(clean_engine)
    assert (affected.buildings, affected.residents) == (2, 85)
    assert {r["building_id"]: r["unintended"] for r in affected.rows} == {city.building_ids[1]: False,
                                                                          city.building_ids[2]: True}
    k = service.control_room_kpis(clean_engine, rules=rules, now=NOW + timedelta(hours=2))
    assert (k.active_outages, k.buildings_without_water, k.residents_without_water) == (1, 2, 85)
    with pytest.raises(InvalidOutageTransition, match="from 'active' to 'active'"):
        outages.start_outage(clean_engine, planned.id, actor="crew")
    restored = outages.restore_outage(clean_engine, planned.id, actor="crew", now=NOW + timedelta(hours=2))
    assert restored.state == "restored" and restored.actual_end == NOW + timedelta(hours=2)
    assert outages.active_outages(clean_engine) == []
    assert outages.affected_buildings_of_active_outages(clean_engine).buildings == 0
    with pytest.raises(InvalidOutageTransition, match="'restored' to 'restored'"):
        outages.restore_outage(clean_engine, planned.id, actor="crew")
    with pytest.raises(OutageNotFound):
        outages.restore_outage(clean_engine, 99999, actor="crew")


def test_cancel_and_default_end_from_the_allowance(clean_engine: Engine, city: City, rules: Rules) -> None:
    o = _approve(clean_engine, city, start_now=False, rules=rules)
    assert o.planned_end == NOW + timedelta(hours=4)       # ПП 354: cold water ≤ 4 h at once
    assert outages.cancel_outage(clean_engine, o.id, actor="chief").state == "cancelled"
    with pytest.raises(InvalidOutage, match="at least one isolated pipe"):
        _approve(clean_engine, city, pipe_ids=[])
    with pytest.raises(InvalidOutage, match="before planned_start"):
        _approve(clean_engine, city, planned_end=NOW - timedelta(hours=1))
    with pytest.raises(InvalidOutage, match="unknown network_id 424242"):
        _approve(clean_engine, city, network_id=424242)
    with pytest.raises(InvalidOutage, match="unknown incident_id 77"):
        _approve(clean_engine, city, incident_id=77)


def test_overlapping_outages_are_reported_as_conflicts(clean_engine: Engine, city: City, rules: Rules) -> None:
    a = _approve(clean_engine, city, rules=rules, unintended_pipe_ids=[city.pipe_ids[0]])
    assert [o.id for o in outages.conflicting_outages(clean_engine, [city.pipe_ids[0]])] == [a.id]
    assert [o.id for o in outages.conflicting_outages(clean_engine, [city.pipe_ids[1]])] == [a.id]
    assert outages.conflicting_outages(clean_engine, [city.hot_pipe_id]) == []
    outages.restore_outage(clean_engine, a.id, actor="crew")
    assert outages.conflicting_outages(clean_engine, [city.pipe_ids[1]]) == []


def test_no_water_report_inside_an_active_outage_is_linked(clean_engine: Engine, city: City, rules: Rules,
                                                           settings: Settings) -> None:
    before = service.create_incident(clean_engine, service_code="no_water", lon=24.9425, lat=60.1702,
                                     rules=rules, settings=settings, now=NOW - timedelta(minutes=5))
    o = _approve(clean_engine, city, planned_end=NOW + timedelta(hours=3), incident_id=before.incident.id)
    assert service.get_incident(clean_engine, before.incident.id).outage_id == o.id   # linked at approval
    assert [x.id for x in service.outages_of_incident(clean_engine, before.incident.id)] == [o.id]
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
    outages.restore_outage(clean_engine, o.id, actor="crew")
    after = service.create_incident(clean_engine, service_code="no_water", lon=24.9425, lat=60.1702,
                                    rules=rules, settings=settings)
    assert after.outage is None
    assert [i.id for i in service.list_incidents(clean_engine, outage_id=o.id, newest_first=False)] == \
        [before.incident.id, r.incident.id]


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
