"""With no server on the usual port, the app starts a PostGIS cluster of its own (as the postgres user)."""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from gis.db import make_engine
from gis.local_pg import local_database_url, port_open, stop_own_cluster
from settings import Settings
from tests.ui.conftest import free_port


@pytest.fixture()
def cluster_dir() -> Iterator[Path]:
    # under /tmp with open permissions: the postgres user must be able to reach it
    base = Path(tempfile.mkdtemp(prefix="zhkh-own-", dir="/tmp"))
    os.chmod(base, 0o755)
    yield base / "pg"
    stop_own_cluster(base / "pg")
    shutil.rmtree(base, ignore_errors=True)


def test_own_cluster_when_no_server_listens(cluster_dir: Path) -> None:
    idle_port, own_port = free_port(), free_port()
    assert not port_open("127.0.0.1", idle_port)
    s = Settings(database_url=None, local_pg_port=idle_port, local_cluster_port=own_port,
                 local_cluster_dir=cluster_dir, local_db_name="zhkh_own")
    url = local_database_url(s)
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
