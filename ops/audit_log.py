"""Reading the audit trail (inspectors and admins): filters, and CSV for export."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine

from auth.model import Actor
from csv_safe import csv_bytes
from ops import repo
from ops.audit import ACTIONS
from ops.base import allow, engine

TRAIL_ACTIONS: tuple[str, ...] = (*ACTIONS, "incident.create", "incident.status")
OBJECT_TYPES = ("incident", "outage", "valve", "network", "user", "api_key", "dataset", "note",
                "dma", "account", "billing_period", "billing_demo", "demo_month", "subscription",
                "gis_outage_report", "gis_outage_result", "organisation")
MAX_ROWS = 20_000


@dataclass(frozen=True)
class AuditFilter:
    since: datetime | None = None
    until: datetime | None = None
    actor: str | None = None
    actions: tuple[str, ...] = ()
    object_type: str | None = None
    object_id: str | None = None
    limit: int = 2000


def events(actor: Actor, flt: AuditFilter = AuditFilter(), *, bind: Engine | None = None) -> list[dict[str, Any]]:
    """Audit events matching ``flt``, newest first."""
    allow(actor, "audit.read")
    unknown = [a for a in flt.actions if a not in TRAIL_ACTIONS]
    if unknown:
        raise ValueError(f"unknown audit actions {unknown}")
    if flt.object_type is not None and flt.object_type not in OBJECT_TYPES:
        raise ValueError(f"unknown object type {flt.object_type!r}")
    with engine(bind).connect() as conn:
        return repo.audit_trail(conn, since=flt.since, until=flt.until, actor=(flt.actor or "").strip() or None,
                                actions=list(flt.actions) or None, object_type=flt.object_type,
                                object_id=(flt.object_id or "").strip() or None,
                                limit=max(1, min(int(flt.limit), MAX_ROWS)))


def events_of(conn: Connection, object_type: str, object_id: int | str, limit: int = 200) -> list[dict[str, Any]]:
    """The history of one object, oldest first (for its own page; the caller checked the rights)."""
    rows = repo.audit_trail(conn, since=None, until=None, actor=None, actions=None, object_type=object_type,
                            object_id=str(object_id), limit=limit)
    return list(reversed(rows))


def to_csv(rows: list[dict[str, Any]], *, tz: str) -> bytes:
    """CSV (UTF-8 with BOM, so spreadsheets read Cyrillic) with times in the region's zone; every text
    cell guarded against formulas (:func:`csv_safe.safe_cell`: a login typed by anyone lands here)."""

    zone = ZoneInfo(tz)
    return csv_bytes(["at", "actor", "action", "object_type", "object_id", "reason", "details"],
                     ([r["at"].astimezone(zone).isoformat(timespec="seconds"), r["actor"], r["action"],
                       r["object_type"] or "", r["object_id"] or "", r["reason"] or "",
                       json.dumps(r["details"] or {}, ensure_ascii=False, default=str)] for r in rows))
