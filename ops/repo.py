"""SQL of the application layer's own tables: the audit trail."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text


def insert_audit_event(conn: Connection, *, at: datetime | None, actor: str, action: str,
                       object_type: str | None, object_id: str | None, reason: str,
                       details: dict[str, Any]) -> int:
    return int(conn.execute(text("""
        INSERT INTO audit_events (at, actor, action, object_type, object_id, reason, details)
        VALUES (coalesce(:at, now()), :actor, :action, :object_type, :object_id, :reason, CAST(:details AS jsonb))
        RETURNING id
    """), {"at": at, "actor": actor, "action": action, "object_type": object_type, "object_id": object_id,
           "reason": reason, "details": json.dumps(details, ensure_ascii=False, default=str)}).scalar_one())
