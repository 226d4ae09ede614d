"""The resident's answer to "fixed?" on a resolved report: "no" reopens it (once, within 30 days of the fix),
"yes" closes it with a rating 1–5 (the organisations' KPI "residents' rating").

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
FIXED_NOTE = "confirmed fixed by resident"
RATINGS = (1, 2, 3, 4, 5)


class ReopenRefused(ValueError):
    """A "not fixed" the rules do not allow; ``reason`` is not_resolved | already | too_late."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


class FixedRefused(ValueError):
    """A "fixed — yes" the rules do not allow; ``reason`` is bad_rating | not_resolved."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


def check_rating(value: object) -> int:
    """The rating as a number 1–5 (a form sends text), or ``FixedRefused("bad_rating")``."""
    text_value = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    if text_value not in {str(r) for r in RATINGS}:
        raise FixedRefused("bad_rating", f"the rating must be a whole number from 1 to 5, got {str(value)[:20]!r}")
    return int(text_value)


def confirm_fixed(conn: Connection, incident_id: int, rating: object, *, author: str, now: datetime) -> int:
    """resolved → closed with the note ``confirmed fixed by resident`` and the resident's ``rating``
    (``incidents.resident_rating``, ``resident_rated_at``), inside the caller's transaction; refused for a
    rating that is not 1–5 (before anything is read) and for a report that is not resolved. The rating."""
    stars = check_rating(rating)
    row = conn.execute(text("SELECT id FROM incidents WHERE id = :i FOR UPDATE"), {"i": int(incident_id)}).first()
    if row is None:
        raise IncidentNotFound(f"no incident with id {incident_id}")
    inc = repo.get_incident(conn, int(incident_id))
    assert inc is not None
    if inc.status != "resolved":
        raise FixedRefused("not_resolved", f"report {incident_id} is {inc.status}, not resolved")
    event = transition(inc.status, "closed", author, FIXED_NOTE, now)
    if repo.update_status(conn, inc.id, inc.version, event) is None:
        raise ConcurrentEdit(f"incident {incident_id} changed meanwhile; retry")
    repo.insert_event(conn, inc.id, event)
    conn.execute(text("UPDATE incidents SET resident_rating = :r, resident_rated_at = :at WHERE id = :i"),
                 {"r": stars, "at": now, "i": inc.id})
    return stars


def reopen(conn: Connection, incident_id: int, *, author: str, now: datetime) -> datetime:
    """resolved → in_progress with the note ``reopened by resident`` (a status event the KPIs count)
    and ``attributes.reopened_at``, inside the caller's transaction (a report its organisation resolved is
    its work order again: ``org_state`` back to ``accepted``, its last answer kept until the next); refused
    when the report is not
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
    conn.execute(text("UPDATE incidents SET org_state = 'accepted' WHERE id = :i AND org_state = 'resolved'"),
                 {"i": inc.id})
    return inc.resolved_at
