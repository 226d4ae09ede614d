"""What every use-case shares: the engine, the clock, the permission check."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import Connection, Engine, text

from auth.errors import PermissionDenied
from auth.model import Actor
from auth.permissions import ORG_ROLES, require
from gis.db import get_engine
from incidents.errors import IncidentNotFound


def engine(bind: Engine | None = None) -> Engine:
    """``bind``, or the process-wide engine of the configured database (prepared once)."""
    if bind is not None:
        return bind

    return get_engine()


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def allow(actor: Actor, permission: str) -> None:
    """Refuse (``PermissionDenied``, naming the permission) unless ``actor``'s role holds it."""
    require(actor.role, permission, who=actor.author)


def org_scope(actor: Actor) -> int | None:
    """The one organisation whose reports ``actor`` may see and change, or None for the service's own
    staff (they see every report). An organisation's role without an organisation sees nothing."""
    if actor.org_id is not None:
        return actor.org_id
    if actor.role in ORG_ROLES:
        raise PermissionDenied("reports.read", actor.role, actor.author)
    return None


def visible(actor: Actor, org_id: int | None) -> bool:
    """Whether a report answered for by ``org_id`` is within ``actor``'s scope."""
    scope = org_scope(actor)
    return scope is None or scope == org_id


def check_incident_scope(actor: Actor, conn: Connection, incident_id: int) -> None:
    """Refuse a report outside ``actor``'s organisation exactly as an unknown one (``IncidentNotFound``):
    an organisation learns nothing of another's reports, not even that the number exists."""
    scope = org_scope(actor)
    if scope is None:
        return
    found = conn.execute(text("SELECT responsible_org_id FROM incidents WHERE id = :i"), {"i": incident_id}).first()
    if found is None or found[0] != scope:
        raise IncidentNotFound(f"no incident with id {incident_id}")
