"""A wrong DATABASE_URL is explained and logged, each kind of mistake in its own words, against real
servers of this machine (Redis on 6379, MariaDB on 3306, Mosquitto on 1883, the shared PostgreSQL); and a
probe of a database that is down never queues the other sessions behind it."""
from __future__ import annotations

import logging
import socket
import threading
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

import gis.db as db
from gis.errors import DatabaseUnavailable
from tests.ui.conftest import free_port


def refusal(url: str, caplog: pytest.LogCaptureFixture) -> DatabaseUnavailable:
    with caplog.at_level(logging.ERROR, logger="zhkh.db"):
        with pytest.raises(DatabaseUnavailable) as err:
            db.get_engine(url)
    logged = [r.getMessage() for r in caplog.records if r.name == "zhkh.db"]
    assert logged and str(err.value) in logged[-1] and err.value.problem in logged[-1]
    assert "\n" not in str(err.value)
    return err.value


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@pytest.mark.parametrize("port, service", [(6379, "Redis"), (3306, "MariaDB"), (1883, "Mosquitto")])
def test_another_service_is_not_postgresql(port: int, service: str, caplog: pytest.LogCaptureFixture) -> None:
    assert listening(port), f"{service} is expected on 127.0.0.1:{port}"
    exc = refusal(f"postgresql://postgres@127.0.0.1:{port}/zhkh", caplog)
    assert exc.problem == "not_postgresql" and exc.where == f"127.0.0.1:{port}"
    assert f"127.0.0.1:{port} is not PostgreSQL" in str(exc)


@pytest.mark.parametrize("url, backend", [("redis://127.0.0.1:6379/0", "redis"),
                                          ("mysql://root@127.0.0.1:3306/zhkh", "mysql")])
def test_url_of_another_database(url: str, backend: str, caplog: pytest.LogCaptureFixture) -> None:
    exc = refusal(url, caplog)
    assert exc.problem == "not_postgresql" and f"names a {backend!r} database" in str(exc)


def test_closed_port_is_refused(caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    exc = refusal(f"postgresql://postgres@127.0.0.1:{port}/zhkh", caplog)
    assert exc.problem == "refused" and f"nothing listens on port {port}" in str(exc)


def test_unknown_host_is_unreachable(caplog: pytest.LogCaptureFixture) -> None:
    exc = refusal("postgresql://postgres@zhkh-no-such-host.invalid:5432/zhkh", caplog)
    assert exc.problem == "unreachable" and "does not resolve" in str(exc)


@pytest.mark.parametrize("url, reason", [("not a url", "not a URL"),
                                         ("postgresql://postgres@127.0.0.1:port/zhkh", "the port is not a number")])
def test_malformed_url(url: str, reason: str, caplog: pytest.LogCaptureFixture) -> None:
    exc = refusal(url, caplog)
    assert exc.problem == "malformed" and f"malformed ({reason})" in str(exc)


def test_login_refused_without_the_password(caplog: pytest.LogCaptureFixture) -> None:
    exc = refusal("postgresql://zhkh_nobody:secret-pw@127.0.0.1:5432/zhkh", caplog)
    assert exc.problem == "login" and 'role "zhkh_nobody" does not exist' in str(exc)
    assert "secret-pw" not in str(exc) and "secret-pw" not in caplog.text


@pytest.fixture()
def without_postgis() -> Iterator[str]:
    """A database of a user who may not create PostGIS (its extension is for superusers only)."""
    name = f"zhkh_nopostgis_{uuid.uuid4().hex[:8]}"
    admin = create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE ROLE "{name}" LOGIN'))
        conn.execute(text(f'CREATE DATABASE "{name}" OWNER "{name}"'))
    yield f"postgresql://{name}@127.0.0.1:5432/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'DROP ROLE IF EXISTS "{name}"'))
    admin.dispose()


def test_database_without_postgis(without_postgis: str, caplog: pytest.LogCaptureFixture) -> None:
    exc = refusal(without_postgis, caplog)
    assert exc.problem == "no_postgis" and "no PostGIS extension" in str(exc)
    assert "CREATE EXTENSION postgis" in str(exc)


def test_a_repeated_failure_is_remembered_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/zhkh"
    with caplog.at_level(logging.ERROR, logger="zhkh.db"):
        for _ in range(3):
            with pytest.raises(DatabaseUnavailable, match="refuses connections"):
                db.get_engine(url)
    assert len([r for r in caplog.records if r.name == "zhkh.db"]) == 1


class SilentServer:
    """A TCP server that closes the first connection at once (not PostgreSQL) and holds the next one,
    silent, until ``release``: a database probe that hangs, for as long as the test wants."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.holding = threading.Event()
        self.release = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        first, _ = self.sock.accept()
        first.close()
        held, _ = self.sock.accept()
        self.holding.set()
        self.release.wait()
        held.close()
        while True:  # any later probe: closed at once
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.close()


def test_a_hanging_probe_does_not_queue_the_other_sessions(monkeypatch: pytest.MonkeyPatch) -> None:
    server = SilentServer()
    guard = threading.Timer(30, server.release.set)  # only so that a failing test ends
    guard.start()
    monkeypatch.setattr(db, "RETRY_AFTER_S", 0.0)        # every call re-checks the database …
    monkeypatch.setattr(db, "HANDSHAKE_TIMEOUT_S", 60.0)  # … and the re-check hangs until released
    url = f"postgresql://postgres@127.0.0.1:{server.port}/zhkh"
    try:
        with pytest.raises(DatabaseUnavailable):
            db.get_engine(url)                            # the first failure: not PostgreSQL
        prober = threading.Thread(target=lambda: pytest.raises(DatabaseUnavailable, db.get_engine, url))
        prober.start()
        assert server.holding.wait(30)                    # a session is now stuck in its probe
        with pytest.raises(DatabaseUnavailable) as err:  # another session is answered at once …
            db.get_engine(url)
        assert not server.release.is_set()                # … while that probe still hangs
        assert err.value.problem == "not_postgresql"
    finally:
        server.release.set()
        guard.cancel()
        server.sock.close()
    prober.join(60)
    assert not prober.is_alive()


def test_a_missing_database_is_created_in_development_and_refused_in_production(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """A mistyped database name on a production server must not become a new, empty database that then
    answers "nothing there": it is refused and nothing is created. In development it is made (make demo)."""
    from settings import get_settings

    name = f"zhkh_missing_{uuid.uuid4().hex[:8]}"
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    admin = create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT")

    def exists() -> bool:
        with admin.connect() as conn:
            return conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first() is not None

    try:
        monkeypatch.setenv("ZHKH_ENV", "production")
        get_settings.cache_clear()
        with pytest.raises(DatabaseUnavailable) as err:
            db.ensure_database(url)
        assert err.value.problem == "login" and f"{name!r} does not exist" in str(err.value)
        assert "ZHKH_ENV=production" in str(err.value) and not exists()

        monkeypatch.setenv("ZHKH_ENV", "development")
        get_settings.cache_clear()
        db.ensure_database(url)
        assert exists()
    finally:
        get_settings.cache_clear()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
