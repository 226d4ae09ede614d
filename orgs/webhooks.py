"""Organisations' webhooks in the database: the endpoint of each organisation (``org_webhooks``), the
outbox of work-order events (``webhook_events``) and the log of every delivery attempt
(``webhook_deliveries``). SQL only; the caller (``ops.webhooks``) checks rights, owns the transaction and
writes the audit event in it."""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, text

#: an event in the outbox: waiting for a 2xx, delivered, or dropped (its organisation's webhook was deleted)
STATES: tuple[str, ...] = ("pending", "delivered", "dropped")
EVENT_COLUMNS = ("e.id, e.event_id, e.org_id, e.incident_id, e.type, e.state, e.attempts, e.next_attempt_at, "
                 "e.last_status, e.last_error, e.created_at, e.delivered_at")


def backoff(attempts: int, *, first_s: float, max_s: float) -> timedelta:
    """How long to wait after the ``attempts``-th failed attempt: ``first_s``, doubled each time, at most ``max_s``."""
    return timedelta(seconds=min(max_s, first_s * 2 ** max(0, min(attempts - 1, 30))))


# ---- the endpoints ------------------------------------------------------------------------------------

def put_webhook(conn: Connection, org_id: int, *, url: str, secret_enc: str, secret_hint: str, author: str,
                now: datetime) -> dict[str, Any] | None:
    """Set the organisation's webhook (a new one, or a new URL and secret); the one before (None: none)."""
    before = get_webhook(conn, org_id, for_update=True)
    conn.execute(text("""
        INSERT INTO org_webhooks (org_id, url, secret_enc, secret_hint, created_at, created_by, updated_at, updated_by)
        VALUES (:o, :u, :s, :h, :now, :a, :now, :a)
        ON CONFLICT (org_id) DO UPDATE SET url = EXCLUDED.url, secret_enc = EXCLUDED.secret_enc,
            secret_hint = EXCLUDED.secret_hint, updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by
    """), {"o": org_id, "u": url, "s": secret_enc, "h": secret_hint, "now": now, "a": author})
    return before


def get_webhook(conn: Connection, org_id: int, *, for_update: bool = False) -> dict[str, Any] | None:
    row = conn.execute(text("SELECT org_id, url, secret_enc, secret_hint, created_at, created_by, updated_at, "
                            "updated_by FROM org_webhooks WHERE org_id = :o" + (" FOR UPDATE" if for_update else "")),
                       {"o": org_id}).mappings().first()
    return dict(row) if row else None


def responsible_with_webhook(conn: Connection, incident_id: int) -> int | None:
    """The organisation that answers for report ``incident_id`` when it has a webhook (None otherwise): the one
    cheap look-up every change of a report makes."""
    return conn.execute(text("""
        SELECT w.org_id FROM incidents i JOIN org_webhooks w ON w.org_id = i.responsible_org_id WHERE i.id = :i
    """), {"i": incident_id}).scalar()


def has_webhook(conn: Connection, org_id: int) -> bool:
    return conn.execute(text("SELECT EXISTS (SELECT 1 FROM org_webhooks WHERE org_id = :o)"), {"o": org_id}).scalar_one()


def delete_webhook(conn: Connection, org_id: int, *, now: datetime) -> tuple[dict[str, Any] | None, int]:
    """Delete the organisation's webhook; (the deleted one or None, its pending events dropped)."""
    before = get_webhook(conn, org_id, for_update=True)
    if before is None:
        return None, 0
    conn.execute(text("DELETE FROM org_webhooks WHERE org_id = :o"), {"o": org_id})
    dropped = conn.execute(text("""
        UPDATE webhook_events SET state = 'dropped', last_error = 'the webhook was deleted'
        WHERE org_id = :o AND state = 'pending'
    """), {"o": org_id}).rowcount
    return before, dropped


def list_webhooks(conn: Connection) -> list[dict[str, Any]]:
    """Every webhook with its organisation and its outbox's figures (never the secret)."""
    rows = conn.execute(text("""
        SELECT w.org_id, o.name AS org_name, w.url, w.secret_hint, w.created_at, w.created_by, w.updated_at,
               w.updated_by,
               count(e.id) FILTER (WHERE e.state = 'pending') AS pending,
               count(e.id) FILTER (WHERE e.state = 'pending' AND e.attempts > 0) AS failing,
               count(e.id) FILTER (WHERE e.state = 'delivered') AS delivered,
               min(e.next_attempt_at) FILTER (WHERE e.state = 'pending') AS next_attempt_at,
               max(e.delivered_at) AS last_delivered_at
        FROM org_webhooks w JOIN organisations o ON o.id = w.org_id
        LEFT JOIN webhook_events e ON e.org_id = w.org_id
        GROUP BY w.org_id, o.name ORDER BY w.org_id
    """)).mappings().all()
    return [dict(r) for r in rows]


# ---- the outbox ---------------------------------------------------------------------------------------

def enqueue(conn: Connection, *, org_id: int, incident_id: int, type_: str, payload: dict[str, Any],
            now: datetime) -> str:
    """Queue one event (in the caller's transaction, the change's own); its ``event_id``."""
    event_id = str(uuid.uuid4())
    conn.execute(text("""
        INSERT INTO webhook_events (event_id, org_id, incident_id, type, payload, next_attempt_at, created_at)
        VALUES (:e, :o, :i, :t, CAST(:p AS jsonb), :now, :now)
    """), {"e": event_id, "o": org_id, "i": incident_id, "t": type_, "p": _json(payload), "now": now})
    return event_id


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def claim_due(conn: Connection, now: datetime, *, skip_orgs: frozenset[int] = frozenset()) -> dict[str, Any] | None:
    """The next due event, locked for this transaction (``SKIP LOCKED``: one another process holds is not
    waited for, nor taken), with its organisation's webhook (``url`` None: deleted meanwhile). Events of
    ``skip_orgs`` (whose endpoint failed in this pass) are left for later."""
    row = conn.execute(text(f"""
        SELECT {EVENT_COLUMNS}, e.payload, w.url, w.secret_enc
        FROM webhook_events e LEFT JOIN org_webhooks w ON w.org_id = e.org_id
        WHERE e.state = 'pending' AND e.next_attempt_at <= :now
          AND NOT (e.org_id = ANY(CAST(:skip AS integer[])))
        ORDER BY e.next_attempt_at, e.id
        LIMIT 1
        FOR UPDATE OF e SKIP LOCKED
    """), {"now": now, "skip": sorted(skip_orgs)}).mappings().first()
    return dict(row) if row else None


def mark_delivered(conn: Connection, row_id: int, *, status: int, now: datetime) -> None:
    conn.execute(text("""
        UPDATE webhook_events SET state = 'delivered', attempts = attempts + 1, delivered_at = :now,
               last_status = :s, last_error = NULL WHERE id = :i
    """), {"i": row_id, "s": status, "now": now})


def mark_failed(conn: Connection, row_id: int, *, status: int | None, error: str, next_at: datetime) -> None:
    conn.execute(text("""
        UPDATE webhook_events SET attempts = attempts + 1, last_status = :s, last_error = :e, next_attempt_at = :n
        WHERE id = :i
    """), {"i": row_id, "s": status, "e": error[:500], "n": next_at})


def mark_dropped(conn: Connection, row_id: int, reason: str) -> None:
    conn.execute(text("UPDATE webhook_events SET state = 'dropped', last_error = :r WHERE id = :i"),
                 {"i": row_id, "r": reason[:500]})


def log_delivery(conn: Connection, *, row_id: int, org_id: int, url: str, at: datetime, ok: bool,
                 status: int | None, duration_ms: int, error: str | None) -> None:
    conn.execute(text("""
        INSERT INTO webhook_deliveries (event_row_id, org_id, url, at, ok, status_code, duration_ms, error)
        VALUES (:e, :o, :u, :at, :ok, :s, :d, :err)
    """), {"e": row_id, "o": org_id, "u": url, "at": at, "ok": ok, "s": status, "d": duration_ms,
           "err": None if error is None else error[:500]})


def retry_now(conn: Connection, row_id: int, *, now: datetime) -> dict[str, Any] | None:
    """Make a pending event due now; the event (None: no such pending event)."""
    row = conn.execute(text("""
        UPDATE webhook_events SET next_attempt_at = :now WHERE id = :i AND state = 'pending'
        RETURNING id, event_id, org_id, incident_id, type, attempts
    """), {"i": row_id, "now": now}).mappings().first()
    return dict(row) if row else None


def events(conn: Connection, *, org_id: int | None = None, states: tuple[str, ...] | None = None,
           limit: int = 200) -> list[dict[str, Any]]:
    """Recent events, newest first (without their payload)."""
    rows = conn.execute(text(f"""
        SELECT {EVENT_COLUMNS}, o.name AS org_name FROM webhook_events e JOIN organisations o ON o.id = e.org_id
        WHERE (CAST(:o AS integer) IS NULL OR e.org_id = :o)
          AND (CAST(:s AS text[]) IS NULL OR e.state = ANY(CAST(:s AS text[])))
        ORDER BY e.id DESC LIMIT :l
    """), {"o": org_id, "s": list(states) if states else None, "l": limit}).mappings().all()
    return [dict(r) for r in rows]


def event_payload(conn: Connection, row_id: int) -> dict[str, Any] | None:
    return conn.execute(text("SELECT payload FROM webhook_events WHERE id = :i"), {"i": row_id}).scalar()


def deliveries(conn: Connection, *, org_id: int | None = None, event_row_id: int | None = None,
               limit: int = 200) -> list[dict[str, Any]]:
    """Recent delivery attempts, newest first."""
    rows = conn.execute(text("""
        SELECT d.id, d.event_row_id, e.event_id, e.type, e.incident_id, d.org_id, o.name AS org_name, d.url, d.at,
               d.ok, d.status_code, d.duration_ms, d.error
        FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_row_id
        JOIN organisations o ON o.id = d.org_id
        WHERE (CAST(:o AS integer) IS NULL OR d.org_id = :o)
          AND (CAST(:e AS bigint) IS NULL OR d.event_row_id = :e)
        ORDER BY d.at DESC, d.id DESC LIMIT :l
    """), {"o": org_id, "e": event_row_id, "l": limit}).mappings().all()
    return [dict(r) for r in rows]
