"""The database engine: URL resolution, database + PostGIS creation, Alembic migrations.

The schema is created or migrated on first use (``get_engine``), so a newcomer never runs a
migration by hand. Only this module and ``*/repo.py`` modules talk SQLAlchemy.
"""
from __future__ import annotations

import threading

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, ProgrammingError

from gis.errors import DatabaseUnavailable
from settings import ROOT, Settings, get_settings

MIGRATIONS_DIR = ROOT / "migrations"

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def normalize_url(url: str) -> str:
    """Make any PostgreSQL URL use psycopg 3 (``postgresql://`` and ``postgres://`` work too)."""
    u = make_url(url.replace("postgres://", "postgresql://", 1) if url.startswith("postgres://") else url)
    if u.get_backend_name() != "postgresql":
        raise DatabaseUnavailable(f"DATABASE_URL must point to PostgreSQL/PostGIS, got backend {u.get_backend_name()!r}")
    if u.drivername in ("postgresql", "postgresql+psycopg2"):
        u = u.set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


def database_url(settings: Settings | None = None) -> str:
    """DATABASE_URL if set, else the local database the app manages itself."""
    s = settings or get_settings()
    if s.database_url:
        return normalize_url(s.database_url)
    from gis.local_pg import local_database_url

    return local_database_url(s)


def ensure_database(url: str) -> None:
    """Create the database (when we may) and the PostGIS extension if they are missing."""
    u = make_url(normalize_url(url))
    try:
        probe = create_engine(u, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
        with probe.connect() as conn:
            conn.execute(text("SELECT 1"))
        probe.dispose()
    except OperationalError as exc:
        if f'database "{u.database}" does not exist' not in str(exc):
            raise DatabaseUnavailable(f"cannot connect to {u.render_as_string()}: {str(exc.orig).strip()}") from None
        admin = create_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{u.database}"'))
        admin.dispose()
    eng = create_engine(u, isolation_level="AUTOCOMMIT")
    try:
        with eng.connect() as conn:
            has = conn.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'postgis'")).first()
            if not has:
                available = conn.execute(
                    text("SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'")
                ).first()
                if not available:
                    raise DatabaseUnavailable(
                        "the PostGIS extension is not installed on this PostgreSQL server: "
                        "run `make setup` (installs postgresql-15-postgis-3) or ask your DBA"
                    )
                conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
    except ProgrammingError as exc:
        raise DatabaseUnavailable(f"cannot create the PostGIS extension: {str(exc.orig).strip()}") from None
    finally:
        eng.dispose()


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        # one migrator at a time (the app, the API and a loader may start together)
        conn.execute(text("SELECT pg_advisory_xact_lock(774411)"))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def make_engine(url: str | None = None, *, prepare: bool = True) -> Engine:
    """A new engine for ``url`` (default: settings), with the database and schema prepared."""
    url = normalize_url(url) if url else database_url()
    if prepare:
        ensure_database(url)
    engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    if prepare:
        migrate(engine)
    return engine


def get_engine(url: str | None = None) -> Engine:
    """The process-wide engine for ``url`` (default: settings), prepared once."""
    key = normalize_url(url) if url else database_url()
    with _lock:
        if key not in _engines:
            _engines[key] = make_engine(key)
        return _engines[key]


