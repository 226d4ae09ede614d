"""``python -m gis.local_pg``: prepare the database (``make demo``, ``make test``) and print its URL.

DATABASE_URL's database, else the local one (the machine's server, else a cluster of our own under
``var/pg``, created and started here; see :mod:`gis.local_pg`). The database and its PostGIS extension are
created when missing. A database that cannot be reached: one line on stderr, exit code 2.
"""
from __future__ import annotations

from apps.cli.common import run
from gis.db import ensure_database, normalize_url
from gis.errors import DatabaseUnavailable
from gis.local_pg import local_database_url
from settings import get_settings


def _prepare() -> int:
    s = get_settings()
    if s.database_url is not None and s.database_url.get_secret_value():
        url = normalize_url(s.database_url.get_secret_value())
    else:
        url = local_database_url(s, start=True)
    ensure_database(url)
    print(url)
    return 0


def main() -> int:
    """Prepare the database (DATABASE_URL's, or the local one, creating our own cluster if need be)."""
    return run(_prepare, DatabaseUnavailable)
