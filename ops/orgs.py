"""Use-cases of an organisation's desk (``org_dispatcher``), its crews (``crew``) and its own systems (an API
key with an organisation): the organisation's work orders — the reports it answers for — and its actions on
them: accept, assign to a crew, plan a visit, resolve with an answer (and photos), hand back ("not ours").

Every action is one event with a client-chosen ``event_id`` (unique per organisation): stored once (a repeated id answers with the
stored event and changes nothing, so a client may retry blindly), with its author and organisation, in
the transaction of the change and its audit event (``work_order.<kind>``). Another organisation's report
answers exactly as an unknown one (``IncidentNotFound``) and changes nothing.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from auth.errors import PermissionDenied
from auth.model import Actor
from auth.permissions import allowed
from incidents import service
from incidents import work_orders as wo
from incidents.errors import IncidentNotFound
from incidents.intake import text_problems
from incidents.model import Incident, QueueItem
from incidents.workflow import OPEN_STATUSES
from notify import report_notices
from ops import audit, webhooks
from ops.base import allow, engine, org_scope, utcnow


@dataclass(frozen=True)
class PhotoMeta:
    """What the phone sends beside a photo (its EXIF is dropped): when and where it was taken."""

    taken_at: datetime | None = None
    lat: float | None = None
    lon: float | None = None


@dataclass(frozen=True)
class Outcome:
    """What an action did: its event (the stored one when the ``event_id`` was used before), whether it was
    stored now, and the work order after it."""

    event: wo.WorkOrderEvent
    created: bool
    incident: Incident


@dataclass(frozen=True)
class WorkOrder:
    item: QueueItem
    events: list[wo.WorkOrderEvent]
    photos: list[dict[str, Any]]

    @property
    def incident(self) -> Incident:
        return self.item.incident


def _own_org(actor: Actor) -> int:
    """The organisation ``actor`` works for (its desk and API have no meaning for the service's staff)."""
    org = org_scope(actor)
    if org is None:
        raise PermissionDenied("orders.desk", actor.role, actor.author)
    return org


def _may_read(actor: Actor) -> int:
    if not (allowed(actor.role, "orders.desk") or allowed(actor.role, "orders.field")):
        allow(actor, "orders.desk")
    return _own_org(actor)


def work_orders(actor: Actor, *, statuses: Iterable[str] | None = None, bind: Engine | None = None,
                limit: int = 1000) -> list[QueueItem]:
    """The organisation's work orders (open ones by default), most urgent first; a crew sees its own."""
    org = _may_read(actor)
    items = service.list_queue(engine(bind), org_id=org, statuses=tuple(statuses or sorted(OPEN_STATUSES)),
                               limit=limit)
    if not allowed(actor.role, "orders.desk"):
        items = [q for q in items if q.incident.crew_login == actor.author]
    return items


def work_order(actor: Actor, incident_id: int, *, bind: Engine | None = None) -> WorkOrder:
    """One work order with its events and photos (another organisation's: ``IncidentNotFound``)."""
    org = _may_read(actor)
    with engine(bind).connect() as conn:
        inc = service.get_incident(conn, incident_id)
        if inc.responsible_org_id != org or (not allowed(actor.role, "orders.desk")
                                             and inc.crew_login != actor.author):
            raise IncidentNotFound(f"no incident with id {incident_id}")
        events = wo.events_of(conn, incident_id, org)      # its own: not those of an organisation before it
        photos = wo.photos_of(conn, incident_id, org)
    return WorkOrder(service.queue_item(inc, service.rules_from_settings(), service.utcnow()), events, photos)


def crews(actor: Actor, *, bind: Engine | None = None) -> list[dict[str, Any]]:
    """The organisation's active crews (login, name): whom a work order may be assigned to."""
    allow(actor, "orders.desk")
    org = _own_org(actor)
    with engine(bind).connect() as conn:
        return wo.crews(conn, org)


def act(actor: Actor, incident_id: int, kind: str, *, event_id: str, text: str = "",
        visit_at: datetime | None = None, crew: str | None = None, photos: Sequence[bytes] = (),
        photo_meta: Sequence[PhotoMeta] = (), done_at: datetime | None = None,
        position: tuple[float, float] | None = None, bind: Engine | None = None) -> Outcome:
    """One action of the organisation on its work order (see the module's docstring).

    ``accepted``; ``assigned`` (``crew``: a crew login of the same organisation); ``visit_planned``
    (``visit_at``, time zone-aware: the time the resident will see); ``resolved`` (``text``: the answer,
    required; ``photos``: JPEG/PNG/WebP/HEIC bytes, re-encoded); ``returned`` (``text``: the reason, required —
    the report goes back to the service's dispatcher, who names the organisation again)."""
    if kind in wo.FIELD_KINDS and not allowed(actor.role, "orders.desk"):
        allow(actor, "orders.field")
    else:
        allow(actor, "orders.desk")
    org = _own_org(actor)
    event_id, body = _checked(kind, event_id, text, visit_at, crew, photos)
    shots = [wo.normalise_photo(raw) for raw in photos]   # before the transaction: a bad photo writes nothing
    shots = [replace(shot, **meta.__dict__) if meta is not None else shot
             for shot, meta in zip(shots, [*photo_meta, *[None] * len(shots)], strict=False)]
    now = utcnow()
    with engine(bind).begin() as conn:
        order = wo.lock_order(conn, incident_id)
        if order is None or order["responsible_org_id"] != org:
            raise IncidentNotFound(f"no incident with id {incident_id}")
        if not allowed(actor.role, "orders.desk") and order["crew_login"] != actor.author:
            raise IncidentNotFound(f"no incident with id {incident_id}")   # a crew acts on its own orders only
        stored = wo.event_by_id(conn, org, event_id)
        if stored is not None:
            return _repeated(conn, stored, incident_id, kind)
        changes = _apply(conn, order, kind, actor=actor, org=org, body=body, visit_at=visit_at, crew=crew, now=now)
        event = wo.insert_event(conn, event_id=event_id, incident_id=incident_id, org_id=org, kind=kind, body=body,
                                visit_at=changes.get("visit_at"), crew_login=changes.get("crew_login"),
                                author=actor.author, at=now, done_at=done_at,
                                lat=position[0] if position else None, lon=position[1] if position else None)
        if event is None:   # the same id stored by a concurrent retry: roll this one back, answer with that one
            raise wo.WorkOrderConflict(f"event_id {event_id!r} is being stored by another request; retry")
        for shot in shots:
            wo.insert_photo(conn, incident_id=incident_id, event_row_id=event.id, photo=shot, author=actor.author,
                            at=now)
        # the residents of the address are told of a planned visit and of the resolution, in this transaction
        notices = report_notices.enqueue(conn, incident_id, kind, event_row_id=event.id, now=now)
        details: dict[str, Any] = {"event_id": event_id, "org_id": org}
        details.update({k: v for k, v in changes.items() if k in ("crew_login", "visit_at")})
        if shots:
            details["photos"] = len(shots)
        if notices:
            details["notices"] = notices
        if position is not None:
            details["position"] = [round(position[0], 6), round(position[1], 6)]
        if done_at is not None:
            details["done_at"] = done_at
        audit.record(conn, actor=actor.author, action=f"work_order.{kind}", object_type="incident",
                     object_id=incident_id, at=now, reason=body if kind == "returned" else "", details=details)
        webhooks.queue_change(conn, incident_id, f"work_order.{kind}", now=now, org_id=org)
        incident = service.get_incident(conn, incident_id)
    return Outcome(event, True, incident)


def _checked(kind: str, event_id: object, text: object, visit_at: datetime | None, crew: str | None,
             photos: Sequence[bytes]) -> tuple[str, str]:
    if kind not in wo.KINDS:
        raise wo.WorkOrderError(f"unknown kind {kind!r}; expected one of {', '.join(wo.KINDS)}")
    if not isinstance(event_id, str) or not wo.EVENT_ID_RE.match(event_id):
        raise wo.WorkOrderError("event_id must be 1–100 characters: latin letters, digits and . _ : -")
    if not isinstance(text, str):
        raise wo.WorkOrderError("text must be a string")
    body = text.strip()
    problems = text_problems("text", body, max_chars=wo.MAX_TEXT_CHARS, multiline=True)
    if problems:
        raise wo.WorkOrderError("; ".join(p.describe() for p in problems))
    if kind in ("resolved", "returned") and not body:
        raise wo.WorkOrderError(f"{kind} needs a text: " + ("the answer to the resident" if kind == "resolved"
                                                            else "the reason it is not ours"))
    if kind == "visit_planned" and (visit_at is None or visit_at.tzinfo is None):
        raise wo.WorkOrderError("visit_planned needs visit_at with a time zone (ISO 8601, e.g. 2026-12-07T10:00+03:00)")
    if kind == "assigned" and not (crew or "").strip():
        raise wo.WorkOrderError("assigned needs a crew (the login of a crew account of your organisation)")
    if photos and kind != "resolved":
        raise wo.WorkOrderError("photos go with a resolution only")
    if len(photos) > wo.MAX_PHOTOS:
        raise wo.WorkOrderError(f"at most {wo.MAX_PHOTOS} photos per resolution")
    return event_id, body


def _repeated(conn: Any, stored: wo.WorkOrderEvent, incident_id: int, kind: str) -> Outcome:
    """A retried action: the stored event, nothing changed; the same id for another action is refused."""
    if stored.incident_id != incident_id or stored.kind != kind:
        raise wo.WorkOrderConflict(f"event_id {stored.event_id!r} was used for another action")
    return Outcome(stored, False, service.get_incident(conn, incident_id))


def _apply(conn: Any, order: dict[str, Any], kind: str, *, actor: Actor, org: int, body: str,
           visit_at: datetime | None, crew: str | None, now: datetime) -> dict[str, Any]:
    """Change the work order for ``kind``; the values changed."""
    incident_id = int(order["id"])
    if order["status"] not in OPEN_STATUSES:
        raise wo.WorkOrderConflict(f"report {incident_id} is {order['status']}: nothing more to do on it")
    if order["org_state"] == "resolved" and kind != "returned":
        raise wo.WorkOrderConflict(f"report {incident_id} is resolved by the organisation already")
    changes: dict[str, Any]
    note = f"{kind} by the organisation"
    if kind == "accepted":
        if order["org_state"] is not None:
            raise wo.WorkOrderConflict(f"report {incident_id} is {order['org_state']} already")
        changes = {"org_state": "accepted", "org_accepted_at": now}
        service.advance_incident(conn, incident_id, "accepted", actor=actor.author, note=note, now=now)
    elif kind == "assigned":
        login = wo.crew_of(conn, (crew or "").strip(), org)
        if login is None:
            raise wo.WorkOrderError(f"no active crew {crew!r} at your organisation")
        changes = {"org_state": "assigned", "crew_login": login}
        if order["org_state"] is None:
            changes["org_accepted_at"] = now
        service.advance_incident(conn, incident_id, "dispatched", actor=actor.author, note=note, now=now)
    elif kind == "visit_planned":
        assert visit_at is not None
        if visit_at < order["created_at"]:
            raise wo.WorkOrderError("the visit cannot be planned before the report was made")
        changes = {"org_state": "visit_planned", "visit_at": visit_at}
        if order["org_state"] is None:
            changes["org_accepted_at"] = now
        service.advance_incident(conn, incident_id, "accepted", actor=actor.author, note=note, now=now)
    elif kind in wo.STEP_KINDS:   # a crew on its way, then there: the report moves, the organisation's state stays
        service.advance_incident(conn, incident_id, "in_progress" if kind == "arrived" else "dispatched",
                                 actor=actor.author, note=f"crew {kind.replace('_', ' ')}", now=now)
        return {}
    elif kind == "resolved":
        changes = {"org_state": "resolved", "org_answer": body, "org_resolved_at": now}
        if order["org_state"] is None:
            changes["org_accepted_at"] = now
        service.advance_incident(conn, incident_id, "resolved", actor=actor.author, note=note, now=now)
    else:   # returned: back to the service's dispatcher, who names the responsible organisation again
        changes = {"responsible_org_id": None, "org_state": None, "crew_login": None, "visit_at": None}
    wo.update_order(conn, incident_id, **changes)
    return changes
