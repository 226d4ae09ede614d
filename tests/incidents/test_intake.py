"""Intake and workflow against real PostGIS: validation, snapping, service area, duplicates,
the known-outage link, optimistic concurrency, audit events, the queue and the KPIs."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, text

from incidents import service
from incidents.errors import (
    ConcurrentEdit,
    DescriptionTooLong,
    IncidentNotFound,
    InvalidTransition,
    MissingLocation,
    OutsideServiceArea,
    UnknownAddress,
    UnknownCategory,
    UnknownServiceCode,
)
from incidents.intake import InvalidReport
from incidents.sla import Rules
from settings import Settings
from tests.incidents.conftest import City

NOW = datetime(2026, 1, 15, 9, 0, tzinfo=timezone.utc)


def test_report_snaps_to_building_and_pipe_of_its_resource(clean_engine: Engine, city: City, rules: Rules,
                                                          settings: Settings) -> None:
    r = service.create_incident(clean_engine, service_code="no_water", lon=24.94252, lat=60.17021,
                                description="Нет воды", rules=rules, settings=settings, now=NOW)
    inc = r.incident
    assert r.created and inc.status == "new" and inc.version == 1
    assert inc.building_id == city.building_ids[1] and inc.address == "Mannerheimintie 3"
    assert inc.pipe_id == city.pipe_ids[1] and inc.network_id == city.network_id
    assert r.due_at == NOW + timedelta(hours=4)
    hot = service.create_incident(clean_engine, service_code="no_hot_water", lon=24.94252, lat=60.17021,
                                  rules=rules, settings=settings, now=NOW)
    assert hot.incident.network_id == city.hot_network_id   # the hot-water pipe wins for hot water
    history = service.incident_history(clean_engine, inc.id)
    assert [(e["from_status"], e["to_status"]) for e in history] == [(None, "new")]


def test_no_building_within_50_m_leaves_building_empty(clean_engine: Engine, city: City, rules: Rules,
                                                        settings: Settings) -> None:
    r = service.create_incident(clean_engine, category="burst", lon=24.9415, lat=60.1715, rules=rules,
                                settings=settings, now=NOW)
    assert r.incident.building_id is None and r.incident.pipe_id is not None
    assert r.incident.service_code == "burst"


def test_address_and_address_id_locate_the_building(clean_engine: Engine, city: City, rules: Rules,
                                                    settings: Settings) -> None:
    by_addr = service.create_incident(clean_engine, service_code="elevator", address="mannerheimintie 5",
                                      rules=rules, settings=settings, now=NOW)
    assert by_addr.incident.building_id == city.building_ids[2]
    by_id = service.create_incident(clean_engine, service_code="elevator", building_id=city.building_ids[3],
                                    rules=rules, settings=settings, now=NOW)
    assert by_id.incident.address == "Kalevankatu 9"
    assert abs(by_id.incident.lat - 60.1730) < 0.001
    with pytest.raises(UnknownAddress, match="'Nowhere 1'"):
        service.create_incident(clean_engine, service_code="elevator", address="Nowhere 1", rules=rules,
                                settings=settings)


def test_validation_names_every_problem(clean_engine: Engine, city: City, rules: Rules, settings: Settings) -> None:
    with pytest.raises(UnknownServiceCode, match="'leak'.*known: broken_glass"):
        service.create_incident(clean_engine, service_code="leak", lon=24.94, lat=60.17, rules=rules, settings=settings)
    with pytest.raises(UnknownCategory, match="'fire'"):
        service.create_incident(clean_engine, category="fire", lon=24.94, lat=60.17, rules=rules, settings=settings)
    with pytest.raises(DescriptionTooLong, match="4001 characters.*; a location is required"):
        service.create_incident(clean_engine, service_code="other", description="x" * 4001, rules=rules,
                                settings=settings)
    with pytest.raises(MissingLocation, match="both lat and long are required together, got only lat"):
        service.create_incident(clean_engine, service_code="other", lat=60.17, rules=rules, settings=settings)
    with pytest.raises(OutsideServiceArea, match="lat=60.3, long=24.94"):
        service.create_incident(clean_engine, service_code="other", lon=24.94, lat=60.3, rules=rules,
                                settings=settings)
    with clean_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM incidents")).scalar() == 0


def test_empty_database_uses_the_configured_bbox(empty_db: Engine, rules: Rules) -> None:
    s = Settings(_env_file=None, incident_service_area_bbox=(24.5, 59.9, 25.5, 60.4))
    r = service.create_incident(empty_db, service_code="other", lon=25.0, lat=60.2, rules=rules, settings=s)
    assert r.incident.building_id is None and r.incident.pipe_id is None
    with pytest.raises(OutsideServiceArea, match="bbox"):
        service.create_incident(empty_db, service_code="other", lon=30.3, lat=59.9, rules=rules, settings=s)


def test_markup_is_refused_and_ordinary_text_stored_exactly(clean_engine: Engine, city: City, rules: Rules,
                                                             settings: Settings) -> None:
    with pytest.raises(InvalidReport, match="^description contains HTML markup '<script>' at position 1") as exc:
        service.create_incident(clean_engine, service_code="repair", lon=24.9405, lat=60.1702,
                                description='<script>alert("x")</script> & <b>течёт</b>', reporter_phone="x",
                                rules=rules, settings=settings)
    assert [(p.field, p.code) for p in exc.value.problems] == [("description", "html"), ("reporter_phone", "bad_phone")]
    plain = '"ржавая" & <5°C, **срочно**, [фото](https://x.ru), # 3\nвторая строка'
    r = service.create_incident(clean_engine, service_code="repair", lon=24.9405, lat=60.1702, description=plain,
                                rules=rules, settings=settings)
    assert service.get_incident(clean_engine, r.incident.id).description == plain
    with clean_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM incidents")).scalar() == 1
    from views.formatting import md_safe   # escaping belongs to the output: Markdown elements of the pages

    shown = md_safe(plain)
    assert "\\*\\*срочно\\*\\*" in shown and "\\[фото\\]" in shown and "https\\:\u2060//x" in shown


def test_client_token_stores_a_report_once(clean_engine: Engine, city: City, rules: Rules, settings: Settings) -> None:
    first = service.create_incident(clean_engine, service_code="sewer", lon=24.9405, lat=60.1702,
                                    client_token="tok-1", rules=rules, settings=settings)
    again = service.create_incident(clean_engine, service_code="sewer", lon=24.9405, lat=60.1702,
                                    client_token="tok-1", rules=rules, settings=settings)
    assert first.created and not again.created and again.incident.id == first.incident.id
    with clean_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM incidents")).scalar() == 1
        assert conn.execute(text("SELECT count(*) FROM incident_events")).scalar() == 1


def test_duplicates_are_offered_within_radius_time_and_category(clean_engine: Engine, city: City, rules: Rules,
                                                                settings: Settings) -> None:
    first = service.create_incident(clean_engine, service_code="no_water", lon=24.9425, lat=60.1702,
                                    rules=rules, settings=settings, now=NOW)
    near = service.create_incident(clean_engine, service_code="no_water", lon=24.9435, lat=60.1702,  # ~55 m
                                   rules=rules, settings=settings, now=NOW + timedelta(hours=1))
    assert [c.incident_id for c in near.duplicate_candidates] == [first.incident.id]
    assert 40 < near.duplicate_candidates[0].distance_m < 70
    other_cat = service.create_incident(clean_engine, service_code="sewer", lon=24.9425, lat=60.1702,
                                        rules=rules, settings=settings, now=NOW)
    assert other_cat.duplicate_candidates == []
    far = service.create_incident(clean_engine, service_code="no_water", lon=24.9410, lat=60.1730,  # ~320 m
                                  rules=rules, settings=settings, now=NOW)
    assert far.duplicate_candidates == []
    late = service.create_incident(clean_engine, service_code="no_water", lon=24.9425, lat=60.1702,
                                   rules=rules, settings=settings, now=NOW + timedelta(hours=7))
    assert first.incident.id not in [c.incident_id for c in late.duplicate_candidates]
    assert [c.incident_id for c in service.find_duplicates(clean_engine, near.incident.id, settings=settings)] \
        == [first.incident.id]
    # the dispatcher confirms: the duplicate is closed and points at the first report
    dup = service.mark_duplicate(clean_engine, near.incident.id, first.incident.id, actor="disp",
                                 expected_version=near.incident.version)
    assert dup.status == "duplicate" and dup.duplicate_of == first.incident.id
    closed = service.create_incident(clean_engine, service_code="no_water", lon=24.9435, lat=60.1702,
                                     rules=rules, settings=settings, now=NOW + timedelta(hours=2))
    assert near.incident.id not in [c.incident_id for c in closed.duplicate_candidates]


def test_stale_version_raises_and_never_overwrites(clean_engine: Engine, city: City, rules: Rules,
                                                   settings: Settings) -> None:
    inc = service.create_incident(clean_engine, service_code="sewer", lon=24.9405, lat=60.1702, rules=rules,
                                  settings=settings).incident
    a = service.transition_incident(clean_engine, inc.id, "accepted", actor="alice", expected_version=inc.version)
    assert a.version == inc.version + 1 and a.accepted_at is not None
    with pytest.raises(ConcurrentEdit, match=f"version {inc.version}.*version {a.version}"):
        service.transition_incident(clean_engine, inc.id, "rejected", actor="bob", expected_version=inc.version)
    now = service.get_incident(clean_engine, inc.id)
    assert now.status == "accepted" and now.version == a.version
    with pytest.raises(InvalidTransition, match="'accepted' to 'closed'"):
        service.transition_incident(clean_engine, inc.id, "closed", actor="alice", expected_version=a.version)
    with pytest.raises(IncidentNotFound):
        service.transition_incident(clean_engine, 999999, "accepted", actor="a", expected_version=1)
    v = a.version
    for to in ("dispatched", "in_progress", "resolved", "closed"):
        v = service.transition_incident(clean_engine, inc.id, to, actor="alice", expected_version=v).version
    done = service.get_incident(clean_engine, inc.id)
    assert done.status == "closed" and done.resolved_at is not None and done.closed_at is not None
    events = service.incident_history(clean_engine, inc.id)
    assert [e["to_status"] for e in events] == ["new", "accepted", "dispatched", "in_progress", "resolved", "closed"]
    assert events[1]["actor"] == "alice" and events[2]["from_status"] == "accepted"


def test_queue_and_kpis_compute_sla_at_now(clean_engine: Engine, city: City, rules: Rules, settings: Settings) -> None:
    sewer = service.create_incident(clean_engine, service_code="sewer", lon=24.9405, lat=60.1702, rules=rules,
                                    settings=settings, now=NOW).incident                       # due +2 h
    water = service.create_incident(clean_engine, service_code="no_water", lon=24.9425, lat=60.1702, rules=rules,
                                    settings=settings, now=NOW).incident                       # due +4 h
    service.create_incident(clean_engine, service_code="repair", lon=24.9435, lat=60.1702, rules=rules,
                            settings=settings, now=NOW)                                       # due +72 h
    at = NOW + timedelta(hours=3, minutes=30)
    queue = service.list_queue(clean_engine, rules=rules, now=at)
    states = {q.incident.id: q.sla_state for q in queue}
    assert states[sewer.id] == "overdue" and states[water.id] == "at_risk"
    assert [q.incident.id for q in queue][:2] == [sewer.id, water.id]
    assert [q.incident.id for q in service.list_queue(clean_engine, rules=rules, now=at, sla_states=["overdue"])] \
        == [sewer.id]
    k = service.control_room_kpis(clean_engine, rules=rules, now=at)
    assert (k.open, k.overdue, k.at_risk, k.due_within_1h, k.new_unanswered) == (3, 1, 1, 1, 3)
    assert k.open_by_category == {"sewer": 1, "no_water": 1, "repair": 1}
    bbox = service.list_incidents(clean_engine, bbox=(24.9400, 60.1700, 24.9410, 60.1705))
    assert [i.id for i in bbox] == [sewer.id]
