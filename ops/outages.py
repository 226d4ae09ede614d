"""Use-cases of outages, from a burst report to the water back on.

- ``approve``: the dispatcher approves the plan of a break (or merges it into an overlapping outage);
  the outage is ``planned`` until the crew reports the valves closed; the report goes ``dispatched``.
- ``start``: valves closed → the outage is ``active``, the report ``in_progress``, "no water" calls
  from its buildings are linked to it.
- ``preview_extension`` / ``extend``: a valve found stuck — see the grown plan, approve it in one step
  (the valve is recorded inoperable, the outage grows, new buildings join it from now).
- ``restore``: water back → ``restored``; the break and the linked "no water" reports are resolved.
- ``schedule``: planned works for a future start; ``reschedule``, ``cancel``.

Every write checks the actor's permission, runs in one transaction under a per-network lock (two
dispatchers cannot approve overlapping shutoffs at once), writes the audit event, and recomputes the
plan on the server: what is stored is never a list sent by a page.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, text

from auth.model import Actor
from gis import network_repo
from i18n import system_note
from incidents import outage_repo
from incidents import outages as domain
from incidents import service as incidents
from incidents.errors import IncidentNotFound, InvalidOutage
from incidents.model import Incident, Outage
from incidents.outages import OutagePlan
from network.plan import ShutoffPlan
from notify import outbox as notices
from notify.messages import region_zone
from notify.rules import lead_time_short, rules_from_settings
from ops import audit, webhooks
from ops import network as net_ops
from ops.audit_log import events_of
from ops.base import allow, engine, utcnow
from ops.errors import OpsError, OutageConflict

WATER_CATEGORIES = ("no_water", "low_pressure")
_LOCK_CLASS = 774412  # pg_advisory_xact_lock(class, network id): one shutoff decision at a time per network


class PlanChanged(OpsError):
    """The plan computed now differs from the one the user saw (a valve changed meanwhile)."""


def _lock_network(conn: Connection, network_id: int) -> None:
    conn.execute(text("SELECT pg_advisory_xact_lock(:c, :n)"), {"c": _LOCK_CLASS, "n": int(network_id)})


def outage_plan(plan: ShutoffPlan, break_pipe_ids: Iterable[int | str]) -> OutagePlan:
    """The ids an outage keeps of a shutoff plan."""
    return OutagePlan(
        break_pipe_ids=sorted({int(p) for p in break_pipe_ids}),
        pipe_ids=[int(p) for p in plan.result.isolated_links],
        unintended_pipe_ids=[int(p) for p in plan.result.unintended_links],
        valve_ids=[int(v["id"]) for v in plan.valves_to_close],
        optional_valve_ids=[int(v["id"]) for v in plan.optional_valves],
        building_ids=[int(b["id"]) for b in plan.affected if not b["unintended"]],
        unintended_building_ids=[int(b["id"]) for b in plan.affected if b["unintended"]],
    )


def _conflicts(conn: Connection, network_id: int, oplan: OutagePlan, start: datetime, end: datetime, now: datetime,
               *, exclude_id: int | None = None) -> list[Outage]:
    others = outage_repo.overlapping_outages(conn, network_id, oplan.pipe_ids + oplan.unintended_pipe_ids,
                                             oplan.valve_ids, exclude_id=exclude_id)
    return domain.overlapping(oplan, start, end, others, now)


def _conflict_error(found: list[Outage], what: str) -> OutageConflict:
    names = ", ".join(f"#{o.id} ({o.state}, {o.reason or 'no reason given'})" for o in found)
    return OutageConflict(f"{what} overlaps outage {names}: merge into it or wait until it ends",
                          [o.id for o in found])


def _causes(conn: Connection, outage: Outage) -> list[Incident]:
    """The breaks behind an outage: its own incident and burst reports merged into it."""
    return [i for i in outage_repo.incidents_of_outage(conn, outage.id)
            if i.id == outage.incident_id or i.category == "burst"]


def _follow(conn: Connection, incidents_: Iterable[Incident], target: str, actor: Actor, note: str,
            now: datetime) -> list[int]:
    moved = []
    for inc in incidents_:
        if incidents.advance_incident(conn, inc.id, target, actor=actor.author, note=note, now=now):
            moved.append(inc.id)
            webhooks.queue_change(conn, inc.id, "work_order.status_changed", now=now)
    return moved


def _linked(conn: Connection, outage_id: int) -> set[int]:
    """The reports linked to an outage (those an outage's growth links anew hear of it by webhook)."""
    return {i.id for i in outage_repo.incidents_of_outage(conn, outage_id)}


def _check_seen(plan: ShutoffPlan, seen_plan: str | None) -> None:
    if seen_plan is not None and plan.fingerprint != seen_plan:
        raise PlanChanged("the plan changed since it was shown (a valve or the network changed meanwhile); "
                          "review the new plan and approve again")


# ---- approving a break's shutoff -----------------------------------------------------------------

def approve(actor: Actor, *, network_id: int, break_pipe_ids: Iterable[int | str], incident_id: int | None = None,
            merge_into: int | None = None, seen_plan: str | None = None, reason: str = "",
            bind: Engine | None = None) -> Outage:
    """Approve the shutoff of a break (``planned`` until the valves are closed), or merge the break into
    the open outage ``merge_into``. Refused with ``OutageConflict`` (naming the outages) when the plan
    overlaps another planned or active outage and no merge was chosen."""
    allow(actor, "outages.approve")
    breaks = sorted({int(p) for p in break_pipe_ids})
    if not breaks:
        raise InvalidOutage("a shutoff needs the broken pipe, got none")
    eng = engine(bind)
    idx = net_ops.index(network_id, bind=eng)
    now = utcnow()
    rules = incidents.rules_from_settings()
    with eng.begin() as conn:
        _lock_network(conn, network_id)
        inc = _incident_for_outage(conn, incident_id, merge_into)
        if merge_into is not None:
            return _merge(conn, actor, idx, network_id, breaks, inc, merge_into, seen_plan, reason, now)
        plan = net_ops.plan_on(conn, idx, network_id, breaks)
        _check_seen(plan, seen_plan)
        oplan = outage_plan(plan, breaks)
        resource = outage_repo.network_resource(conn, network_id)
        end = domain.default_end(resource, now, rules)
        found = _conflicts(conn, network_id, oplan, now, end, now)
        if found:
            raise _conflict_error(found, "this shutoff")
        text_reason = reason or (f"#{inc.id} {inc.address or ''}".strip() if inc else "")
        outage = domain.insert(conn, network_id=network_id, kind="emergency", plan=oplan, reason=text_reason,
                               actor=actor.author, planned_start=now, planned_end=end, now=now, rules=rules,
                               incident_id=inc.id if inc else None)
        moved = _follow(conn, [inc] if inc else [], "dispatched", actor, f"outage #{outage.id} approved", now)
        notices.enqueue(conn, outage.id, "approved", now=now)
        audit.record(conn, actor=actor.author, action="outage.approve", object_type="outage", object_id=outage.id,
                     at=now, reason=text_reason, details={
                         "network_id": network_id, "break_pipe_ids": breaks, "incident_id": inc.id if inc else None,
                         "valves": oplan.valve_ids, "buildings": outage.buildings, "residents": outage.residents,
                         "incidents_moved": moved, "planned_end": outage.planned_end})
        return outage


def _incident_for_outage(conn: Connection, incident_id: int | None, merge_into: int | None) -> Incident | None:
    if incident_id is None:
        return None
    inc = incidents.get_incident(conn, incident_id)
    if inc.outage_id is not None and inc.outage_id != merge_into:
        current = outage_repo.get_outage(conn, inc.outage_id)
        if current is not None and current.state in domain.OPEN_STATES:
            raise OutageConflict(f"report #{inc.id} is already in outage #{current.id} ({current.state})", [current.id])
    return inc


def _merge(conn: Connection, actor: Actor, idx: Any, network_id: int, breaks: list[int], inc: Incident | None,
           merge_into: int, seen_plan: str | None, reason: str, now: datetime) -> Outage:
    target = domain.get(conn, merge_into, for_update=True)
    if target.state not in domain.OPEN_STATES or target.network_id != network_id:
        raise InvalidOutage(f"outage #{merge_into} is {target.state} on network {target.network_id}; "
                            "a break merges only into a planned or active outage of its own network")
    merged_breaks = sorted(set(target.break_pipe_ids) | set(breaks))
    plan = net_ops.plan_on(conn, idx, network_id, merged_breaks)
    _check_seen(plan, seen_plan)
    oplan = outage_plan(plan, merged_breaks)
    start, end = domain.window(target, now)
    found = _conflicts(conn, network_id, oplan, start, end, now, exclude_id=target.id)
    if found:
        raise _conflict_error(found, f"outage #{target.id} grown by this break")
    linked_before = _linked(conn, target.id)
    outage, added = domain.replace_plan(conn, target.id, oplan, now=now, actor=actor.author,
                                        note=f"outage #{target.id} merged")
    webhooks.queue_changes(conn, sorted(_linked(conn, target.id) - linked_before), "work_order.status_changed",
                           now=now)
    if added:  # the buildings it grew to are cut off now: their subscribers hear of it as of a new outage
        notices.enqueue(conn, outage.id, "approved", now=now, building_ids=added)
    moved: list[int] = []
    if inc is not None:
        outage_repo.set_incident_outage(conn, inc.id, target.id, now)
        moved = _follow(conn, [inc], "in_progress" if target.state == "active" else "dispatched", actor,
                        f"outage #{target.id} merged", now)
    audit.record(conn, actor=actor.author, action="outage.merge", object_type="outage", object_id=target.id, at=now,
                 reason=reason, details={"break_pipe_ids": breaks, "incident_id": inc.id if inc else None,
                                         "buildings_added": added, "valves": oplan.valve_ids,
                                         "valves_added": [v for v in oplan.valve_ids if v not in target.valve_ids],
                                         "incidents_moved": moved})
    return outage


# ---- planned works -----------------------------------------------------------------------------------

def schedule(actor: Actor, *, network_id: int, break_pipe_ids: Iterable[int | str], planned_start: datetime,
             planned_end: datetime, reason: str, seen_plan: str | None = None, bind: Engine | None = None) -> Outage:
    """Planned works: the shutoff of ``break_pipe_ids`` (the section worked on) from ``planned_start``
    to ``planned_end``, announced as planned; refused when it overlaps an open outage in time."""
    allow(actor, "outages.plan")
    breaks = sorted({int(p) for p in break_pipe_ids})
    now = utcnow()
    problems = []
    if not breaks:
        problems.append("planned works need the pipes worked on, got none")
    if planned_start.tzinfo is None or planned_end.tzinfo is None:
        problems.append("planned times need a time zone")
    elif planned_start < now - timedelta(minutes=1):
        problems.append(f"planned_start {planned_start.isoformat()} has passed; planned works start in the future")
    elif planned_end <= planned_start:
        problems.append("planned_end must be after planned_start")
    if not reason.strip():
        problems.append("planned works need a reason (it is announced to residents)")
    if problems:
        raise InvalidOutage("; ".join(problems))
    eng = engine(bind)
    idx = net_ops.index(network_id, bind=eng)
    with eng.begin() as conn:
        _lock_network(conn, network_id)
        plan = net_ops.plan_on(conn, idx, network_id, breaks)
        _check_seen(plan, seen_plan)
        oplan = outage_plan(plan, breaks)
        found = _conflicts(conn, network_id, oplan, planned_start, planned_end, now)
        if found:
            raise _conflict_error(found, "these planned works")
        outage = domain.insert(conn, network_id=network_id, kind="planned", plan=oplan, reason=reason.strip(),
                               actor=actor.author, planned_start=planned_start, planned_end=planned_end, now=now,
                               rules=incidents.rules_from_settings())
        notices.enqueue(conn, outage.id, "planned", now=now)
        audit.record(conn, actor=actor.author, action="outage.schedule", object_type="outage", object_id=outage.id,
                     at=now, reason=reason.strip(), details={
                         "network_id": network_id, "break_pipe_ids": breaks, "planned_start": planned_start,
                         "planned_end": planned_end, "buildings": outage.buildings, "residents": outage.residents})
        return outage


def notice_days_short(planned_start: datetime, *, now: datetime | None = None) -> tuple[int, int] | None:
    """Planned works starting at ``planned_start`` and announced now: (working days of notice they get,
    working days the notices rules file asks for) when too few — the planner's warning; None when enough."""

    rules = rules_from_settings()
    days = lead_time_short(planned_start, now or utcnow(), rules, region_zone())
    return None if days is None else (days, rules.lead_working_days)


# ---- the steps of an outage ----------------------------------------------------------------------------

def start(actor: Actor, outage_id: int, *, bind: Engine | None = None) -> Outage:
    """The crew closed the valves: the outage is active from now, its break in progress."""
    allow(actor, "outages.approve")
    now = utcnow()
    with engine(bind).begin() as conn:
        outage, linked = domain.start(conn, outage_id, actor=actor.author, now=now)
        webhooks.queue_changes(conn, linked, "work_order.status_changed", now=now)
        moved = _follow(conn, _causes(conn, outage), "in_progress", actor, f"outage #{outage.id} valves closed", now)
        audit.record(conn, actor=actor.author, action="outage.start", object_type="outage", object_id=outage.id,
                     at=now, details={"reports_linked": linked, "incidents_moved": moved})
        return outage


def restore(actor: Actor, outage_id: int, *, note: str = "", bind: Engine | None = None) -> Outage:
    """Water back: the outage ends now; its break and the "no water" reports it explains are resolved."""
    allow(actor, "outages.restore")
    now = utcnow()
    with engine(bind).begin() as conn:
        outage = domain.restore(conn, outage_id, actor=actor.author, now=now)
        linked = outage_repo.incidents_of_outage(conn, outage.id)
        causes = _causes(conn, outage)
        cause_ids = {c.id for c in causes}
        reports = [i for i in linked if i.category in WATER_CATEGORIES and i.id not in cause_ids]
        moved = _follow(conn, causes + reports, "resolved", actor, f"outage #{outage.id} restored", now)
        notices.enqueue(conn, outage.id, "restored", now=now)
        audit.record(conn, actor=actor.author, action="outage.restore", object_type="outage", object_id=outage.id,
                     at=now, reason=note, details={"incidents_resolved": moved,
                                                   "hours": round((now - (outage.actual_start or now)).total_seconds() / 3600, 2)})
        return outage


def cancel(actor: Actor, outage_id: int, *, reason: str, bind: Engine | None = None) -> Outage:
    """A planned outage that will not happen (the valves were never closed). Its notices not yet sent
    are withdrawn and the residents already told get a cancellation notice (``notify.outbox.cancel``)."""
    allow(actor, "outages.cancel")
    if not reason.strip():
        raise InvalidOutage("cancelling an outage needs a reason")
    now = utcnow()
    with engine(bind).begin() as conn:
        outage = domain.cancel(conn, outage_id, actor=actor.author, now=now)
        withdrawn, told = notices.cancel(conn, outage.id, now=now)
        audit.record(conn, actor=actor.author, action="outage.cancel", object_type="outage", object_id=outage.id,
                     at=now, reason=reason.strip(), details={"notices_withdrawn": withdrawn,
                                                             "cancellation_notices": told})
        return outage


def reschedule(actor: Actor, outage_id: int, *, planned_end: datetime, planned_start: datetime | None = None,
               reason: str, bind: Engine | None = None) -> Outage:
    """New expected end (and, before it starts, a new start). Planners may move their planned works;
    dispatchers any open outage."""
    if planned_end.tzinfo is None or (planned_start is not None and planned_start.tzinfo is None):
        raise InvalidOutage("planned times need a time zone")
    if not reason.strip():
        raise InvalidOutage("a new time needs a reason")
    now = utcnow()
    with engine(bind).begin() as conn:
        current = domain.get(conn, outage_id)
        allow(actor, "outages.plan" if current.kind == "planned" and current.state == "planned" else "outages.approve")
        before, after = domain.reschedule(conn, outage_id, planned_start=planned_start, planned_end=planned_end, now=now)
        if after.kind == "planned" and after.state == "planned":
            notices.enqueue(conn, outage_id, "planned", now=now)
        elif after.planned_end != before.planned_end:
            notices.enqueue(conn, outage_id, "extended", now=now)
        audit.record(conn, actor=actor.author, action="outage.reschedule", object_type="outage", object_id=outage_id,
                     at=now, reason=reason.strip(), details={
                         "from": {"start": before.planned_start, "end": before.planned_end},
                         "to": {"start": after.planned_start, "end": after.planned_end}})
        return after


@dataclass(frozen=True)
class Extension:
    """The grown plan of an outage when ``stuck`` valves cannot be closed."""

    outage: Outage
    plan: ShutoffPlan
    stuck: list[int]
    valves_added: list[int]
    buildings_added: list[int]
    residents_added: int


def _extension_plan(conn: Connection, outage: Outage, idx: Any, stuck: list[int]) -> tuple[ShutoffPlan, list[int]]:
    unknown = [v for v in stuck if v not in outage.valve_ids]
    if not stuck or unknown:
        raise InvalidOutage(f"valves {unknown or stuck} are not valves outage #{outage.id} closes")
    if outage.network_id is None:
        raise InvalidOutage(f"outage #{outage.id} has no network (it was removed)")
    plan = net_ops.plan_on(conn, idx, outage.network_id, outage.break_pipe_ids or outage.pipe_ids,
                           extra_inoperable=stuck)
    return plan, stuck


def preview_extension(actor: Actor, outage_id: int, stuck_valve_ids: Iterable[int | str], *,
                      bind: Engine | None = None) -> Extension:
    """What the outage becomes if ``stuck_valve_ids`` cannot be closed (nothing is stored)."""
    allow(actor, "outages.read")
    eng = engine(bind)
    stuck = sorted({int(v) for v in stuck_valve_ids})
    with eng.connect() as conn:
        outage = domain.get(conn, outage_id)
        if outage.state not in domain.OPEN_STATES:
            raise InvalidOutage(f"outage #{outage_id} is {outage.state}; only a planned or active one can grow")
        idx = net_ops.index(outage.network_id, bind=eng) if outage.network_id is not None else None
        plan, stuck = _extension_plan(conn, outage, idx, stuck)
        have = set(outage_repo.outage_building_ids(conn, outage.id))
    new_b = [b for b in plan.affected if int(b["id"]) not in have]
    return Extension(outage=outage, plan=plan, stuck=stuck,
                     valves_added=[int(v["id"]) for v in plan.valves_to_close if int(v["id"]) not in outage.valve_ids],
                     buildings_added=[int(b["id"]) for b in new_b],
                     residents_added=sum(int(b.get("residents") or 0) for b in new_b))


def extend(actor: Actor, outage_id: int, stuck_valve_ids: Iterable[int | str], *, reason: str = "",
           seen_plan: str | None = None, bind: Engine | None = None) -> Outage:
    """A valve found stuck, in one step: it is recorded inoperable and the outage grows to the new plan
    (new valves to close, new buildings from now). Refused when the grown plan overlaps another outage."""
    allow(actor, "outages.approve")
    allow(actor, "valves.mark")
    eng = engine(bind)
    stuck = sorted({int(v) for v in stuck_valve_ids})
    now = utcnow()
    with eng.connect() as probe:
        network_id = domain.get(probe, outage_id).network_id
    idx = net_ops.index(network_id, bind=eng) if network_id is not None else None
    with eng.begin() as conn:
        if network_id is not None:
            _lock_network(conn, network_id)
        outage = domain.get(conn, outage_id, for_update=True)
        if outage.state not in domain.OPEN_STATES:
            raise InvalidOutage(f"outage #{outage_id} is {outage.state}; only a planned or active one can grow")
        plan, stuck = _extension_plan(conn, outage, idx, stuck)
        _check_seen(plan, seen_plan)
        oplan = outage_plan(plan, outage.break_pipe_ids or outage.pipe_ids)
        start_at, end_at = domain.window(outage, now)
        found = _conflicts(conn, outage.network_id, oplan, start_at, end_at, now, exclude_id=outage.id)  # type: ignore[arg-type]
        if found:
            raise _conflict_error(found, f"outage #{outage.id} grown around the stuck valves")
        for v in stuck:
            net_ops.mark_valve_on(conn, actor, v, "stuck", reason=reason or system_note("valve_stuck_in_outage", outage.id),
                                  now=now, outage_id=outage.id)
        linked_before = _linked(conn, outage.id)
        grown, added = domain.replace_plan(conn, outage.id, oplan, now=now, actor=actor.author,
                                           note=f"outage #{outage.id} extended")
        webhooks.queue_changes(conn, sorted(_linked(conn, outage.id) - linked_before), "work_order.status_changed",
                               now=now)
        if added:
            notices.enqueue(conn, outage.id, "approved", now=now, building_ids=added)
        audit.record(conn, actor=actor.author, action="outage.extend", object_type="outage", object_id=outage.id,
                     at=now, reason=reason, details={
                         "stuck_valves": stuck, "valves": oplan.valve_ids,
                         "valves_added": [v for v in oplan.valve_ids if v not in outage.valve_ids],
                         "buildings_added": added, "buildings": grown.buildings, "residents": grown.residents})
        return grown


# ---- reading -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class OutageDetail:
    """An outage as its pages show it: the valves in crew order with their points, the buildings cut
    off (critical customers first), the pipes' geometry, the incidents and its audit history."""

    outage: Outage
    valves: list[dict[str, Any]]
    optional_valves: list[dict[str, Any]]
    buildings: list[dict[str, Any]]
    pipe_geojson: dict[str, dict[str, Any]]
    incidents: list[Incident]
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def residents(self) -> int:
        return sum(int(b.get("residents") or 0) for b in self.buildings)


_CRITICAL = {"hospital": 0, "school": 1, "kindergarten": 2}


def _detail(conn: Connection, outage: Outage) -> OutageDetail:
    details = network_repo.valve_details(conn, outage.valve_ids + outage.optional_valve_ids)
    valves = [{**details.get(str(v), {}), "id": str(v), "order": i + 1} for i, v in enumerate(outage.valve_ids)]
    optional = [{**details.get(str(v), {}), "id": str(v)} for v in outage.optional_valve_ids]
    buildings = outage_repo.outage_buildings(conn, outage.id)
    buildings.sort(key=lambda b: (_CRITICAL.get(b["kind"], 3), -(b["residents"] or 0), b["id"]))
    geoms = network_repo.pipe_geojson(conn, outage.pipe_ids + outage.unintended_pipe_ids)

    return OutageDetail(outage=outage, valves=valves, optional_valves=optional, buildings=buildings,
                        pipe_geojson=geoms, incidents=outage_repo.incidents_of_outage(conn, outage.id),
                        history=events_of(conn, "outage", outage.id))


def get(actor: Actor, outage_id: int, *, bind: Engine | None = None) -> OutageDetail:
    allow(actor, "outages.read")
    with engine(bind).connect() as conn:
        return _detail(conn, domain.get(conn, outage_id))


def of_incident(actor: Actor, incident_id: int, *, bind: Engine | None = None) -> OutageDetail | None:
    """The outage a report caused or is linked to (the open one first, else the latest)."""
    allow(actor, "outages.read")
    with engine(bind).connect() as conn:
        if not outage_repo.incident_exists(conn, incident_id):
            raise IncidentNotFound(f"no incident with id {incident_id}")
        found = outage_repo.outages_of_incident(conn, incident_id)
        if not found:
            return None
        best = max(found, key=lambda o: (o.state in domain.OPEN_STATES, o.id))
        return _detail(conn, best)


def listing(actor: Actor, *, recent_days: float = 7, network_id: int | None = None,
            bind: Engine | None = None) -> list[Outage]:
    """Planned and active outages, and those that ended in the last ``recent_days``."""
    allow(actor, "outages.read")
    with engine(bind).connect() as conn:
        return domain.list_open_and_recent(conn, since=utcnow() - timedelta(days=recent_days), network_id=network_id)


def affected_now(actor: Actor, resources: Iterable[str] | None = None, *,
                 bind: Engine | None = None) -> domain.AffectedBuildings:
    """Buildings and residents without the resource right now (active outages)."""
    allow(actor, "outages.read")
    with engine(bind).connect() as conn:
        return domain.affected_buildings_of_active(conn, list(resources) if resources is not None else None)


def crew_sheet(detail: OutageDetail) -> list[dict[str, Any]]:
    """Rows of the crew sheet: order, valve code, street, coordinates, status (CSV and the page)."""
    rows = [{"order": v["order"], "valve": v.get("ext_id") or v["id"], "action": "close", "street": v.get("street") or "",
             "lat": v.get("lat"), "lon": v.get("lon"), "status": v.get("status")} for v in detail.valves]
    rows += [{"order": "", "valve": v.get("ext_id") or v["id"], "action": "optional", "street": v.get("street") or "",
              "lat": v.get("lat"), "lon": v.get("lon"), "status": v.get("status")} for v in detail.optional_valves]
    return rows




def preview_conflicts(actor: Actor, network_id: int, break_pipe_ids: Iterable[int | str], *,
                      start: datetime | None = None, end: datetime | None = None,
                      bind: Engine | None = None) -> list[Outage]:
    """The open outages a shutoff of ``break_pipe_ids`` would overlap (from now to its default end, or
    the given window) — what approving it would be refused for, before anyone clicks."""
    allow(actor, "outages.read")
    eng = engine(bind)
    idx = net_ops.index(network_id, bind=eng)
    now = utcnow()
    with eng.connect() as conn:
        breaks = sorted({int(p) for p in break_pipe_ids})
        oplan = outage_plan(net_ops.plan_on(conn, idx, network_id, breaks), breaks)
        start_at = start or now
        end_at = end or domain.default_end(outage_repo.network_resource(conn, network_id), start_at,
                                           incidents.rules_from_settings())
        return _conflicts(conn, network_id, oplan, start_at, end_at, now)


__all__ = ["approve", "schedule", "start", "restore", "cancel", "reschedule", "preview_extension", "extend",
           "get", "of_incident", "listing", "affected_now", "crew_sheet", "Extension", "OutageDetail", "PlanChanged",
           "outage_plan", "preview_conflicts", "notice_days_short"]
