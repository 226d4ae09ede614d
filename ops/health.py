"""Is the database answering? (The pages wait for it when it is down.)"""
from __future__ import annotations

from sqlalchemy import text

from ops.base import engine


def database_ok() -> bool:
    try:
        with engine().connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:  # any failure means "not yet"
        return False
