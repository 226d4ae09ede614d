"""``python -m gis``: the vector-tile server and its precomputed overviews.

    python -m gis serve-tiles [--host 127.0.0.1] [--port 8512] [--log-level warning]
    python -m gis refresh-overviews [--network-id N]

Both read ``DATABASE_URL`` (else the local database) like the rest of the app. ``serve-tiles``
computes the overviews once at start if data exists but they never were (a database loaded
before migration 0006); otherwise imports and demo loads keep them fresh.
"""
from __future__ import annotations

import argparse
import sys

from gis.errors import DatabaseUnavailable, GisError


def _refresh(network_id: int | None) -> str:
    from sqlalchemy import text

    from gis.db import get_engine
    from gis.overviews import refresh_overviews
    from gis.tiles import UnknownNetwork

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
    from sqlalchemy.exc import SQLAlchemyError

    from gis.db import get_engine
    from gis.overviews import overviews_missing

    try:
        if overviews_missing(get_engine()):
            print("serve-tiles: computing the overviews once (data loaded before they existed) …", file=sys.stderr)
            print("serve-tiles: " + _refresh(None), file=sys.stderr)
    except (DatabaseUnavailable, SQLAlchemyError) as exc:
        first = (str(exc).splitlines() or [""])[0]
        print(f"serve-tiles: database not ready ({first}); serving 503 until it is", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    from settings import get_settings

    parser = argparse.ArgumentParser(prog="python -m gis", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve-tiles", help="serve the map layers as Mapbox Vector Tiles")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=get_settings().tiles_port)
    serve.add_argument("--log-level", default="warning")
    refresh = sub.add_parser("refresh-overviews", help="recompute the low-zoom overviews (grids, merged mains)")
    refresh.add_argument("--network-id", type=int, default=None, help="only this network (not the buildings)")
    args = parser.parse_args(argv)

    try:
        if args.command == "serve-tiles":
            import uvicorn

            if not 0 < args.port < 65536:
                print(f"--port must be 1..65535, got {args.port}", file=sys.stderr)
                return 2
            _prepare_overviews()
            uvicorn.run("gis.tile_server:create_app", factory=True, host=args.host, port=args.port,
                        log_level=args.log_level, access_log=False, timeout_keep_alive=30)
            return 0
        if args.command == "refresh-overviews":
            print(_refresh(args.network_id))
            return 0
    except (GisError, DatabaseUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 2


if __name__ == "__main__":
    sys.exit(main())
