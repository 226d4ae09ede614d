"""Use-cases of a crew's phone page (``python -m field serve``): the crew's work orders for today and the
valve sheets of the outages on its organisation's networks, and what the crew does there — "on my way",
"arrived", "done" (an answer and photos) on a work order; "closed" and "will not close" on a valve.

Every action carries a client-chosen ``event_id`` (a phone queues actions offline and sends them when the
connection returns): a repeated id answers with what was stored and writes nothing. The phone's clock
(``done_at``) and position are stored as fields; a position outside the service area is refused. Another
organisation's work order, outage or valve answers exactly as an unknown one. A refusal is a
``FieldRefused``: a text key (``fieldapp.err.…``) the page shows in its language, and writes nothing.

"Will not close" waits on the outage for the service's dispatcher (``stuck_reports``), who approves the
re-plan in one step (``approve_stuck``: ``ops.outages.extend``)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from auth.errors import PermissionDenied
from auth.model import Actor
from i18n import N_
from incidents import field_sheets as sheets
from incidents import outages as outage_domain
from incidents import service
from incidents import work_orders as wo
from incidents.errors import IncidentNotFound, OutageNotFound
from incidents.model import Incident, Outage
from ops import audit, orgs
from ops import outages as outage_ops
from ops.base import allow, engine, org_scope, utcnow
from ops.errors import OpsError
from ops.incidents import as_seen_by

MAX_CLOCK_AHEAD = timedelta(minutes=10)   # a phone's clock a little ahead is tolerated, the future is not
MAX_PHOTO_B64 = 12 * 1024 * 1024


class FieldRefused(OpsError):
    """A crew's action or page refused: ``key`` (``fieldapp.err.…``) and its params name why, in words."""

    def __init__(self, status: int, key: str, **params: Any) -> None:
        super().__init__(f"{key} {params}" if params else key)
        self.status, self.key, self.params = status, key, params


UNKNOWN_ORDER = N_("fieldapp.err.unknown_order")
UNKNOWN_OUTAGE = N_("fieldapp.err.unknown_outage")
UNKNOWN_VALVE = N_("fieldapp.err.unknown_valve")
OUTSIDE = N_("fieldapp.err.outside")
BAD_POSITION = N_("fieldapp.err.position")
BAD_TIME = N_("fieldapp.err.time")
FUTURE_TIME = N_("fieldapp.err.future")
BAD_PHOTO = N_("fieldapp.err.photo")
BAD_EVENT_ID = N_("fieldapp.err.event_id")
BAD_KIND = N_("fieldapp.err.kind")
ANSWER_NEEDED = N_("fieldapp.err.answer")
TOO_LONG = N_("fieldapp.err.too_long")
BAD_TEXT = N_("fieldapp.err.text")
REUSED_ID = N_("fieldapp.err.reused_id")
ORDER_CLOSED = N_("fieldapp.err.order_closed")
ORDER_CONFLICT = N_("fieldapp.err.order_conflict")
OUTAGE_OVER = N_("fieldapp.err.outage_over")
CREWS_ONLY = N_("fieldapp.err.crews_only")
TOO_MANY_PHOTOS = N_("fieldapp.err.too_many_photos")
NOTHING_PENDING = N_("fieldapp.err.nothing_pending")

FIELD_STEPS = ("on_the_way", "arrived", "resolved")


@dataclass(frozen=True)
class FieldOrder:
    """A work order as the crew sees it: the report without the reporter's contact, its events, photos."""

    incident: Incident
    events: list[wo.WorkOrderEvent]
    photos: list[dict[str, Any]]
    due_at: datetime | None

    @property
    def steps_done(self) -> set[str]:
        return {e.kind for e in self.events}


@dataclass(frozen=True)
class Sheet:
    """An outage's valve sheet: the valves in crew order (``ops.outages.crew_sheet``) with the crews' marks."""

    outage: Outage
    rows: list[dict[str, Any]]
    marks: list[sheets.ValveMark] = field(default_factory=list)


@dataclass(frozen=True)
class PhotoIn:
    """A photo as the phone sends it: the bytes (resized, EXIF dropped on the phone) and its fields."""

    data: bytes
    taken_at: datetime | None = None
    position: tuple[float, float] | None = None


def crew_org(actor: Actor) -> int:
    """The organisation of a crew (the page is theirs only): ``FieldRefused`` 403 for anyone else."""
    if actor.role != "crew":
        raise FieldRefused(403, CREWS_ONLY)
    allow(actor, "orders.field")
    org = org_scope(actor)
    if org is None:
        raise PermissionDenied("orders.field", actor.role, actor.author)
    return org


# ---- reading -----------------------------------------------------------------------------------------

def orders(actor: Actor, *, bind: Engine | None = None) -> list[FieldOrder]:
    """The crew's open work orders (most urgent first), as the crew may see them."""
    crew_org(actor)
    return [FieldOrder(as_seen_by(actor, q.incident), [], [], q.due_at)
            for q in orgs.work_orders(actor, bind=engine(bind))]


def by_day(items: list[FieldOrder], now: datetime, zone: str) -> tuple[list[FieldOrder], list[FieldOrder]]:
    """The crew's orders for today — no visit planned, a visit today or one already past (late work comes
    first, not later) — and those whose visit is planned on a later day (region's time zone ``zone``)."""
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(zone)
    today = now.astimezone(tz).date()
    later = [o for o in items if o.incident.visit_at is not None and o.incident.visit_at.astimezone(tz).date() > today]
    return [o for o in items if o not in later], later


def order(actor: Actor, incident_id: int, *, bind: Engine | None = None) -> FieldOrder:
    crew_org(actor)
    try:
        found = orgs.work_order(actor, incident_id, bind=engine(bind))
    except IncidentNotFound:
        raise FieldRefused(404, UNKNOWN_ORDER, id=incident_id) from None
    return FieldOrder(as_seen_by(actor, found.incident), found.events, found.photos, found.item.due_at)


def _sheet(conn: Any, outage: Outage) -> Sheet:
    detail = outage_ops._detail(conn, outage)
    rows = outage_ops.crew_sheet(detail)
    ids = [str(v) for v in outage.valve_ids] + [str(v) for v in outage.optional_valve_ids]
    for row, valve_id in zip(rows, ids, strict=False):
        row["valve_id"] = int(valve_id)
    return Sheet(outage, rows, sheets.marks_of(conn, outage.id))


def outage_sheets(actor: Actor, *, bind: Engine | None = None) -> list[Sheet]:
    """The valve sheets of the approved and active outages on the networks the crew's organisation operates."""
    org = crew_org(actor)
    with engine(bind).connect() as conn:
        return [_sheet(conn, outage_domain.get(conn, oid)) for oid in sheets.open_outages_of_utility(conn, org)]


def _own_outage(conn: Any, org: int, outage_id: int, *, for_update: bool = False) -> Outage:
    try:
        outage = outage_domain.get(conn, outage_id, for_update=for_update)
    except OutageNotFound:
        raise FieldRefused(404, UNKNOWN_OUTAGE, id=outage_id) from None
    if sheets.utility_of_network(conn, outage.network_id) != org:
        raise FieldRefused(404, UNKNOWN_OUTAGE, id=outage_id)
    return outage


def outage_sheet(actor: Actor, outage_id: int, *, bind: Engine | None = None) -> Sheet:
    """One outage's valve sheet — on a network of the crew's organisation (any other: unknown)."""
    org = crew_org(actor)
    with engine(bind).connect() as conn:
        return _sheet(conn, _own_outage(conn, org, outage_id))


def surroundings(actor: Actor, points: list[tuple[float, float]], *, bind: Engine | None = None) -> dict[str, Any]:
    """The small map around ``points`` (lon, lat): buildings and pipes nearby (no person's data)."""
    crew_org(actor)
    with engine(bind).connect() as conn:
        return sheets.surroundings(conn, points)


# ---- checks --------------------------------------------------------------------------------------------

def checked_event_id(event_id: object) -> str:
    if not isinstance(event_id, str) or not wo.EVENT_ID_RE.match(event_id):
        raise FieldRefused(400, BAD_EVENT_ID)
    return event_id


def checked_time(value: object, now: datetime) -> datetime:
    """The phone's time of an action (ISO 8601 with a zone); now when none was sent."""
    if value in (None, ""):
        return now
    if not isinstance(value, str):
        raise FieldRefused(400, BAD_TIME)
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise FieldRefused(400, BAD_TIME) from None
    if at.tzinfo is None:
        raise FieldRefused(400, BAD_TIME)
    if at > now + MAX_CLOCK_AHEAD:
        raise FieldRefused(400, FUTURE_TIME)
    return at


def checked_position(lat: object, lon: object, bind: Engine) -> tuple[float, float] | None:
    """(lat, lon) of the phone, inside the service area; None when the crew did not share it."""
    if lat in (None, "") and lon in (None, ""):
        return None
    try:
        la, lo = float(lat), float(lon)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise FieldRefused(400, BAD_POSITION) from None
    if isinstance(lat, bool) or isinstance(lon, bool) or not (math.isfinite(la) and math.isfinite(lo)) \
            or not (-90 <= la <= 90 and -180 <= lo <= 180):
        raise FieldRefused(400, BAD_POSITION)
    if not service.service_area(bind).contains(lo, la):
        raise FieldRefused(400, OUTSIDE, lat=round(la, 5), lon=round(lo, 5))
    return la, lo


# ---- a work order ----------------------------------------------------------------------------------------

def order_step(actor: Actor, incident_id: int, kind: str, *, event_id: object, text: object = "",
               done_at: object = None, lat: object = None, lon: object = None,
               photos: list[PhotoIn] | None = None, bind: Engine | None = None) -> orgs.Outcome:
    """"on my way", "arrived" or "done" (``resolved``: the answer ``text`` and photos) on the crew's own
    work order. Every input is checked before anything is written."""
    crew_org(actor)
    eng = engine(bind)
    if kind not in FIELD_STEPS:
        raise FieldRefused(400, BAD_KIND)
    event_id = checked_event_id(event_id)
    now = utcnow()
    at = checked_time(done_at, now)
    position = checked_position(lat, lon, eng)
    if not isinstance(text, str):
        raise FieldRefused(400, BAD_TEXT)
    if len(text) > wo.MAX_TEXT_CHARS:
        raise FieldRefused(400, TOO_LONG, max=wo.MAX_TEXT_CHARS)
    if kind == "resolved" and not text.strip():
        raise FieldRefused(400, ANSWER_NEEDED)
    photos = photos or []
    if photos and kind != "resolved":
        raise FieldRefused(400, BAD_PHOTO)
    if len(photos) > wo.MAX_PHOTOS:
        raise FieldRefused(400, TOO_MANY_PHOTOS, max=wo.MAX_PHOTOS)
    metas = []
    for p in photos:
        try:
            wo.normalise_photo(p.data)
        except wo.WorkOrderError:
            raise FieldRefused(400, BAD_PHOTO, mb=wo.MAX_PHOTO_BYTES // (1024 * 1024)) from None
        taken = checked_time(p.taken_at.isoformat() if isinstance(p.taken_at, datetime) else p.taken_at, now) \
            if p.taken_at is not None else None
        where = checked_position(*p.position, eng) if p.position is not None else None
        metas.append(orgs.PhotoMeta(taken, where[0] if where else None, where[1] if where else None))
    try:
        return orgs.act(actor, incident_id, kind, event_id=event_id, text=text, photos=[p.data for p in photos],
                        photo_meta=metas, done_at=at, position=position, bind=eng)
    except IncidentNotFound:
        raise FieldRefused(404, UNKNOWN_ORDER, id=incident_id) from None
    except wo.WorkOrderConflict as exc:
        if "was used for another action" in str(exc):
            raise FieldRefused(409, REUSED_ID) from None
        if "nothing more to do" in str(exc) or "resolved by the organisation" in str(exc):
            raise FieldRefused(409, ORDER_CLOSED, id=incident_id) from None
        raise FieldRefused(409, ORDER_CONFLICT, id=incident_id) from None
    except wo.WorkOrderError:   # the answer's own rules (control characters and the like)
        raise FieldRefused(400, BAD_TEXT) from None


# ---- a valve of an outage ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class ValveOutcome:
    mark: sheets.ValveMark
    created: bool


def mark_valve(actor: Actor, outage_id: int, valve_id: int, kind: str, *, event_id: object, done_at: object = None,
               lat: object = None, lon: object = None, note: object = "", bind: Engine | None = None) -> ValveOutcome:
    """A valve of an approved or active outage on the crew's organisation's network: ``closed`` or ``stuck``
    (will not close: waits for the dispatcher's one-step re-plan). A cancelled or restored outage refuses in
    words (409); a repeated ``event_id`` answers with the stored mark."""
    org = crew_org(actor)
    eng = engine(bind)
    if kind not in sheets.VALVE_KINDS:
        raise FieldRefused(400, BAD_KIND)
    event_id = checked_event_id(event_id)
    now = utcnow()
    at = checked_time(done_at, now)
    position = checked_position(lat, lon, eng)
    if not isinstance(note, str) or any(ord(c) < 32 and c not in "\n\t" for c in note):
        raise FieldRefused(400, BAD_TEXT)
    note = note.strip()
    if len(note) > sheets.MAX_NOTE_CHARS:
        raise FieldRefused(400, TOO_LONG, max=sheets.MAX_NOTE_CHARS)
    with eng.begin() as conn:
        outage = _own_outage(conn, org, outage_id, for_update=True)
        stored = sheets.mark_by_id(conn, org, event_id)
        if stored is not None:
            if (stored.outage_id, stored.valve_id, stored.kind) != (outage_id, valve_id, kind):
                raise FieldRefused(409, REUSED_ID)
            return ValveOutcome(stored, False)
        if valve_id not in outage.valve_ids and valve_id not in outage.optional_valve_ids:
            raise FieldRefused(404, UNKNOWN_VALVE, id=valve_id)
        if outage.state not in outage_domain.OPEN_STATES:
            raise FieldRefused(409, OUTAGE_OVER, id=outage_id, state=outage.state)
        mark = sheets.insert_mark(conn, event_id=event_id, org_id=org, outage_id=outage_id, valve_id=valve_id,
                                  kind=kind, note=note, done_at=at, lat=position[0] if position else None,
                                  lon=position[1] if position else None, author=actor.author, at=now)
        if mark is None:
            raise FieldRefused(409, ORDER_CONFLICT, id=outage_id)
        audit.record(conn, actor=actor.author, action=f"outage.valve_{kind}", object_type="outage",
                     object_id=outage_id, at=now, reason=note, details={
                         "valve_id": valve_id, "event_id": event_id, "org_id": org, "done_at": at,
                         "position": [round(position[0], 6), round(position[1], 6)] if position else None})
    return ValveOutcome(mark, True)


def stuck_reports(actor: Actor, outage_id: int, *, bind: Engine | None = None) -> list[sheets.ValveMark]:
    """The crews' marks on an outage (the service's dispatcher's panel): closed valves and pending stuck ones."""
    allow(actor, "outages.read")
    with engine(bind).connect() as conn:
        return sheets.marks_of(conn, outage_id)


def approve_stuck(actor: Actor, outage_id: int, *, seen_plan: str | None = None,
                  bind: Engine | None = None) -> Outage:
    """The dispatcher approves, in one step, the re-plan around every valve a crew reported stuck and not
    yet approved (``ops.outages.extend``); the reports are marked approved, with the dispatcher's name."""
    allow(actor, "outages.approve")
    eng = engine(bind)
    with eng.connect() as conn:
        pending = sheets.pending_stuck(conn, outage_id)
    if not pending:
        raise FieldRefused(409, NOTHING_PENDING, id=outage_id)
    reason = "; ".join(f"{m.author}: {m.note}" if m.note else m.author for m in pending)
    grown = outage_ops.extend(actor, outage_id, sorted({m.valve_id for m in pending}),
                              reason=f"reported stuck by the crew ({reason})"[:1000], seen_plan=seen_plan, bind=eng)
    now = utcnow()
    with eng.begin() as conn:
        sheets.decide(conn, [m.id for m in pending], by=actor.author, at=now)
        audit.record(conn, actor=actor.author, action="outage.stuck_approved", object_type="outage",
                     object_id=outage_id, at=now, details={"reports": [m.id for m in pending],
                                                           "valves": sorted({m.valve_id for m in pending})})
    return grown
