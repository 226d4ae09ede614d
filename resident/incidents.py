"""The resident's "not fixed" on a resolved report (reopen: once, within 30 days of the fix).

A new report from the residents' page is the hotline's intake (``ops.resident.take_incident``, channel
``portal``); the audit of both writes is recorded by the use-cases of ``ops.resident``."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, text

from incidents import repo
from incidents.errors import ConcurrentEdit, IncidentNotFound
from incidents.workflow import transition

REOPEN_DAYS = 30
REOPEN_NOTE = "reopened by resident"


class ReopenRefused(ValueError):
    """A "not fixed" the rules do not allow; ``reason`` is not_resolved | already | too_late."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


def reopen(conn: Connection, incident_id: int, *, author: str, now: datetime) -> datetime:
    """resolved → in_progress with the note ``reopened by resident`` (a status event the KPIs count)
    and ``attributes.reopened_at``, inside the caller's transaction; refused when the report is not
    resolved, was reopened already, or was resolved more than 30 days ago. When it was resolved (for
    the caller's audit event)."""
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
    event = transition(inc.status, "in_progress", author, REOPEN_NOTE, now)
    if repo.update_status(conn, inc.id, inc.version, event) is None:
        raise ConcurrentEdit(f"incident {incident_id} changed meanwhile; retry")
    repo.insert_event(conn, inc.id, event)
    conn.execute(text("""
        UPDATE incidents SET attributes = attributes || jsonb_build_object('reopened_at', CAST(:at AS text),
               'reopened_resolved_at', CAST(:r AS text))
        WHERE id = :i
    """), {"at": now.isoformat(), "r": inc.resolved_at.isoformat(), "i": inc.id})
    return inc.resolved_at
