"""What every use-case shares: the engine, the clock, the permission check."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import Engine

from auth.model import Actor
from auth.permissions import require
from gis.db import get_engine


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
