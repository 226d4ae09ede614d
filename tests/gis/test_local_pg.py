"""With no server on the usual port, `python -m gis.local_pg` (make demo, make test) starts a PostGIS cluster
of its own (as the postgres user); an app never does so by itself: it says what to do."""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from apps.cli.local_pg import main as local_pg_main
from gis.db import make_engine
from gis.errors import DatabaseUnavailable
from gis.local_pg import local_database_url, port_open, stop_own_cluster
from settings import Settings, get_settings
from tests.ui.conftest import free_port


@pytest.fixture()
def cluster_dir() -> Iterator[Path]:
    # under /tmp with open permissions: the postgres user must be able to reach it
    base = Path(tempfile.mkdtemp(prefix="zhkh-own-", dir="/tmp"))
    os.chmod(base, 0o755)
    yield base / "pg"
    stop_own_cluster(base / "pg")
    shutil.rmtree(base, ignore_errors=True)


def test_own_cluster_when_no_server_listens(cluster_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    idle_port, own_port = free_port(), free_port()
    assert not port_open("127.0.0.1", idle_port)
    s = Settings(database_url=None, local_pg_port=idle_port, local_cluster_port=own_port,
                 local_cluster_dir=cluster_dir, local_db_name="zhkh_own")
    # an app (no start asked for): no new, empty cluster behind its back, but what to do
    with pytest.raises(DatabaseUnavailable, match=r"run `python -m gis\.local_pg`") as err:
        local_database_url(s)
    assert err.value.problem == "no_local" and f"127.0.0.1:{idle_port}" in str(err.value)
    assert not cluster_dir.exists() and not port_open("127.0.0.1", own_port)
    # python -m gis.local_pg (make demo, make test) creates and starts it
    for name, value in {"ZHKH_LOCAL_PG_PORT": idle_port, "ZHKH_LOCAL_CLUSTER_PORT": own_port,
                        "ZHKH_LOCAL_CLUSTER_DIR": cluster_dir, "ZHKH_LOCAL_DB_NAME": "zhkh_own"}.items():
        monkeypatch.setenv(name, str(value))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    get_settings.cache_clear()
    try:
        assert local_pg_main() == 0
    finally:
        get_settings.cache_clear()
    url = capsys.readouterr().out.strip()
    assert f":{own_port}/zhkh_own" in url and port_open("127.0.0.1", own_port)
    assert (cluster_dir / "PG_VERSION").exists()
    engine = make_engine(url)  # creates the database, PostGIS and the schema
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT postgis_version()")).scalar()
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()
    # a second call reuses the running cluster
    assert local_database_url(s) == url
    # stopped, it comes back only when a setting allows it
    stop_own_cluster(cluster_dir)
    with pytest.raises(DatabaseUnavailable):
        local_database_url(s)
    assert local_database_url(s.model_copy(update={"local_cluster_autostart": True})) == url
    assert port_open("127.0.0.1", own_port)
