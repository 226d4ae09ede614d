"""The resident's two writes on reports: a new report (the hotline's intake, channel ``portal``) and
"not fixed" on a resolved one (reopen: once, within 30 days of the fix)."""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, text

from auth.model import Actor
from incidents import repo
from incidents.errors import ConcurrentEdit, IncidentNotFound
from incidents.workflow import transition
from ops import audit

REOPEN_DAYS = 30
REOPEN_NOTE = "reopened by resident"


class ReopenRefused(ValueError):
    """A "not fixed" the rules do not allow; ``reason`` is not_resolved | already | too_late."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


def resident_actor(ip: str, salt: str = "") -> Actor:
    """The author of a resident's write: ``resident:<hash of the IP>`` (no address is stored), with
    the rights of an Open311 client (take and read reports)."""
    digest = hashlib.sha256(f"{salt}|{ip}".encode()).hexdigest()[:12]
    return Actor(author=f"resident:{digest}", role="operator", display_name="portal", kind="api")


def take(actor: Actor, engine: Engine, *, building_id: int, service_code: str, description: str,
         client_token: str | None = None) -> Any:
    """A new report with channel ``portal``; a repeated ``client_token`` (a report the page queued
    offline and sent again) returns the first report, ``created=False``."""
    from ops.incidents import take_report

    return take_report(actor, bind=engine, service_code=service_code, building_id=int(building_id),
                       description=description, channel="portal", client_token=client_token)


def reopen(engine: Engine, incident_id: int, *, actor: Actor, now: datetime) -> None:
    """resolved → in_progress with the note ``reopened by resident`` (a status event the KPIs count)
    and ``attributes.reopened_at``; refused when the report is not resolved, was reopened already,
    or was resolved more than 30 days ago."""
    with engine.begin() as conn:
        row = conn.execute(text("SELECT id FROM incidents WHERE id = :i FOR UPDATE"), {"i": int(incident_id)}).first()
        if row is None:
            raise IncidentNotFound(f"no incident with id {incident_id}")
        inc = repo.get_incident(conn, int(incident_id))
        assert inc is not None
        if inc.attributes.get("reopened_at"):
            raise ReopenRefused("already", f"report {incident_id} was reopened once already")
        if inc.status != "resolved":
            raise ReopenRefused("not_resolved", f"report {incident_id} is {inc.status}, not resolved")
        if inc.resolved_at is None or now - inc.resolved_at > timedelta(days=REOPEN_DAYS):
            raise ReopenRefused("too_late", f"report {incident_id} was resolved more than {REOPEN_DAYS} days ago")
        event = transition(inc.status, "in_progress", actor.author, REOPEN_NOTE, now)
        if repo.update_status(conn, inc.id, inc.version, event) is None:
            raise ConcurrentEdit(f"incident {incident_id} changed meanwhile; retry")
        repo.insert_event(conn, inc.id, event)
        conn.execute(text("""
            UPDATE incidents SET attributes = attributes || jsonb_build_object('reopened_at', CAST(:at AS text),
                   'reopened_resolved_at', CAST(:r AS text))
            WHERE id = :i
        """), {"at": now.isoformat(), "r": inc.resolved_at.isoformat(), "i": inc.id})
        audit.record(conn, actor=actor.author, action="incident.reopen", object_type="incident", object_id=inc.id,
                     at=now, reason=REOPEN_NOTE, details={"resolved_at": inc.resolved_at})
