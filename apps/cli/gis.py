"""``python -m gis``: the vector-tile server and its precomputed overviews.

    python -m gis serve-tiles [--host 127.0.0.1] [--port 8512] [--log-level warning]
    python -m gis refresh-overviews [--network-id N]

Both read ``DATABASE_URL`` (else the local database) like the rest of the app. ``serve-tiles``
computes the overviews once at start if data exists but they never were (a database loaded
before migration 0006); otherwise imports and demo loads keep them fresh.
"""
from __future__ import annotations

import sys

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from apps.cli.common import Parser, check_port, run
from apps.cli.serve import serve
from gis.db import get_engine
from gis.errors import DatabaseUnavailable, GisError
from gis.overviews import overviews_missing, refresh_overviews
from gis.tiles import UnknownNetwork
from settings import get_settings

FACTORY = "apps.http.tiles:create_app"


def _refresh(network_id: int | None) -> str:
    engine = get_engine()
    with engine.begin() as conn:
        if network_id is not None:
            if conn.execute(text("SELECT 1 FROM networks WHERE id = :n"), {"n": network_id}).first() is None:
                raise UnknownNetwork(f"no network with id {network_id}")
            stats = refresh_overviews(conn, networks=[network_id], buildings=False)
        else:
            stats = refresh_overviews(conn)
    return stats.summary()


def _prepare_overviews() -> None:
    """At start: compute the overviews if they never were; a database that is down is not fatal."""
    try:
        if overviews_missing(get_engine()):
            print("serve-tiles: computing the overviews once (data loaded before they existed) …", file=sys.stderr)
            print("serve-tiles: " + _refresh(None), file=sys.stderr)
    except (DatabaseUnavailable, SQLAlchemyError) as exc:
        first = (str(exc).splitlines() or [""])[0]
        print(f"serve-tiles: database not ready ({first}); serving 503 until it is", file=sys.stderr)


def _serve_tiles(host: str, port: int, log_level: str) -> int:
    check_port(port)   # before the overviews: a wrong port is refused at once
    _prepare_overviews()
    return serve(FACTORY, host=host, port=port, log_level=log_level)


def _refresh_command(network_id: int | None) -> int:
    print(_refresh(network_id))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="python -m gis", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serving = sub.add_parser("serve-tiles", help="serve the map layers as Mapbox Vector Tiles")
    serving.add_argument("--host", default="127.0.0.1")
    serving.add_argument("--port", type=int, default=get_settings().tiles_port)
    serving.add_argument("--log-level", default="warning")
    refresh = sub.add_parser("refresh-overviews", help="recompute the low-zoom overviews (grids, merged mains)")
    refresh.add_argument("--network-id", type=int, default=None, help="only this network (not the buildings)")
    args = parser.parse_args(argv)
    if args.command == "serve-tiles":
        return run(lambda: _serve_tiles(args.host, args.port, args.log_level), GisError, DatabaseUnavailable)
    return run(lambda: _refresh_command(args.network_id), GisError, DatabaseUnavailable)
