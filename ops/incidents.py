"""Use-cases of reports: take one (hotline, app, Open311), the queue, a report with its history and
notes, status changes, duplicates, notes, and the control room's figures."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine

from auth.errors import PermissionDenied
from auth.model import Actor
from incidents import outage_repo, service
from incidents import repo as incident_repo
from incidents.errors import ConcurrentEdit, IncidentNotFound, InvalidIncident
from incidents.intake import InvalidReport, Problem, text_problems
from incidents.model import ControlRoomKpis, Incident, IntakeResult, Outage, QueueItem
from incidents.redact import redact
from ops import audit, webhooks
from ops.base import allow, check_incident_scope, engine, org_scope, utcnow
from ops.errors import NotFound
from ops.shared import db_key, shared
from settings import Settings

MAX_NOTE_CHARS = 2000


def take_report(actor: Actor, *, bind: Engine | None = None, **fields: Any) -> IntakeResult:
    """Register a report (hotline form, app, Open311): validated, located, snapped, deduplicated
    against a repeated token, linked to the outage that explains it. Its first history event names
    ``actor``. Fields as ``incidents.service.create_incident``."""
    allow(actor, "reports.take")
    return service.create_incident(engine(bind), actor=actor.author, on_created=_created, **fields)


def _created(conn: Connection, incident: Incident) -> None:
    """In the intake's transaction: the organisation named at intake hears of its new work order."""
    webhooks.queue_change(conn, incident.id, "work_order.created", now=utcnow())


#: the roles that work a report on site and never see who reported it: no name, phone or e-mail, and the
#: description as the public reads it (phones, e-mails and names in it masked; issue 18)
NO_REPORTER = frozenset({"crew"})


def as_seen_by(actor: Actor, inc: Incident) -> Incident:
    """``inc`` as ``actor`` may see it (a crew: without the reporter's contact)."""
    if actor.role not in NO_REPORTER:
        return inc
    return replace(inc, reporter_name=None, reporter_phone=None, reporter_email=None,
                   description=redact(inc.description) if inc.description else inc.description)


def queue(actor: Actor, *, bind: Engine | None = None, **filters: Any) -> list[QueueItem]:
    """Reports with deadline and SLA state, most urgent first (filters as ``incidents.service.list_queue``);
    an organisation's staff get only their organisation's, a crew without the reporters' contact."""
    allow(actor, "reports.read")
    items = service.list_queue(engine(bind), **{**filters, "org_id": org_scope(actor)})
    if actor.role in NO_REPORTER:
        items = [replace(q, incident=as_seen_by(actor, q.incident)) for q in items]
    return items


@dataclass(frozen=True)
class ReportDetail:
    item: QueueItem
    history: list[dict[str, Any]]
    notes: list[dict[str, Any]]
    outage: Outage | None = None      # the outage it is linked to (its state and expected end)

    @property
    def incident(self) -> Incident:
        return self.item.incident


def report(actor: Actor, incident_id: int, *, bind: Engine | None = None) -> ReportDetail:
    """A report with its history, notes and outage (another organisation's: ``IncidentNotFound``)."""
    allow(actor, "reports.read")
    with engine(bind).connect() as conn:
        check_incident_scope(actor, conn, incident_id)
        inc = service.get_incident(conn, incident_id)
        history = service.incident_history(conn, incident_id)
        notes = incident_repo.notes_of(conn, incident_id)
        linked = outage_repo.get_outage(conn, inc.outage_id) if inc.outage_id is not None else None
    item = service.queue_item(as_seen_by(actor, inc), service.rules_from_settings(), service.utcnow())
    return ReportDetail(item=item, history=history, notes=notes, outage=linked)


def transition(actor: Actor, incident_id: int, to: str, *, expected_version: int, note: str = "",
               bind: Engine | None = None) -> Incident:
    """Move a report in its workflow (refused for a stale version: someone changed it meanwhile)."""
    allow(actor, "reports.edit")
    _text_or_raise("note", note, allow_empty=True)
    with engine(bind).begin() as conn:
        check_incident_scope(actor, conn, incident_id)
        updated = service.transition_incident(conn, incident_id, to, actor=actor.author,
                                              expected_version=expected_version, note=note)
        webhooks.queue_change(conn, incident_id, "work_order.status_changed", now=utcnow())
        return updated


def mark_duplicate(actor: Actor, incident_id: int, of_incident_id: int, *, expected_version: int, note: str = "",
                   bind: Engine | None = None) -> Incident:
    allow(actor, "reports.edit")
    _text_or_raise("note", note, allow_empty=True)
    with engine(bind).begin() as conn:
        check_incident_scope(actor, conn, incident_id)
        check_incident_scope(actor, conn, of_incident_id)
        updated = service.mark_duplicate(conn, incident_id, of_incident_id, actor=actor.author,
                                         expected_version=expected_version, note=note)
        webhooks.queue_change(conn, incident_id, "work_order.status_changed", now=utcnow())
        return updated


def set_description_private(actor: Actor, incident_id: int, private: bool, *,
                            bind: Engine | None = None) -> bool:
    """Hide a report's description from every public view (residents' page, Open311) or show it
    again, redacted; operators always see it in full. Audited; True when it changed."""
    allow(actor, "reports.edit")
    now = utcnow()
    with engine(bind).begin() as conn:
        check_incident_scope(actor, conn, incident_id)
        before = incident_repo.set_description_private(conn, incident_id, private)
        if before is None:
            raise IncidentNotFound(f"no incident with id {incident_id}")
        if before == bool(private):
            return False
        audit.record(conn, actor=actor.author, action="incident.description_private", object_type="incident",
                     object_id=incident_id, at=now, details={"private": bool(private)})
    return True


def _text_or_raise(field: str, value: str, *, allow_empty: bool = False, max_chars: int = MAX_NOTE_CHARS) -> None:
    """The one text policy of reports (``incidents.intake``) for notes and status notes."""

    problems = [] if value.strip() or allow_empty else [Problem(field, "required", {})]
    problems += text_problems(field, value, max_chars=max_chars, multiline=True)
    if problems:
        raise InvalidReport.of(problems)


def add_note(actor: Actor, incident_id: int, body: str, *, bind: Engine | None = None) -> dict[str, Any]:
    """A note on a report, signed by ``actor`` (every role may write notes)."""
    allow(actor, "notes.write")
    _text_or_raise("note", body)
    now = utcnow()
    with engine(bind).begin() as conn:
        check_incident_scope(actor, conn, incident_id)
        if not outage_repo.incident_exists(conn, incident_id):
            raise IncidentNotFound(f"no incident with id {incident_id}")
        note = incident_repo.insert_note(conn, incident_id, actor.author, body.strip(), now)
        audit.record(conn, actor=actor.author, action="incident.note_add", object_type="incident",
                     object_id=incident_id, at=now, details={"note_id": note["id"], "chars": len(note["body"])})
    return note


def edit_note(actor: Actor, note_id: int, body: str, *, expected_version: int, bind: Engine | None = None) -> dict[str, Any]:
    """Change one's own note (nobody edits another person's note)."""
    allow(actor, "notes.write")
    _text_or_raise("note", body)
    now = utcnow()
    with engine(bind).begin() as conn:
        note = incident_repo.get_note(conn, note_id, for_update=True)
        if note is None:
            raise NotFound(f"no note with id {note_id}")
        check_incident_scope(actor, conn, note["incident_id"])
        if note["author"] != actor.author:

            raise PermissionDenied("notes.edit_others", actor.role, actor.author)
        if note["version"] != expected_version:

            raise ConcurrentEdit(f"note {note_id} changed since it was read; reload and retry")
        updated = incident_repo.update_note(conn, note_id, body.strip(), now)
        audit.record(conn, actor=actor.author, action="incident.note_edit", object_type="incident",
                     object_id=note["incident_id"], at=now, details={"note_id": note_id, "before": note["body"]})
    return updated


@dataclass(frozen=True)
class ControlRoom:
    """Everything the wall screen shows at one moment."""

    now: datetime
    kpis: ControlRoomKpis
    queue: list[QueueItem]
    active: list[Outage]
    planned: list[Outage]
    dry_building_ids: list[int]
    #: open reports past their deadline per responsible organisation: an organisation's breach escalates here
    org_breaches: dict[int, int] = field(default_factory=dict)


def control_room(actor: Actor, *, bind: Engine | None = None, max_age: float = 0) -> ControlRoom:
    """The control room's figures now. ``max_age`` > 0: one computation for all the sessions of this
    replica within that many seconds (the wall screens' refresh period), after each caller's own
    rights check; ``room.now`` says when it was computed. The result is shared: read it, never change it."""
    allow(actor, "outages.read")
    allow(actor, "reports.read")
    eng = engine(bind)
    org = org_scope(actor)
    return shared(("control_room", db_key(eng), org), max_age, lambda: _control_room(eng, org))


def _control_room(eng: Engine, org: int | None = None) -> ControlRoom:
    now = service.utcnow()
    with eng.connect() as conn:
        items = service.list_queue(conn, now=now, org_id=org)
        kpis = service.control_room_kpis(conn, now=now, org_id=org)
        breaches = service.org_breaches(conn, now=now)
        if org is not None:
            breaches = {k: v for k, v in breaches.items() if k == org}
        active = outage_repo.list_outages(conn, ["active"])
        planned = outage_repo.list_outages(conn, ["planned"])
        dry = [int(r["building_id"]) for r in outage_repo.affected_buildings_of_active(conn)]
    return ControlRoom(now=now, kpis=kpis, queue=items, active=active, planned=planned, dry_building_ids=dry,
                       org_breaches=breaches)


def rules(settings: Settings | None = None) -> Any:
    """The SLA rules in force (service codes, deadlines, time zone) — configuration, not data."""
    return service.rules_from_settings(settings)


@dataclass(frozen=True)
class Requests:
    """Reports as an Open311 client reads them, with the planned end of the outages they are linked to
    (their expected time)."""

    incidents: list[Incident]
    outage_ends: dict[int, datetime]


def request(actor: Actor, incident_id: int, *, bind: Engine | None = None) -> Requests:
    """One report (``IncidentNotFound`` when there is none) for an Open311 client."""
    allow(actor, "reports.read")
    with engine(bind).connect() as conn:
        check_incident_scope(actor, conn, incident_id)
        inc = service.get_incident(conn, incident_id)
        ends = service.outage_ends(conn, [inc.outage_id]) if inc.outage_id else {}
    return Requests([inc], ends)


def requests(actor: Actor, *, bind: Engine | None = None, **filters: Any) -> Requests:
    """Reports by filters (as ``incidents.service.list_incidents``) for an Open311 client."""
    allow(actor, "reports.read")
    with engine(bind).connect() as conn:
        found = service.list_incidents(conn, **{**filters, "org_id": org_scope(actor)})
        ends = service.outage_ends(conn, [i.outage_id for i in found if i.outage_id])
    return Requests(found, ends)


def find_duplicates(actor: Actor, incident_id: int, *, bind: Engine | None = None) -> list[Any]:
    allow(actor, "reports.read")
    eng = engine(bind)
    scope = org_scope(actor)
    if scope is None:
        return service.find_duplicates(eng, incident_id)
    with eng.connect() as conn:
        check_incident_scope(actor, conn, incident_id)
    found = service.find_duplicates(eng, incident_id)
    own = {i.id for i in service.list_incidents(eng, ids=[c.incident_id for c in found], org_id=scope)} if found else set()
    return [c for c in found if c.incident_id in own]


__all__ = ["take_report", "queue", "report", "transition", "mark_duplicate", "add_note", "edit_note",
           "control_room", "ControlRoom", "ReportDetail", "rules", "find_duplicates", "InvalidIncident",
           "Requests", "request", "requests"]
