"""Who answers for a report: set at intake from the category (in-house → the building's management
company, network → the utility), changed by a dispatcher (audited), refused to others."""
from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from auth.errors import PermissionDenied
from auth.model import Actor
from incidents import service
from incidents.errors import IncidentNotFound
from ops import inspection
from reports import orgs
from reports.errors import UnknownOrganisation
from reports.rules import current
from tests.reports.conftest import Town


def responsible(engine: Engine, incident_id: int) -> int | None:
    with engine.connect() as conn:
        return conn.execute(text("SELECT responsible_org_id FROM incidents WHERE id = :i"), {"i": incident_id}).scalar()


def test_intake_names_the_company_or_the_utility_by_category(town: Town, clean_engine: Engine) -> None:
    b1, _b2, b3 = town.buildings
    lift = service.create_incident(clean_engine, service_code="elevator", building_id=b1).incident
    roof = service.create_incident(clean_engine, service_code="roof_leak", building_id=b3).incident
    dry = service.create_incident(clean_engine, service_code="no_water", building_id=b1).incident
    burst = service.create_incident(clean_engine, service_code="burst", lon=24.9421, lat=60.1700).incident
    assert responsible(clean_engine, lift.id) == town.mc
    assert responsible(clean_engine, roof.id) == town.mc2
    assert responsible(clean_engine, dry.id) == town.utility
    assert burst.network_id == town.network and responsible(clean_engine, burst.id) == town.utility


def test_network_reports_fall_back_to_the_only_utility_and_backfill_fills_the_rest(town: Town,
                                                                                   clean_engine: Engine) -> None:
    with clean_engine.begin() as conn:
        conn.execute(text("UPDATE networks SET utility_id = NULL"))
    far = service.create_incident(clean_engine, service_code="low_pressure", building_id=town.buildings[2]).incident
    assert responsible(clean_engine, far.id) == town.utility     # the one active utility
    with clean_engine.begin() as conn:
        conn.execute(text("UPDATE incidents SET responsible_org_id = NULL"))
        assert orgs.backfill(conn, current()) == 1
    assert responsible(clean_engine, far.id) == town.utility


def test_a_dispatcher_changes_it_with_a_reason_and_the_audit_says_so(town: Town, clean_engine: Engine) -> None:
    inc = service.create_incident(clean_engine, service_code="repair", building_id=town.buildings[0]).incident
    dispatcher = Actor(author="ivanova", role="dispatcher", display_name="Иванова")
    assert inspection.set_responsible_org(dispatcher, inc.id, town.contractor, "подрядчик по договору",
                                          bind=clean_engine) == town.contractor
    assert responsible(clean_engine, inc.id) == town.contractor
    with clean_engine.connect() as conn:
        ev = conn.execute(text("SELECT actor, action, object_id, reason, details FROM audit_events "
                               "WHERE action = 'incident.set_org'")).mappings().one()
    assert (ev["actor"], ev["object_id"], ev["reason"]) == ("ivanova", str(inc.id), "подрядчик по договору")
    assert ev["details"] == {"before": town.mc, "after": town.contractor}
    for role in ("operator", "planner", "inspector"):
        with pytest.raises(PermissionDenied):
            inspection.set_responsible_org(Actor(author="x", role=role, display_name="x"), inc.id, town.mc,
                                           bind=clean_engine)
    with pytest.raises(UnknownOrganisation):
        inspection.set_responsible_org(dispatcher, inc.id, 999, bind=clean_engine)
    with pytest.raises(IncidentNotFound):
        inspection.set_responsible_org(dispatcher, 123456, town.mc, bind=clean_engine)
    assert responsible(clean_engine, inc.id) == town.contractor      # nothing half-written
    with clean_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_events WHERE action = 'incident.set_org'")).scalar() == 1
