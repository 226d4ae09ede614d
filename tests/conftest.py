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


# ---- the demo city for the app's own tests (browser and AppTest), in a database of its own

@pytest.fixture(scope="session")
def ui_db_url(db_url: str) -> Iterator[str]:
    """A database of its own for the app under test: other tests truncate the session database."""
    from sqlalchemy.engine import make_url

    url = make_url(db_url)
    ui_url = url.set(database=f"{url.database}_ui").render_as_string(hide_password=False)
    yield ui_url
    drop_database(ui_url)


@pytest.fixture(scope="session")
def demo_engine(ui_db_url: str) -> Iterator[Engine]:
    """The Helsinki demo city, loaded once, in the app's own test database."""
    from data.demo import load_demo
    from gis.db import make_engine
    from settings import get_settings

    eng = make_engine(ui_db_url)
    load_demo(eng, seed=42, network_name=get_settings().demo_network_name)
    from auth.model import Actor
    from ops import users
    from tests.ui.conftest import ORG_PASSWORDS, PASSWORDS

    for role, password in PASSWORDS.items():
        users.add_user(Actor.cli("cli:tests"), role, role=role, password=password, display_name=f"Тест {role}", bind=eng)
    with eng.begin() as conn:   # the organisation of the test's org_dispatcher and crew
        org_id = conn.execute(text("INSERT INTO organisations (kind, name) VALUES ('management_company', 'Тест УК') "
                                   "ON CONFLICT (name) DO UPDATE SET active = true RETURNING id")).scalar_one()
    for role, password in ORG_PASSWORDS.items():
        users.add_user(Actor.cli("cli:tests"), role, role=role, password=password, display_name=f"Тест {role}",
                       org_id=org_id, bind=eng)
    yield eng
    eng.dispose()
