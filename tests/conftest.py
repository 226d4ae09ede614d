"""Shared fixtures: a real PostGIS database per test session (and per xdist worker).

The database is created on the server of DATABASE_URL (or the local one the app manages),
migrated with Alembic, and dropped at the end. No mocks, no SQLite.
"""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from gis.db import database_url, make_engine

DATA_TABLES = (
    "service_connections", "valves", "pipes", "nodes", "networks", "buildings",
)


@pytest.fixture(scope="session")
def db_url() -> Iterator[str]:
    base = make_url(database_url())
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"zhkh_test_{worker}_{uuid.uuid4().hex[:8]}"
    url = base.set(database=name).render_as_string(hide_password=False)
    yield url
    drop_database(url)


def drop_database(url: str) -> None:
    """Drop the database of ``url`` (connections to it are closed first)."""
    u = make_url(url)
    admin = create_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{u.database}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


def truncate_all(engine: Engine) -> None:
    with engine.begin() as conn:
        existing = {r[0] for r in conn.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ))}
        names = [t for t in existing if t not in ("alembic_version", "spatial_ref_sys")]
        if names:
            conn.execute(text("TRUNCATE " + ", ".join(f'"{n}"' for n in names) + " RESTART IDENTITY CASCADE"))


@pytest.fixture()
def clean_engine(engine: Engine) -> Engine:
    """The session database, emptied of all rows before the test."""
    truncate_all(engine)
    return engine
