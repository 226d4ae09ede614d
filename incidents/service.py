"""Domain functions of the incidents domain: intake, reading, the workflow, the control room's figures.
Outages live in ``incidents/outages.py``, API keys in ``incidents/keys.py``; the application layer
(``ops``) calls these with the acting user's name and checks the rights first.

Writes take an ``Engine`` and run in one transaction each (the audit event is written in the
same transaction as the change). Reads take an ``Engine`` or an open ``Connection``.
Free text (descriptions, addresses) is stored exactly as received; it is escaped where it is shown
(``views.formatting.md_safe``, ``html.escape`` in HTML) — never stripped, never rendered raw.
"""
from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyproj import CRS, Transformer
from shapely import wkb
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Connection, Engine

from incidents import intake, outage_repo, repo
from incidents.errors import (
    ConcurrentEdit,
    IncidentNotFound,
    InvalidIncident,
    OutsideServiceArea,
    UnknownAddress,
)
from incidents.model import (
    ControlRoomKpis,
    DuplicateCandidate,
    Incident,
    IntakeResult,
    OutageLink,
    QueueItem,
)
from incidents.sla import Rules, due_at, load_rules, sla_state
from incidents.workflow import OPEN_STATUSES, path_to, transition
from reports.orgs import assign_at_intake
from rules_yaml import cached_by_mtime
from settings import Settings, get_settings

MAX_DESCRIPTION_CHARS = intake.LIMITS["description"]
CHANNELS = intake.CHANNELS
WATER_RESOURCES = ("cold_water", "hot_water")
SYSTEM_ACTOR = "system"   # the author of what the service decides by itself (a report answered by a known outage)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


_rules_cached = cached_by_mtime(load_rules)


def rules_from_settings(settings: Settings | None = None) -> Rules:
    """The rules file named by ``settings.sla_rules_file`` (re-read when it changes)."""
    return _rules_cached(Path((settings or get_settings()).sla_rules_file))


@contextmanager
def transaction_for(bind: Engine | Connection) -> Iterator[Connection]:
    """A transaction: a new one on the engine, or the caller's own (an open ``Connection``), so that
    the application layer can run several domain steps and its audit event as one."""
    if isinstance(bind, Connection):
        yield bind
    else:
        with bind.begin() as conn:
            yield conn


@contextmanager
def connection_for(bind: Engine | Connection) -> Iterator[Connection]:
    """An open connection: ``bind`` itself, or a new one from the engine (closed afterwards)."""
    if isinstance(bind, Connection):
        yield bind
    else:
        with bind.connect() as conn:
            yield conn


# ---- service area ------------------------------------------------------------------------------

@dataclass(frozen=True)
class ServiceArea:
    """Where reports are accepted: within ``margin_m`` of the hull of buildings ∪ pipes, or the
    configured bbox when the database has neither."""

    hull_m: BaseGeometry | None        # hull in a local metric CRS (None: use the bbox)
    to_metric: Transformer | None
    bbox: tuple[float, float, float, float]
    margin_m: float

    def contains(self, lon: float, lat: float) -> bool:
        if self.hull_m is None or self.to_metric is None:
            x0, y0, x1, y1 = self.bbox
            return x0 <= lon <= x1 and y0 <= lat <= y1
        x, y = self.to_metric.transform(lon, lat)
        return bool(self.hull_m.distance(Point(x, y)) <= self.margin_m)

    def describe(self) -> str:
        if self.hull_m is None:
            return f"the bbox {self.bbox} (the database has no buildings or pipes yet)"
        return f"{self.margin_m:g} m around the buildings and pipes of the service"


_area_cache: dict[str, tuple[float, ServiceArea]] = {}
_area_lock = threading.Lock()


def service_area(engine: Engine, settings: Settings | None = None, *, refresh: bool = False) -> ServiceArea:
    """The current service area (cached for ``incident_service_area_cache_s``)."""
    s = settings or get_settings()
    key = engine.url.render_as_string(hide_password=True)
    now = time.monotonic()
    with _area_lock:
        hit = _area_cache.get(key)
        if hit and not refresh and hit[0] > now:
            return hit[1]
    with engine.connect() as conn:
        raw = repo.service_area_hull_wkb(conn)
    bbox = tuple(s.incident_service_area_bbox)
    if raw is None:
        area = ServiceArea(None, None, bbox, s.incident_service_area_margin_m)  # type: ignore[arg-type]
    else:
        hull = wkb.loads(bytes(raw))
        c = hull.centroid
        local = CRS.from_proj4(f"+proj=aeqd +lat_0={c.y} +lon_0={c.x} +datum=WGS84 +units=m")
        tr = Transformer.from_crs("EPSG:4326", local, always_xy=True)
        area = ServiceArea(shapely.transform(hull, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1]))), tr, bbox, s.incident_service_area_margin_m)  # type: ignore[arg-type]
    with _area_lock:
        _area_cache[key] = (now + s.incident_service_area_cache_s, area)
    return area


def forget_service_area(engine: Engine | None = None) -> None:
    """Drop the cached service area (after loading data)."""
    with _area_lock:
        if engine is None:
            _area_cache.clear()
        else:
            _area_cache.pop(engine.url.render_as_string(hide_password=True), None)


# ---- intake ----------------------------------------------------------------------------------

def create_incident(
    engine: Engine | Connection,
    *,
    category: str | None = None,
    api_key_id: int | None = None,
    actor: str | None = None,
    rules: Rules | None = None,
    settings: Settings | None = None,
    now: datetime | None = None,
    on_created: Callable[[Connection, Incident], None] | None = None,
    **fields: Any,
) -> IntakeResult:
    """Validate, locate, snap and store a report; offer duplicates and link a known outage.

    ``fields`` are a report's (``intake.ReportInput``: service_code, lat, lon, address, building_id,
    description, channel, priority, reporter_name/phone/email, media_url, attributes, client_token);
    a ``category`` may stand for the service code that names it.

    Location: ``lon``+``lat`` (must lie in the service area), or ``building_id``, or an exact
    ``address`` of a building. The point snaps to the nearest building within
    ``incident_snap_building_m`` and to the nearest pipe (a network of the report's resource
    first). Open incidents of the same category within ``incident_duplicate_radius_m`` and
    ``incident_duplicate_window_h`` come back as ``duplicate_candidates`` (the dispatcher
    decides). A water report from a building inside an active outage is linked to it and its
    expected end is the outage's planned end. A repeated ``client_token`` returns the first
    incident (``created=False``) — nothing is stored twice. ``on_created(conn, incident)`` runs in the
    intake's transaction once a new report is stored and assigned (the application layer's outbox).
    """
    s = settings or get_settings()
    rules = rules or rules_from_settings(s)
    now = now or utcnow()
    report = intake.check_report(rules=rules, category=category, **fields)
    rule = rules.services[report.service_code]
    if report.lat is not None and report.building_id is None:
        area = service_area(engine, s)
        if not area.contains(report.lon, report.lat):  # type: ignore[arg-type]
            raise OutsideServiceArea(f"lat={report.lat}, long={report.lon} is outside the service area "
                                     f"({area.describe()})")

    with transaction_for(engine) as conn:
        located = _building_named(conn, report) if report.lat is None else None
        lon, lat = (located["lon"], located["lat"]) if located else (report.lon, report.lat)
        found, outage = _snap(conn, rule, s, now, lon=lon, lat=lat, located=located,  # type: ignore[arg-type]
                              building_id=report.building_id)
        candidates: list[DuplicateCandidate] = found["dups"]
        address = report.address
        stored = {
            **report.as_kwargs(), "category": rule.category, "resource": rule.resource,
            "priority": report.priority or rule.priority, "lon": lon, "lat": lat,
            "address": (address.strip() if address and address.strip() else None) or found["building_address"],
            "building_id": found["building_id"], "pipe_id": found["pipe_id"], "network_id": found["network_id"],
            "attributes": report.attributes or {}, "outage_id": outage.outage_id if outage else None,
            "api_key_id": api_key_id, "now": now,
        }
        incident, created = repo.insert_incident_with_event(
            conn, stored, actor=actor or report.channel, note=f"outage #{outage.outage_id}" if outage else "")
        if created:
            assign_at_intake(conn, incident.id)  # who answers for it (docs/inspection.md)
            if outage is not None:
                # the outage explains it: answered at once, due when the outage is expected to end
                advance_incident(conn, incident.id, "accepted", actor=SYSTEM_ACTOR, note=f"outage #{outage.outage_id}",
                                 now=now)
                incident = repo.get_incident(conn, incident.id)
            if on_created is not None:
                on_created(conn, incident)
    assert incident is not None
    return IntakeResult(incident=incident, created=created, duplicate_candidates=candidates if created else [],
                        outage=outage, due_at=due_at(incident, rules))


def _building_named(conn: Connection, report: intake.ReportInput) -> dict[str, Any]:
    """The building a report without a point names, by id or by its exact address; ``UnknownAddress``."""
    by_id = report.building_id is not None
    located = repo.building_location(conn, building_id=report.building_id,
                                     address=None if by_id else report.address.strip())  # type: ignore[union-attr]
    if located is None:
        what = f"address_id {report.building_id}" if by_id else f"address_string {report.address!r}"
        raise UnknownAddress(f"{what} matches no building of the service")
    return located


def _snap(conn: Connection, rule: Any, s: Settings, now: datetime, *, lon: float, lat: float,
          located: dict[str, Any] | None, building_id: int | None) -> tuple[dict[str, Any], OutageLink | None]:
    """The nearest building and pipe, the open duplicates and the active outage that explains a water
    report; a building the resident named wins over the nearest one."""
    water = rule.category in ("no_water", "low_pressure") and rule.resource != "none"
    found = repo.intake_lookup(
        conn, lon=lon, lat=lat, category=rule.category, resource=rule.resource,
        snap_building_m=s.incident_snap_building_m, snap_pipe_m=s.incident_snap_pipe_m,
        dup_radius_m=s.incident_duplicate_radius_m, dup_since=now - timedelta(hours=s.incident_duplicate_window_h),
        check_outage=water, building_id=building_id if located else None,
    )
    outage = found["outage"]
    if located is not None and found["building_id"] != located["id"]:
        found["building_id"], found["building_address"] = located["id"], located["address"]
        outage = repo.active_outage_of_building(conn, located["id"], rule.resource) if water else None
    return found, outage


# ---- reading -----------------------------------------------------------------------------------

def get_incident(bind: Engine | Connection, incident_id: int) -> Incident:
    """The incident ``incident_id``; ``IncidentNotFound`` if there is none."""
    with connection_for(bind) as conn:
        found = repo.get_incident(conn, incident_id)
    if found is None:
        raise IncidentNotFound(f"no incident with id {incident_id}")
    return found


def incident_history(bind: Engine | Connection, incident_id: int) -> list[dict[str, Any]]:
    """Audit events of an incident, oldest first (at, actor, from_status, to_status, note)."""
    with connection_for(bind) as conn:
        return repo.incident_events(conn, incident_id)


def list_incidents(bind: Engine | Connection, **filters: Any) -> list[Incident]:
    """Incidents by filters: ids, statuses, categories, service_codes, since, until,
    bbox=(min lon, min lat, max lon, max lat), outage_id, limit, newest_first."""
    with connection_for(bind) as conn:
        return repo.list_incidents(conn, **filters)


def queue_item(incident: Incident, rules: Rules, now: datetime) -> QueueItem:
    """An incident with its deadline and SLA state at ``now``."""
    due = due_at(incident, rules)
    state = sla_state(due, incident.resolved_at, now, rules.at_risk_fraction, created_at=incident.created_at)
    return QueueItem(incident=incident, due_at=due, sla_state=state,
                     minutes_left=(due - now).total_seconds() / 60)


def list_queue(
    bind: Engine | Connection,
    *,
    rules: Rules | None = None,
    now: datetime | None = None,
    statuses: Iterable[str] = tuple(sorted(OPEN_STATUSES)),
    categories: Iterable[str] | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    sla_states: Iterable[str] | None = None,
    org_id: int | None = None,
    limit: int = 1000,
) -> list[QueueItem]:
    """The dispatcher's queue: incidents (open by default) with deadline and SLA state, most
    urgent first (emergency before urgent before routine, then the earliest deadline). ``org_id``:
    only the reports that organisation answers for."""
    rules = rules or rules_from_settings()
    now = now or utcnow()
    with connection_for(bind) as conn:
        found = repo.list_incidents(conn, statuses=list(statuses), categories=categories, bbox=bbox,
                                    org_id=org_id, limit=100_000, newest_first=False)
    items = [queue_item(i, rules, now) for i in found]
    if sla_states is not None:
        wanted = set(sla_states)
        items = [q for q in items if q.sla_state in wanted]
    rank = {"emergency": 0, "urgent": 1, "routine": 2}
    items.sort(key=lambda q: (rank.get(q.incident.priority, 3), q.due_at, q.incident.id))
    return items[:limit]


def org_breaches(bind: Engine | Connection, *, rules: Rules | None = None,
                 now: datetime | None = None) -> dict[int, int]:
    """Open reports past their deadline, per responsible organisation (the control room's escalation:
    an organisation's breach is the service's to chase)."""
    return {org: len(ids) for org, ids in org_breach_reports(bind, rules=rules, now=now).items()}


def org_breach_reports(bind: Engine | Connection, *, rules: Rules | None = None,
                       now: datetime | None = None) -> dict[int, list[int]]:
    """The open reports past their deadline that an organisation holds (is responsible for) now, per
    organisation, oldest first — the breaches that escalate to the control room and the inspector."""
    rules = rules or rules_from_settings()
    now = now or utcnow()
    with connection_for(bind) as conn:
        rows = repo.open_incident_deadline_inputs(conn)
    found: dict[int, list[int]] = {}
    for r in rows:
        if r["responsible_org_id"] is not None and now > due_at(r, rules):
            found.setdefault(int(r["responsible_org_id"]), []).append(int(r["id"]))
    return {org: sorted(ids) for org, ids in found.items()}


def find_duplicates(engine: Engine, incident_id: int, *, settings: Settings | None = None) -> list[DuplicateCandidate]:
    """Open incidents of the same category near ``incident_id`` (within R metres, T hours before
    it) — the ones it may duplicate."""
    s = settings or get_settings()
    with engine.connect() as conn:
        inc = repo.get_incident(conn, incident_id)
        if inc is None:
            raise IncidentNotFound(f"no incident with id {incident_id}")
        found = repo.duplicate_candidates(
            conn, category=inc.category, lon=inc.lon, lat=inc.lat, radius_m=s.incident_duplicate_radius_m,
            since=inc.created_at - timedelta(hours=s.incident_duplicate_window_h), limit=11)
    return [c for c in found if c.incident_id != incident_id and c.created_at <= inc.created_at][:10]


# ---- workflow ----------------------------------------------------------------------------------

def transition_incident(
    engine: Engine | Connection,
    incident_id: int,
    to: str,
    *,
    actor: str,
    expected_version: int,
    note: str = "",
    duplicate_of: int | None = None,
    now: datetime | None = None,
) -> Incident:
    """Move an incident to ``to`` if nobody changed it since ``expected_version`` was read.

    Raises ``InvalidTransition``, ``IncidentNotFound``, or ``ConcurrentEdit`` (stale version:
    nothing is overwritten; reload and retry). The audit event is written in the same transaction.
    """
    now = now or utcnow()
    with transaction_for(engine) as conn:
        current = repo.get_incident(conn, incident_id)
        if current is None:
            raise IncidentNotFound(f"no incident with id {incident_id}")
        if current.version != expected_version:
            raise ConcurrentEdit(f"incident {incident_id} changed: you have version {expected_version}, "
                                 f"it is at version {current.version} ({current.status}); reload and retry")
        if duplicate_of is not None:
            if to != "duplicate":
                raise InvalidIncident(f"duplicate_of is only meaningful with to='duplicate', got to={to!r}")
            if duplicate_of == incident_id or repo.get_incident(conn, duplicate_of) is None:
                raise InvalidIncident(f"duplicate_of={duplicate_of} is not another existing incident")
        event = transition(current.status, to, actor, note, now)
        if repo.update_status(conn, incident_id, expected_version, event, duplicate_of=duplicate_of) is None:
            raise ConcurrentEdit(f"incident {incident_id} changed while saving version {expected_version}; "
                                 "reload and retry")
        repo.insert_event(conn, incident_id, event)
        updated = repo.get_incident(conn, incident_id)
    assert updated is not None
    return updated


def mark_duplicate(engine: Engine | Connection, incident_id: int, of_incident_id: int, *, actor: str,
                   expected_version: int, note: str = "", now: datetime | None = None) -> Incident:
    """Close ``incident_id`` as a duplicate of ``of_incident_id``."""
    return transition_incident(engine, incident_id, "duplicate", actor=actor, expected_version=expected_version,
                               note=note or f"duplicate of #{of_incident_id}", duplicate_of=of_incident_id, now=now)


def advance_incident(conn: Connection, incident_id: int, target: str, *, actor: str, note: str,
                     now: datetime) -> list[str]:
    """Move an incident forward to ``target`` through every status in between (one history event
    each), as an outage's steps require; nothing when it is there already, past it, or closed.
    Returns the statuses it passed."""
    current = repo.get_incident(conn, incident_id)
    if current is None:
        raise IncidentNotFound(f"no incident with id {incident_id}")
    steps = path_to(current.status, target)
    version, status = current.version, current.status
    for to in steps:
        event = transition(status, to, actor, note, now)
        new_version = repo.update_status(conn, incident_id, version, event)
        if new_version is None:
            raise ConcurrentEdit(f"incident {incident_id} changed while moving it to {to!r}; retry")
        repo.insert_event(conn, incident_id, event)
        version, status = new_version, to
    return steps


# ---- control room ------------------------------------------------------------------------------

def control_room_kpis(engine: Engine | Connection, *, rules: Rules | None = None,
                      now: datetime | None = None, org_id: int | None = None) -> ControlRoomKpis:
    """Open, overdue, at risk, due within 1 h, unanswered beyond the answer time, active
    outages, and buildings/residents without water (active outages of water networks)."""
    rules = rules or rules_from_settings()
    now = now or utcnow()
    with connection_for(engine) as conn:
        open_rows = repo.open_incident_deadline_inputs(conn, org_id)
        outages = outage_repo.list_outages(conn, ["active"])
        dry = outage_repo.affected_buildings_of_active(conn, WATER_RESOURCES)
    overdue = at_risk = within_1h = unanswered = 0
    for r in open_rows:
        due = due_at(r, rules)
        state = sla_state(due, None, now, rules.at_risk_fraction, created_at=r["created_at"])
        overdue += state == "overdue"
        at_risk += state == "at_risk"
        within_1h += now <= due <= now + timedelta(hours=1)
        unanswered += r["status"] == "new" and now > r["created_at"] + timedelta(minutes=rules.answer_min)
    return ControlRoomKpis(
        open=len(open_rows), overdue=overdue, at_risk=at_risk, due_within_1h=within_1h,
        new_unanswered=unanswered, active_outages=len(outages),
        buildings_without_water=len(dry), residents_without_water=sum(int(b["residents"] or 0) for b in dry),
        open_by_category=dict(Counter(r["category"] for r in open_rows)),
    )


def outage_ends(bind: Engine | Connection, outage_ids: Iterable[int]) -> dict[int, datetime]:
    """Planned end of each given outage id."""
    with connection_for(bind) as conn:
        return outage_repo.outage_ends(conn, outage_ids)
