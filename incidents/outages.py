"""Outages: approved shutoffs, their lifecycle (planned → active → restored, or cancelled)
and who is without water. The isolation plan comes from ``network.isolation``; these functions
take its lists as plain ids, so ``incidents`` does not depend on the network engine's API.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine

from incidents import repo
from incidents.errors import InvalidOutage, InvalidOutageTransition, OutageNotFound
from incidents.model import Outage
from incidents.service import connection_for, rules_from_settings, utcnow
from incidents.sla import Rules, interruption_allowance_h


# ---- outages -----------------------------------------------------------------------------------

def approve_outage(
    engine: Engine,
    *,
    network_id: int | None,
    pipe_ids: Iterable[int],
    valve_ids: Iterable[int],
    affected_building_ids: Iterable[int],
    actor: str,
    optional_valve_ids: Iterable[int] = (),
    unintended_pipe_ids: Iterable[int] = (),
    unintended_building_ids: Iterable[int] = (),
    planned_start: datetime | None = None,
    planned_end: datetime | None = None,
    incident_id: int | None = None,
    reason: str = "",
    start_now: bool = True,
    now: datetime | None = None,
    rules: Rules | None = None,
) -> Outage:
    """Record an approved shutoff from an isolation plan's lists (the plan comes from
    ``network.isolation``; the UI passes its valves_to_close, optional valves, isolated and
    unintended pipes and affected buildings here as plain ids).

    ``start_now`` makes it ``active`` at once (an emergency); otherwise it is ``planned`` until
    ``start_outage``. ``planned_end`` defaults to the ПП 354 single-interruption allowance of the
    network's resource (4 h for water). Open water reports of the affected buildings are linked.
    """
    now = now or utcnow()
    pipes = sorted({int(p) for p in pipe_ids})
    if not pipes:
        raise InvalidOutage("an outage needs at least one isolated pipe id, got none")
    if not actor or not actor.strip():
        raise InvalidOutage("an outage needs the approving actor, got an empty string")
    start = planned_start or now
    with engine.begin() as conn:
        resource = None
        if network_id is not None:
            resource = repo.network_resource(conn, network_id)
            if resource is None:
                raise InvalidOutage(f"unknown network_id {network_id}")
        if incident_id is not None and not repo.incident_exists(conn, incident_id):
            raise InvalidOutage(f"unknown incident_id {incident_id}")
        if planned_end is None:
            hours = interruption_allowance_h(resource or "cold_water", rules or rules_from_settings()) or 4.0
            planned_end = start + timedelta(hours=hours)
        if planned_end < start:
            raise InvalidOutage(f"planned_end {planned_end.isoformat()} is before planned_start {start.isoformat()}")
        outage_id = repo.insert_outage(conn, {
            "network_id": network_id, "state": "active" if start_now else "planned", "reason": reason,
            "incident_id": incident_id, "pipe_ids": pipes,
            "unintended_pipe_ids": sorted({int(p) for p in unintended_pipe_ids}),
            "valve_ids": sorted({int(v) for v in valve_ids}),
            "optional_valve_ids": sorted({int(v) for v in optional_valve_ids}),
            "planned_start": start, "planned_end": planned_end, "actual_start": now if start_now else None,
            "actor": actor.strip(), "started_by": actor.strip() if start_now else None, "now": now,
        })
        repo.insert_outage_buildings(conn, outage_id, affected_building_ids, unintended_building_ids)
        if start_now:
            _link_open_reports(conn, outage_id, resource, now)
        outage = repo.get_outage(conn, outage_id)
    assert outage is not None
    return outage


def _link_open_reports(conn: Connection, outage_id: int, resource: str | None, now: datetime) -> None:
    repo.link_open_reports_to_outage(conn, outage_id, resource, now)


def _change_outage(engine: Engine, outage_id: int, *, allowed_from: tuple[str, ...], to: str, actor: str,
                   now: datetime | None, start: bool = False, end: bool = False) -> Outage:
    now = now or utcnow()
    if not actor or not actor.strip():
        raise InvalidOutage("an outage change needs an actor, got an empty string")
    with engine.begin() as conn:
        current = repo.get_outage(conn, outage_id, for_update=True)
        if current is None:
            raise OutageNotFound(f"no outage with id {outage_id}")
        if current.state not in allowed_from:
            raise InvalidOutageTransition(f"cannot move outage {outage_id} from {current.state!r} to {to!r}")
        repo.set_outage_state(conn, outage_id, state=to, at=now, actor=actor.strip(), start=start, end=end)
        if start:
            resource = repo.network_resource(conn, current.network_id) if current.network_id else None
            _link_open_reports(conn, outage_id, resource, now)
        updated = repo.get_outage(conn, outage_id)
    assert updated is not None
    return updated


def start_outage(engine: Engine, outage_id: int, *, actor: str, now: datetime | None = None) -> Outage:
    """planned → active (valves closed now); sets ``actual_start``."""
    return _change_outage(engine, outage_id, allowed_from=("planned",), to="active", actor=actor, now=now, start=True)


def restore_outage(engine: Engine, outage_id: int, *, actor: str, now: datetime | None = None) -> Outage:
    """active → restored (water back); sets ``actual_end``."""
    return _change_outage(engine, outage_id, allowed_from=("active",), to="restored", actor=actor, now=now, end=True)


def cancel_outage(engine: Engine, outage_id: int, *, actor: str, now: datetime | None = None) -> Outage:
    """planned → cancelled."""
    return _change_outage(engine, outage_id, allowed_from=("planned",), to="cancelled", actor=actor, now=now)


def get_outage(bind: Engine | Connection, outage_id: int) -> Outage:
    with connection_for(bind) as conn:
        found = repo.get_outage(conn, outage_id)
    if found is None:
        raise OutageNotFound(f"no outage with id {outage_id}")
    return found


def conflicting_outages(bind: Engine | Connection, pipe_ids: Iterable[int]) -> list[Outage]:
    """Planned or active outages sharing a pipe with ``pipe_ids`` (isolated or unintended) — show
    them before approving another shutoff on the same part of the network."""
    with connection_for(bind) as conn:
        return repo.conflicting_outages(conn, pipe_ids)


def outages_of_incident(bind: Engine | Connection, incident_id: int) -> list[Outage]:
    """Outages approved for an incident (the break that caused them), oldest first."""
    with connection_for(bind) as conn:
        return repo.outages_of_incident(conn, incident_id)


def list_outages(bind: Engine | Connection, states: Iterable[str] = ("planned", "active")) -> list[Outage]:
    """Outages in ``states`` with building and resident counts, by planned start."""
    with connection_for(bind) as conn:
        return repo.list_outages(conn, states)


def active_outages(bind: Engine | Connection) -> list[Outage]:
    """Active outages with their building and resident counts and GeoJSON geometry."""
    with connection_for(bind) as conn:
        return repo.list_outages(conn, ["active"])


@dataclass(frozen=True)
class AffectedBuildings:
    """Buildings cut off by active outages: one row each (building_id, address, kind, residents,
    unintended, outage_id, planned_end, resource) and the totals."""

    rows: list[dict[str, Any]]
    buildings: int
    residents: int


def affected_buildings_of_active_outages(bind: Engine | Connection,
                                         resources: Iterable[str] | None = None) -> AffectedBuildings:
    """Buildings (and residents) inside active outages, optionally of networks of ``resources``."""
    with connection_for(bind) as conn:
        rows = repo.affected_buildings_of_active(conn, resources)
    return AffectedBuildings(rows=rows, buildings=len(rows), residents=sum(int(r["residents"] or 0) for r in rows))


