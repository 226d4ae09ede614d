"""The vector-tile server: ``GET /tiles/{layer}/{z}/{x}/{y}.pbf[?network_id=N]`` (FastAPI).

Started by ``python -m gis serve-tiles --host 127.0.0.1 --port 8512`` (``apps.cli.gis``); the tiles
themselves are made by ``gis.tiles`` (one SQL statement each). What a response carries:

- 200 ``application/vnd.mapbox-vector-tile``; 204 (no body) when nothing of the layer lies in
  the tile; both with ``ETag``, ``Cache-Control: public, max-age=<tiles_max_age_s>``,
  ``X-Tile-Representation`` (features | merged | grid) and ``X-Tile-Truncated`` (true when the
  per-tile cap left features out). ``If-None-Match`` with the current ETag → 304, and the tile
  is not made at all.
- Every error is one line of JSON ``{"error": "..."}``: 404 unknown layer, network or path;
  400 a bad z / x / y / network_id; 503 with ``Retry-After`` while the database is unreachable
  (the server starts and answers 503 until it is back); 500 names only the exception's type
  (the traceback goes to the server's log).
- CORS: GET from the origins of ``tiles_cors_origins`` ('*' by default: read-only data), with
  ``ETag`` and the ``X-Tile-*`` headers readable by ``fetch()``.

The blocking database work runs in a small thread pool (``tiles_threads``, as the Open311 API
caps its own): more threads only queue on the two cores and stretch the tail.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable

import psycopg
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response

from gis.errors import DatabaseUnavailable, GisError
from gis.queries import UnknownLayer
from gis.serving import lazy_read_engine, thread_pool_lifespan
from gis.tiles import (
    MVT_MEDIA_TYPE,
    TileAddress,
    UnknownNetwork,
    parse_tile,
    render_tile,
    tile_etag,
)
from settings import Settings, get_settings

RETRY_AFTER_S = 5
JSON_CT = "application/json; charset=utf-8"
TILE_PATH = "/tiles/{layer}/{z}/{x}/{y}.pbf"
EXPOSED = ["ETag", "Cache-Control", "X-Tile-Representation", "X-Tile-Truncated"]
_DB_DOWN = (DatabaseUnavailable, OperationalError, InterfaceError, PoolTimeout, psycopg.OperationalError)

log = logging.getLogger(__name__)


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """``{"error": message}`` on one line; every 503 says when to retry."""
    if status == 503:
        headers = {"Retry-After": str(RETRY_AFTER_S), **(headers or {})}
    body = json.dumps({"error": message}, ensure_ascii=False)
    return Response(body, status_code=status, media_type=JSON_CT,
                    headers={"X-Content-Type-Options": "nosniff", **(headers or {})})


def status_of(exc: BaseException) -> int:
    if isinstance(exc, (UnknownLayer, UnknownNetwork)):
        return 404
    if isinstance(exc, GisError):
        return 400
    if isinstance(exc, _DB_DOWN) or (isinstance(exc, DBAPIError) and exc.connection_invalidated):
        return 503
    return 500


def message_of(exc: BaseException, status: int) -> str:
    if status == 503:
        return f"the database is unavailable; retry in {RETRY_AFTER_S} seconds"
    if status == 500:
        return f"internal error ({type(exc).__name__})"
    return str(exc)


def etag_matches(header: str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` value names ``etag`` (weak comparison, ``*`` matches)."""
    if not header:
        return False
    bare = etag.removeprefix("W/")
    for part in header.split(","):
        tag = part.strip()
        if tag == "*" or tag.removeprefix("W/") == bare:
            return True
    return False


def cors_origins(settings: Settings) -> list[str]:
    return [o.strip() for o in settings.tiles_cors_origins.split(",") if o.strip()]


def create_app(engine: Engine | None = None, *, settings: Settings | None = None) -> FastAPI:
    """The tile app. Without ``engine`` it uses the settings' database lazily (``ZHKH_READ_DATABASE_URL``
    when set, else ``DATABASE_URL``), so the server starts while the database is down and answers 503
    until it is back."""
    s = settings or get_settings()
    app = FastAPI(lifespan=thread_pool_lifespan(s.tiles_threads), title="zhkh-ops vector tiles", docs_url=None,
                  redoc_url=None, openapi_url=None)
    # every tile is a read-only query: the standby when ZHKH_READ_DATABASE_URL names one (docs/scaling.md)
    app.state.settings, app.state.db = s, lazy_read_engine(engine, s.read_database_url, s.database_url)
    app.add_middleware(CORSMiddleware, allow_origins=cors_origins(s), allow_methods=["GET"],
                       allow_headers=["If-None-Match"], expose_headers=EXPOSED, max_age=600)
    app.add_exception_handler(StarletteHTTPException, on_http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, on_validation_error)  # type: ignore[arg-type]
    for exc_class in (GisError, DBAPIError, PoolTimeout, DatabaseUnavailable, psycopg.Error, Exception):
        app.add_exception_handler(exc_class, on_error)
    app.include_router(router)
    return app


async def on_http_error(request: Request, exc: StarletteHTTPException) -> Response:
    if exc.status_code == 404:
        message = f"no such path {request.url.path[:200]!r}; tiles are at {TILE_PATH}"
    elif exc.status_code == 405:
        message = f"method {request.method} not allowed; tiles are read with GET"
    else:
        message = str(exc.detail)
    return error_response(exc.status_code, message, dict(exc.headers or {}))


async def on_validation_error(_: Request, exc: RequestValidationError) -> Response:
    return error_response(400, "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))


async def on_error(request: Request, exc: Exception) -> Response:
    status = status_of(exc)
    if status == 500:
        log.error("tile request %s failed", request.url.path, exc_info=exc)
    elif status == 503:
        log.warning("tile request %s: database unavailable: %s", request.url.path, (str(exc).splitlines() or [""])[0])
    return error_response(status, message_of(exc, status))


def serve_tile(db: Callable[[], Engine], s: Settings, tile: TileAddress, if_none_match: str | None) -> Response:
    """One tile (blocking, the engine made at the first call too: run in the thread pool): 304 when
    ``If-None-Match`` names its ETag (the tile is not made), 204 when the layer has nothing in it."""
    with db().connect() as conn, conn.begin():
        conn.execute(text("SELECT set_config('statement_timeout', :t, true)"),
                     {"t": str(int(s.tiles_statement_timeout_ms))})
        etag = tile_etag(conn, tile)
        headers = {"ETag": etag, "Cache-Control": f"public, max-age={int(s.tiles_max_age_s)}",
                   "X-Tile-Representation": tile.representation}
        if etag_matches(if_none_match, etag):
            return Response(status_code=304, headers=headers)
        made = render_tile(conn, tile, max_features=s.tiles_max_features)
    headers["X-Tile-Truncated"] = "true" if made.truncated else "false"
    if not made.data:
        return Response(status_code=204, headers=headers)
    return Response(made.data, media_type=MVT_MEDIA_TYPE, headers=headers)


router = APIRouter()


@router.get("/tiles/{layer}/{z}/{x}/{y_pbf}")
async def tile(request: Request, layer: str, z: str, x: str, y_pbf: str) -> Response:
    if not y_pbf.endswith(".pbf"):
        return error_response(404, f"no such path {request.url.path[:200]!r}; tiles are at {TILE_PATH}")
    nets = request.query_params.getlist("network_id")
    addr = parse_tile(layer, z, x, y_pbf[: -len(".pbf")], nets or None)
    state = request.app.state
    return await run_in_threadpool(serve_tile, state.db, state.settings, addr, request.headers.get("if-none-match"))


@router.get("/health")
def health() -> dict[str, str]:
    """Liveness only (no database round trip): the demo script waits on it."""
    return {"status": "ok"}
