"""SQL of the application layer's own tables: the audit trail."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, TEXT


def insert_audit_event(conn: Connection, *, at: datetime | None, actor: str, action: str,
                       object_type: str | None, object_id: str | None, reason: str,
                       details: dict[str, Any]) -> int:
    return int(conn.execute(text("""
        INSERT INTO audit_events (at, actor, action, object_type, object_id, reason, details)
        VALUES (coalesce(:at, now()), :actor, :action, :object_type, :object_id, :reason, CAST(:details AS jsonb))
        RETURNING id
    """), {"at": at, "actor": actor, "action": action, "object_type": object_type, "object_id": object_id,
           "reason": reason, "details": json.dumps(details, ensure_ascii=False, default=str)}).scalar_one())


_TRAIL = """
    SELECT 'a' || a.id AS key, a.at, a.actor, a.action, a.object_type, a.object_id, a.reason, a.details
    FROM audit_events a
    UNION ALL
    SELECT 'i' || e.id, e.at, e.actor,
           CASE WHEN e.from_status IS NULL THEN 'incident.create' ELSE 'incident.status' END,
           'incident', e.incident_id::text, e.note,
           jsonb_build_object('from', e.from_status, 'to', e.to_status)
    FROM incident_events e
"""


def audit_trail(conn: Connection, *, since: datetime | None, until: datetime | None, actor: str | None,
                actions: list[str] | None, object_type: str | None, object_id: str | None,
                limit: int) -> list[dict[str, Any]]:
    """The audit events and the incidents' status changes, newest first, by every given filter
    (``actor`` matches a part of the author, case-insensitively)."""

    stmt = text(f"""
        SELECT * FROM ({_TRAIL}) t
        WHERE (CAST(:since AS timestamptz) IS NULL OR t.at >= :since)
          AND (CAST(:until AS timestamptz) IS NULL OR t.at < :until)
          AND (CAST(:actor AS text) IS NULL OR t.actor ILIKE '%' || :actor || '%' ESCAPE '\\')
          AND (CAST(:actions AS text[]) IS NULL OR t.action = ANY(:actions))
          AND (CAST(:otype AS text) IS NULL OR t.object_type = :otype)
          AND (CAST(:oid AS text) IS NULL OR t.object_id = :oid)
        ORDER BY t.at DESC, t.key DESC
        LIMIT :limit
    """).bindparams(bindparam("actions", type_=ARRAY(TEXT)))
    like = None if actor is None else actor.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    rows = conn.execute(stmt, {"since": since, "until": until, "actor": like, "actions": actions,
                               "otype": object_type, "oid": object_id, "limit": limit}).mappings().all()
    return [dict(r) for r in rows]
