"""Local PostgreSQL + PostGIS when DATABASE_URL is unset.

Order of preference: the machine's running server (``127.0.0.1:5432`` by default), then a
cluster of our own under ``var/pg`` (port 5433) started as the ``postgres`` user (PostgreSQL refuses root).
Only ``python -m gis.local_pg`` (``make demo``, ``make test``) creates or starts that cluster, or any process
when ``ZHKH_LOCAL_CLUSTER_AUTOSTART=true``: an app never switches silently to a new, empty database; with
no server it stops and says what to do. ``python -m gis.local_pg`` (:mod:`apps.cli.local_pg`) prepares it and
prints the URL.
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
from pathlib import Path

from gis.errors import DatabaseUnavailable
from settings import Settings, get_settings


def port_open(host: str, port: int, timeout_s: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if found:
        return found[-1]
    path = shutil.which(name)
    if path:
        return path
    raise DatabaseUnavailable(
        f"PostgreSQL's {name} was not found: install PostgreSQL (make setup does it) or set DATABASE_URL"
    )


def _as_postgres(cmd: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def start_own_cluster(cluster_dir: Path, port: int) -> None:
    """Create (once) and start a cluster under ``cluster_dir`` listening on 127.0.0.1:``port``."""
    if port_open("127.0.0.1", port):
        return
    cluster_dir.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(cluster_dir, "postgres", "postgres")
        shutil.chown(cluster_dir.parent, "postgres", "postgres")
    if not (cluster_dir / "PG_VERSION").exists():
        subprocess.run(
            _as_postgres([_pg_bin("initdb"), "-D", str(cluster_dir), "-U", "postgres", "--auth=trust", "-E", "UTF8"]),
            check=True,
            capture_output=True,
        )
    log = cluster_dir / "server.log"
    subprocess.run(
        _as_postgres([
            _pg_bin("pg_ctl"), "-D", str(cluster_dir), "-l", str(log), "-w", "start",
            "-o", f"-p {port} -k /tmp -c listen_addresses=127.0.0.1",
        ]),
        check=True,
        capture_output=True,
    )


def stop_own_cluster(cluster_dir: Path) -> None:
    """Stop a cluster started by ``start_own_cluster`` (no-op when it is not running)."""
    if (cluster_dir / "postmaster.pid").exists():
        subprocess.run(_as_postgres([_pg_bin("pg_ctl"), "-D", str(cluster_dir), "-m", "fast", "-w", "stop"]),
                       check=False, capture_output=True)


def local_database_url(settings: Settings | None = None, *, start: bool = False) -> str:
    """URL of the local database: the machine's server, else our own cluster when it runs. With no
    server, ``start`` (or ``local_cluster_autostart``) creates and starts the cluster; otherwise
    ``DatabaseUnavailable`` says what to do."""
    s = settings or get_settings()
    if port_open(s.local_pg_host, s.local_pg_port):
        host, port = s.local_pg_host, s.local_pg_port
    elif port_open("127.0.0.1", s.local_cluster_port) or start or s.local_cluster_autostart:
        start_own_cluster(s.local_cluster_dir, s.local_cluster_port)
        host, port = "127.0.0.1", s.local_cluster_port
    else:
        raise DatabaseUnavailable(
            f"DATABASE_URL is unset and no PostgreSQL answers at {s.local_pg_host}:{s.local_pg_port} (nor the "
            f"local cluster at 127.0.0.1:{s.local_cluster_port}): set DATABASE_URL to your PostGIS database, "
            f"start PostgreSQL, or run `python -m gis.local_pg` (make demo does) to create a local cluster under "
            f"{s.local_cluster_dir}", "no_local", f"{s.local_pg_host}:{s.local_pg_port}")
    return f"postgresql+psycopg://{s.local_pg_user}@{host}:{port}/{s.local_db_name}"
