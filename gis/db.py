"""The database engine: URL resolution, database + PostGIS creation, Alembic migrations.

The schema is created or migrated on first use (``get_engine``), so a newcomer never runs a
migration by hand. Only this module and ``*/repo.py`` modules talk SQLAlchemy.

A database that cannot be used is explained, each kind in its own words (``DatabaseUnavailable.problem``):
a malformed URL, another database than PostgreSQL, a host that does not answer, a port nothing
listens on, a login PostgreSQL refuses, a server without PostGIS. Each failure is logged
(``zhkh.db``); while it lasts, the sessions asking get it from memory instead of each waiting for a probe.
"""
from __future__ import annotations

import logging
import socket
import struct
import threading
import time

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, OperationalError, ProgrammingError

from gis.errors import DatabaseUnavailable
from gis.local_pg import local_database_url
from settings import ROOT, Settings, get_settings

MIGRATIONS_DIR = ROOT / "migrations"
CONNECT_TIMEOUT_S = 5      # a server that does not answer within this is "unreachable"
HANDSHAKE_TIMEOUT_S = 2.0  # PostgreSQL answers its handshake at once; a service that keeps silent is not it
RETRY_AFTER_S = 3.0        # a failed preparation is answered from memory this long (one probe at a time)
LOG_REPEAT_S = 60.0        # the same failure is logged again after this long

log = logging.getLogger("zhkh.db")

_engines: dict[str, Engine] = {}
_failures: dict[str, tuple[float, DatabaseUnavailable]] = {}
_logged: dict[str, tuple[str, float]] = {}
_locks: dict[str, threading.Lock] = {}
_registry = threading.Lock()  # guards the dicts above for a moment, never held while talking to a server
_SSL_REQUEST = struct.pack("!ii", 8, 80877103)  # every PostgreSQL answers it with one byte, S or N


def _where(u: URL) -> str:
    return f"{u.host or 'local socket'}:{u.port or 5432}"


def parse_url(url: str) -> URL:
    """``url`` as a psycopg 3 URL (``postgresql://`` and ``postgres://`` work too); a malformed one or one of
    another database refused with ``DatabaseUnavailable`` (``malformed`` / ``not_postgresql``)."""
    raw = url.strip()
    if raw.startswith("postgres://"):
        raw = "postgresql://" + raw[len("postgres://"):]
    try:
        u = make_url(raw)
        u.port  # noqa: B018 — a port that is not a number fails here
    except (ArgumentError, ValueError) as exc:
        reason = "not a URL" if isinstance(exc, ArgumentError) else "the port is not a number"
        raise DatabaseUnavailable(
            f"DATABASE_URL is malformed ({reason}): write it as postgresql://user:password@host:5432/database",
            "malformed") from None
    if u.get_backend_name() != "postgresql":
        raise DatabaseUnavailable(
            f"DATABASE_URL names a {u.get_backend_name()!r} database at {_where(u)}; zhkh-ops needs PostgreSQL "
            "with PostGIS (postgresql://user:password@host:5432/database)", "not_postgresql", _where(u))
    if u.drivername in ("postgresql", "postgresql+psycopg2"):
        u = u.set(drivername="postgresql+psycopg")
    return u


def normalize_url(url: str) -> str:
    """Make any PostgreSQL URL use psycopg 3 (``postgresql://`` and ``postgres://`` work too)."""
    return parse_url(url).render_as_string(hide_password=False)


def database_url(settings: Settings | None = None) -> str:
    """DATABASE_URL if set, else the local database (the machine's server, or the cluster
    ``python -m gis.local_pg`` made; never a new one from here unless ``local_cluster_autostart``)."""
    s = settings or get_settings()
    if s.database_url is not None and s.database_url.get_secret_value():
        return normalize_url(s.database_url.get_secret_value())

    return local_database_url(s)


def check_server(u: URL, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """Is a PostgreSQL server listening where ``u`` points? ``DatabaseUnavailable`` says what is there
    instead: nothing (``unreachable``), a closed port (``refused``), another service (``not_postgresql``)."""
    host, port, where = u.host, u.port or 5432, _where(u)
    if not host or host.startswith("/"):
        return  # a Unix socket: psycopg's own message says it
    try:
        sock = socket.create_connection((host, port), timeout=timeout_s)
    except socket.gaierror as exc:
        raise DatabaseUnavailable(f"the database host {host!r} cannot be reached: its name does not resolve "
                                  f"({exc.strerror}); check DATABASE_URL", "unreachable", where) from None
    except ConnectionRefusedError:
        raise DatabaseUnavailable(f"the database server {where} refuses connections: nothing listens on port "
                                  f"{port} — is PostgreSQL running, and is it the right port?", "refused",
                                  where) from None
    except TimeoutError:
        raise DatabaseUnavailable(f"the database server {where} does not answer within {timeout_s:g} s "
                                  "(down, or a firewall between)", "unreachable", where) from None
    except OSError as exc:
        raise DatabaseUnavailable(f"the database server {where} cannot be reached: {exc.strerror or exc}",
                                  "unreachable", where) from None
    with sock:
        sock.settimeout(HANDSHAKE_TIMEOUT_S)
        try:
            sock.sendall(_SSL_REQUEST)
            reply = sock.recv(1)
        except OSError:  # a timeout, or the connection closed on us
            reply = b""
    if reply not in (b"S", b"N"):
        raise DatabaseUnavailable(f"the server at {where} is not PostgreSQL (it does not answer PostgreSQL's "
                                  "handshake): DATABASE_URL names the port of another service", "not_postgresql",
                                  where)


def _connect_failure(u: URL, exc: OperationalError) -> DatabaseUnavailable:
    detail = " ".join(str(exc.orig).split())
    where = _where(u)
    for marker in ("password authentication failed", "role ", "no pg_hba.conf entry", "does not exist",
                   "permission denied"):
        if marker in detail:
            return DatabaseUnavailable(f"PostgreSQL at {where} refuses the login of DATABASE_URL: "
                                       f"{detail.split('FATAL:')[-1].strip()}", "login", where)
    return DatabaseUnavailable(f"cannot connect to {u.render_as_string()}: {detail}", "unreachable", where)


def ensure_database(url: str) -> None:
    """Create the database (when we may) and the PostGIS extension if they are missing; a server that
    cannot be used is refused with a ``DatabaseUnavailable`` that says why (see the module's docstring)."""
    u = parse_url(url)
    where = _where(u)
    check_server(u)
    connect_args = {"connect_timeout": CONNECT_TIMEOUT_S}
    try:
        probe = create_engine(u, isolation_level="AUTOCOMMIT", connect_args=connect_args)
        try:
            with probe.connect() as conn:
                version = str(conn.execute(text("SELECT version()")).scalar() or "")
        finally:
            probe.dispose()
        if not version.startswith("PostgreSQL"):
            raise DatabaseUnavailable(f"the server at {where} answers as PostgreSQL but is not ({version[:60]}); "
                                      "zhkh-ops needs PostgreSQL with PostGIS", "not_postgresql", where)
    except OperationalError as exc:
        if f'database "{u.database}" does not exist' not in str(exc):
            raise _connect_failure(u, exc) from None
        if get_settings().env.value == "production":
            # a production server never makes a database from a mistyped name and then reports
            # "nothing there": the database is created once, on purpose
            raise DatabaseUnavailable(f"the database {u.database!r} does not exist on {where}; production "
                                      "(ZHKH_ENV=production) does not create it: check DATABASE_URL", "login",
                                      where) from None
        admin = create_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT", connect_args=connect_args)
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{u.database}"'))
        except (OperationalError, ProgrammingError) as exc2:
            raise DatabaseUnavailable(f"the database {u.database!r} does not exist on {where} and cannot be "
                                      f"created: {' '.join(str(exc2.orig).split())}", "login", where) from None
        finally:
            admin.dispose()
    eng = create_engine(u, isolation_level="AUTOCOMMIT", connect_args=connect_args)
    try:
        with eng.connect() as conn:
            has = conn.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'postgis'")).first()
            if not has:
                available = conn.execute(
                    text("SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'")
                ).first()
                if not available:
                    raise DatabaseUnavailable(
                        f"PostgreSQL at {where} has no PostGIS extension installed: "
                        "run `make setup` (installs postgresql-15-postgis-3) or ask your DBA", "no_postgis", where
                    )
                conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
    except ProgrammingError as exc:
        raise DatabaseUnavailable(f"PostgreSQL at {where} has no PostGIS extension in database {u.database!r} and "
                                  f"this user cannot add it ({' '.join(str(exc.orig).split())}): ask the DBA to run "
                                  "CREATE EXTENSION postgis there", "no_postgis", where) from None
    finally:
        eng.dispose()


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision."""
    from alembic import command  # only when the schema is migrated
    from alembic.config import Config  # only when the schema is migrated

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
    engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20,
                           connect_args={"connect_timeout": CONNECT_TIMEOUT_S})
    if prepare:
        migrate(engine)
    return engine


def _failed(key: str, exc: DatabaseUnavailable) -> DatabaseUnavailable:
    """Remember ``exc`` for ``key`` and log it (again only when it changes, or after ``LOG_REPEAT_S``)."""
    now = time.monotonic()
    with _registry:
        _failures[key] = (now, exc)
        last = _logged.get(key)
        fresh = last is None or last[0] != str(exc) or now - last[1] >= LOG_REPEAT_S
        if fresh:
            _logged[key] = (str(exc), now)
    if fresh:
        log.error("database unavailable (%s): %s", exc.problem, exc)
    return exc


def _remembered(key: str) -> DatabaseUnavailable | None:
    with _registry:
        failed = _failures.get(key)
    if failed and time.monotonic() - failed[0] < RETRY_AFTER_S:
        old = failed[1]
        return DatabaseUnavailable(str(old), old.problem, old.where)
    return None


_read_engines: dict[str, Engine] = {}


def get_read_engine(url: str | None) -> Engine:
    """The process-wide engine for read-only look-ups at ``url`` (a standby: ``ZHKH_READ_DATABASE_URL``,
    the cluster's read port), made without preparing anything: a standby refuses the migration's writes,
    and the schema is the leader's, prepared by ``get_engine``. No ``url`` (or the write URL itself):
    ``get_engine()``, as on one node. A standby that is down fails at use like any database (503)."""
    if not url:
        return get_engine()
    key = normalize_url(url)
    if key == database_url():
        return get_engine()
    with _registry:
        engine = _read_engines.get(key)
        if engine is None:
            engine = _read_engines[key] = create_engine(key, pool_pre_ping=True, pool_size=10, max_overflow=20,
                                                        connect_args={"connect_timeout": CONNECT_TIMEOUT_S})
        return engine


def get_engine(url: str | None = None) -> Engine:
    """The process-wide engine for ``url`` (default: settings), prepared once.

    One thread prepares a database at a time; while a failure is fresh (``RETRY_AFTER_S``) or a
    re-check is under way, the others get the last failure at once instead of queueing behind it."""
    try:
        key = normalize_url(url) if url else database_url()
    except DatabaseUnavailable as exc:
        raise _failed(f"settings:{url is None}", exc) from None
    engine = _engines.get(key)
    if engine is not None:
        return engine
    with _registry:
        lock = _locks.setdefault(key, threading.Lock())
    remembered = _remembered(key)
    if remembered is not None:
        raise remembered
    if not lock.acquire(blocking=False):
        with _registry:
            earlier = _failures.get(key)
        if earlier is not None:  # it failed before and is being checked again: say so now, not in 5 s
            old = earlier[1]
            raise DatabaseUnavailable(str(old), old.problem, old.where)
        lock.acquire()  # the first preparation: wait for it
    try:
        if key in _engines:
            return _engines[key]
        remembered = _remembered(key)
        if remembered is not None:
            raise remembered
        try:
            engine = make_engine(key)
        except DatabaseUnavailable as exc:
            raise _failed(key, exc) from None
        except OperationalError as exc:  # the server went away between the checks and the migration
            raise _failed(key, _connect_failure(parse_url(key), exc)) from None
        _engines[key] = engine
        with _registry:
            if _failures.pop(key, None) is not None:
                log.warning("database available again at %s", _where(parse_url(key)))
            _logged.pop(key, None)
        return engine
    finally:
        lock.release()
