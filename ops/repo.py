"""SQL of the application layer's own tables: the audit trail."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Connection, Text, case, cast, column, func, literal, select, table, text, union_all
from sqlalchemy.dialects.postgresql import JSONB


def insert_audit_event(conn: Connection, *, at: datetime | None, actor: str, action: str,
                       object_type: str | None, object_id: str | None, reason: str,
                       details: dict[str, Any]) -> int:
    return int(conn.execute(text("""
        INSERT INTO audit_events (at, actor, action, object_type, object_id, reason, details)
        VALUES (coalesce(:at, now()), :actor, :action, :object_type, :object_id, :reason, CAST(:details AS jsonb))
        RETURNING id
    """), {"at": at, "actor": actor, "action": action, "object_type": object_type, "object_id": object_id,
           "reason": reason, "details": json.dumps(details, ensure_ascii=False, default=str)}).scalar_one())


_audit = table("audit_events", column("id", BigInteger), column("at"), column("actor", Text), column("action", Text),
               column("object_type", Text), column("object_id", Text), column("reason", Text), column("details", JSONB))
_events = table("incident_events", column("id", BigInteger), column("at"), column("actor", Text),
                column("incident_id", BigInteger), column("from_status", Text), column("to_status", Text),
                column("note", Text))


def _trail() -> Any:
    """The audit events and the incidents' status changes as one relation ``t`` (key, at, actor, action,
    object_type, object_id, reason, details)."""
    a, e = _audit.alias("a"), _events.alias("e")
    return union_all(
        select((literal("a", Text) + cast(a.c.id, Text)).label("key"), a.c.at, a.c.actor, a.c.action,
               a.c.object_type, a.c.object_id, a.c.reason, a.c.details),
        select(literal("i", Text) + cast(e.c.id, Text), e.c.at, e.c.actor,
               case((e.c.from_status.is_(None), literal("incident.create", Text)),
                    else_=literal("incident.status", Text)),
               literal("incident", Text), cast(e.c.incident_id, Text), e.c.note,
               func.jsonb_build_object(literal("from", Text), e.c.from_status, literal("to", Text), e.c.to_status,
                                       type_=JSONB)),
    ).subquery("t")


def audit_trail(conn: Connection, *, since: datetime | None, until: datetime | None, actor: str | None,
                actions: list[str] | None, object_type: str | None, object_id: str | None,
                limit: int) -> list[dict[str, Any]]:
    """The audit events and the incidents' status changes, newest first, by every given filter
    (``actor`` matches a part of the author, case-insensitively)."""
    t = _trail()
    stmt = select(t).order_by(t.c.at.desc(), t.c.key.desc()).limit(limit)
    if since is not None:
        stmt = stmt.where(t.c.at >= since)
    if until is not None:
        stmt = stmt.where(t.c.at < until)
    if actor is not None:
        like = actor.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(t.c.actor.ilike(f"%{like}%", escape="\\"))
    if actions is not None:
        stmt = stmt.where(t.c.action.in_(actions))
    if object_type is not None:
        stmt = stmt.where(t.c.object_type == object_type)
    if object_id is not None:
        stmt = stmt.where(t.c.object_id == object_id)
    return [dict(r) for r in conn.execute(stmt).mappings().all()]
