"""Outages: shutoffs and their lifecycle, and who is without water.

::

    planned ──start (valves closed)──► active ──restore (water back)──► restored
       └──cancel──► cancelled

An emergency outage is ``planned`` from the moment its plan is approved until the crew reports the
valves closed; planned works are ``planned`` until their announced start. Every function takes the
caller's open connection (the application layer ``ops.outages`` owns the transaction, moves the
linked incidents and writes the audit event); the plan itself is plain ids (:class:`OutagePlan`),
so this module does not depend on the network engine's API.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection

from incidents import outage_repo as repo
from incidents.errors import InvalidOutage, InvalidOutageTransition, OutageNotFound
from incidents.model import Outage
from incidents.service import advance_incident
from incidents.sla import Rules, interruption_allowance_h

KINDS = ("emergency", "planned")
OPEN_STATES = ("planned", "active")
STATES = ("planned", "active", "restored", "cancelled")


@dataclass(frozen=True)
class OutagePlan:
    """What an outage keeps of a shutoff plan: the broken pipes, the isolated and the unintentionally
    dry pipes, the valves to close in crew order, the optional ones, and the buildings cut off."""

    break_pipe_ids: list[int]
    pipe_ids: list[int]
    unintended_pipe_ids: list[int]
    valve_ids: list[int]
    optional_valve_ids: list[int]
    building_ids: list[int]
    unintended_building_ids: list[int]

    def arrays(self) -> dict[str, list[int]]:
        """The lists stored on the outage row (crew order of the valves kept)."""
        def ordered(ids: Iterable[int]) -> list[int]:
            return list(dict.fromkeys(int(i) for i in ids))
        return {"break_pipe_ids": sorted(set(self.break_pipe_ids)), "pipe_ids": sorted(set(self.pipe_ids)),
                "unintended_pipe_ids": sorted(set(self.unintended_pipe_ids)), "valve_ids": ordered(self.valve_ids),
                "optional_valve_ids": ordered(self.optional_valve_ids)}


def window(outage: Outage, now: datetime) -> tuple[datetime, datetime]:
    """When an outage keeps its valves closed: planned start → planned end, or for an active one,
    actual start → the later of its planned end and now (it may run late)."""
    if outage.state == "active":
        return outage.actual_start or outage.planned_start, max(outage.planned_end, now)
    return outage.planned_start, outage.planned_end


def overlapping(plan: OutagePlan, start: datetime, end: datetime, others: Iterable[Outage],
                now: datetime) -> list[Outage]:
    """Open outages that share a pipe (isolated or dry) or a valve with ``plan`` while their time
    windows overlap [start, end] — approving both would have two crews on one part of the network."""
    pipes = set(plan.pipe_ids) | set(plan.unintended_pipe_ids)
    valves = set(plan.valve_ids)
    found = []
    for o in others:
        if o.state not in OPEN_STATES:
            continue
        shares = pipes & (set(o.pipe_ids) | set(o.unintended_pipe_ids)) or valves & set(o.valve_ids)
        o_start, o_end = window(o, now)
        if shares and o_start <= end and start <= o_end:
            found.append(o)
    return found


def default_end(resource: str | None, start: datetime, rules: Rules) -> datetime:
    """Planned end = start + the ПП 354 single-interruption allowance of the resource (4 h for water)."""
    hours = interruption_allowance_h(resource or "cold_water", rules) or 4.0
    return start + timedelta(hours=hours)


def get(conn: Connection, outage_id: int, *, for_update: bool = False) -> Outage:
    found = repo.get_outage(conn, outage_id, for_update=for_update)
    if found is None:
        raise OutageNotFound(f"no outage with id {outage_id}")
    return found


def insert(conn: Connection, *, network_id: int, kind: str, plan: OutagePlan, reason: str, actor: str,
           planned_start: datetime, planned_end: datetime | None, now: datetime, rules: Rules,
           incident_id: int | None = None) -> Outage:
    """Record an approved (or scheduled) outage in state ``planned``."""
    problems = []
    if kind not in KINDS:
        problems.append(f"unknown outage kind {kind!r}; expected one of {', '.join(KINDS)}")
    if not plan.pipe_ids:
        problems.append("an outage needs at least one isolated pipe, got none")
    if not actor or not actor.strip():
        problems.append("an outage needs the approving actor, got an empty string")
    resource = repo.network_resource(conn, network_id)
    if resource is None:
        problems.append(f"unknown network_id {network_id}")
    if incident_id is not None and not repo.incident_exists(conn, incident_id):
        problems.append(f"unknown incident_id {incident_id}")
    end = planned_end or default_end(resource, planned_start, rules)
    if end < planned_start:
        problems.append(f"planned_end {end.isoformat()} is before planned_start {planned_start.isoformat()}")
    if problems:
        raise InvalidOutage("; ".join(problems))
    outage_id = repo.insert_outage(conn, {
        "network_id": network_id, "kind": kind, "reason": reason, "incident_id": incident_id,
        **plan.arrays(), "planned_start": planned_start, "planned_end": end, "actor": actor.strip(), "now": now,
    })
    repo.insert_outage_buildings(conn, outage_id, plan.building_ids, plan.unintended_building_ids)
    if incident_id is not None:
        repo.set_incident_outage(conn, incident_id, outage_id, now)
    return get(conn, outage_id)


def _move(conn: Connection, outage_id: int, *, allowed_from: tuple[str, ...], to: str, actor: str,
          now: datetime, start: bool = False, end: bool = False) -> Outage:
    if not actor or not actor.strip():
        raise InvalidOutage("an outage change needs an actor, got an empty string")
    current = get(conn, outage_id, for_update=True)
    if current.state not in allowed_from:
        raise InvalidOutageTransition(f"cannot move outage {outage_id} from {current.state!r} to {to!r}")
    repo.set_outage_state(conn, outage_id, state=to, at=now, actor=actor.strip(), start=start, end=end)
    return get(conn, outage_id)


def link_reports(conn: Connection, outage: Outage, *, actor: str, note: str, now: datetime) -> list[int]:
    """Link the open "no water" / "low pressure" reports of the outage's buildings to it, and answer
    the new ones: ``new → accepted`` now, by ``actor`` (whose step linked them), with ``note``. From
    then on a report shows the outage and is due when the outage is expected to end; it is resolved
    with the outage (``accepted → resolved``), never dispatched on its own. The ids linked."""
    resource = repo.network_resource(conn, outage.network_id) if outage.network_id else None
    linked = repo.link_open_reports_to_outage(conn, outage.id, resource, now)
    for incident_id in linked:
        advance_incident(conn, incident_id, "accepted", actor=actor, note=note, now=now)
    return linked


def start(conn: Connection, outage_id: int, *, actor: str, now: datetime) -> tuple[Outage, list[int]]:
    """planned → active (the crew closed the valves): ``actual_start`` = now; open water reports of
    its buildings are linked to it and accepted by ``actor``. Returns the outage and the ids of the
    reports linked."""
    outage = _move(conn, outage_id, allowed_from=("planned",), to="active", actor=actor, now=now, start=True)
    return outage, link_reports(conn, outage, actor=actor.strip(), note=f"outage #{outage_id} valves closed", now=now)


def restore(conn: Connection, outage_id: int, *, actor: str, now: datetime) -> Outage:
    """active → restored (water back): ``actual_end`` = now."""
    return _move(conn, outage_id, allowed_from=("active",), to="restored", actor=actor, now=now, end=True)


def cancel(conn: Connection, outage_id: int, *, actor: str, now: datetime) -> Outage:
    """planned → cancelled (the valves were never closed)."""
    return _move(conn, outage_id, allowed_from=("planned",), to="cancelled", actor=actor, now=now)


def replace_plan(conn: Connection, outage_id: int, plan: OutagePlan, *, now: datetime, actor: str = "system",
                 note: str = "") -> tuple[Outage, list[int]]:
    """Grow an open outage to ``plan`` (a valve found stuck, a second break merged in): its lists are
    replaced, new buildings join it — from now when it is active — and none leaves; the water reports
    of the new buildings are linked and accepted by ``actor`` (``note``, default "outage #N extended").
    Returns the outage and the buildings added."""
    current = get(conn, outage_id, for_update=True)
    if current.state not in OPEN_STATES:
        raise InvalidOutageTransition(f"outage {outage_id} is {current.state}; only a planned or active one can grow")
    repo.update_outage_plan(conn, outage_id, plan.arrays(), now)
    added = repo.insert_outage_buildings(conn, outage_id, plan.building_ids, plan.unintended_building_ids,
                                         added_at=now if current.state == "active" else None)
    if current.state == "active" and added:
        link_reports(conn, current, actor=actor, note=note or f"outage #{outage_id} extended", now=now)
    return get(conn, outage_id), added


def reschedule(conn: Connection, outage_id: int, *, planned_start: datetime | None, planned_end: datetime,
               now: datetime) -> tuple[Outage, Outage]:
    """New planned times (an active outage keeps its start); returns (before, after)."""
    current = get(conn, outage_id, for_update=True)
    if current.state not in OPEN_STATES:
        raise InvalidOutageTransition(f"outage {outage_id} is {current.state}; its times can no longer change")
    start_at = current.planned_start if current.state == "active" or planned_start is None else planned_start
    if planned_end < start_at:
        raise InvalidOutage(f"planned_end {planned_end.isoformat()} is before the start {start_at.isoformat()}")
    if current.state == "active" and planned_end < now:
        raise InvalidOutage(f"planned_end {planned_end.isoformat()} has passed; an active outage ends in the future")
    repo.set_outage_times(conn, outage_id, planned_start=start_at, planned_end=planned_end, now=now)
    return current, get(conn, outage_id)


def list_open_and_recent(conn: Connection, *, since: datetime, network_id: int | None = None) -> list[Outage]:
    """Planned and active outages, and those restored or cancelled since ``since``."""
    found = repo.list_outages(conn, OPEN_STATES, network_id=network_id)
    found += repo.list_outages(conn, ("restored", "cancelled"), network_id=network_id, since=since)
    return found


@dataclass(frozen=True)
class AffectedBuildings:
    """Buildings cut off by active outages: one row each (building_id, address, kind, residents,
    unintended, outage_id, planned_end, resource) and the totals."""

    rows: list[dict[str, object]]
    buildings: int
    residents: int


def affected_buildings_of_active(conn: Connection, resources: Sequence[str] | None = None) -> AffectedBuildings:
    """Buildings (and residents) inside active outages, optionally of networks of ``resources``."""
    rows = repo.affected_buildings_of_active(conn, resources)
    return AffectedBuildings(rows=rows, buildings=len(rows), residents=sum(int(r["residents"] or 0) for r in rows))
