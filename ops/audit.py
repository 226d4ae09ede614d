"""The audit trail: who did what, when and why, written in the transaction of the change itself.

Authors are a user's login, ``api:<key name>`` for an Open311 client, or ``cli:<os user>`` for
a command run on the server. Incident status changes stay in ``incident_events`` (the report's own
history); the audit page reads both.
"""
from __future__ import annotations

import getpass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from ops import repo

ACTIONS: tuple[str, ...] = (
    "auth.login", "auth.login_failed", "auth.logout",
    "user.add", "user.set_role", "user.disable", "user.enable", "user.passwd",
    "api_key.create", "api_key.revoke",
    "incident.note_add", "incident.note_edit",
    "incident.set_org", "incident.description_private", "account.code_locked",
    "outage.schedule", "outage.approve", "outage.start", "outage.extend", "outage.reschedule",
    "outage.merge", "outage.restore", "outage.cancel",
    "valve.status",
    "data.import", "demo.reload",
    "incident.reopen", "incident.fixed", "notice.subscribe", "notice.confirm", "notice.unsubscribe",
    "billing.run", "billing.close", "billing.demo", "billing.export",
    "dma.derive", "dma.draw", "dma.alarm_raise", "dma.alarm_clear", "dma.demo",
    "forecast.refresh", "forecast.demo",
    "work_order.accepted", "work_order.assigned", "work_order.visit_planned", "work_order.resolved",
    "work_order.returned", "work_order.on_the_way", "work_order.arrived",
    "outage.valve_closed", "outage.valve_stuck", "outage.stuck_approved",   # a crew's phone (ops.field)
    "webhook.set", "webhook.delete", "webhook.retry",
)


def cli_actor() -> str:
    """The author of a command run in a shell on the server: ``cli:<os user>``."""
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "unknown"
    return f"cli:{who}"


def record(conn: Connection, *, actor: str, action: str, object_type: str | None = None,
           object_id: str | int | None = None, reason: str = "", details: dict[str, Any] | None = None,
           at: datetime | None = None) -> int:
    """Write one audit event inside ``conn``'s transaction; its id."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    if not actor or not actor.strip():
        raise ValueError("an audit event needs an author, got an empty string")
    return repo.insert_audit_event(conn, at=at, actor=actor.strip(), action=action, object_type=object_type,
                                   object_id=None if object_id is None else str(object_id),
                                   reason=reason or "", details=details or {})
