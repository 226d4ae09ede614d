"""Mapbox Vector Tiles of the map layers, made by PostGIS (``ST_AsMVT``), with the zoom policy.

A tile ``/tiles/{layer}/{z}/{x}/{y}.pbf`` (XYZ scheme, y = 0 at the north, 256 px tiles as in
Leaflet) holds one MVT layer named like ``layer`` with the same content the viewport query
(``gis.queries.layer_in_bbox``) gives at zoom ``z``: ``policy_for(layer, z)`` decides the
representation (attribute ``representation``):

- ``features``: the rows themselves, filtered like the viewport (small buildings and pipes
  dropped, open valves hidden at low zoom), the most important first, at most ``max_features``
  per tile. Read from the base tables (EPSG:4326, their GiST indexes), transformed per feature.
- ``merged`` (pipes) and ``grid`` (buildings, hydrants): read from the precomputed overview
  tables (``gis.overviews``, EPSG:3857), never computed per request.

Attributes per layer and representation are in ``ATTRIBUTES`` (docs/performance.md has the
contract). NULL attributes are left out of a feature (MVT has no null). Feature ids (the MVT
``id``) are the rows' database ids for ``features``; merged lines and cells have none.

``tile_etag`` makes an ETag from what a tile depends on: ``networks.revision`` (of the network
asked for, or of all), the ``buildings`` data version and, for overviews, the ``overviews`` data
version, so a valve status change, an import or a refresh changes it and nothing else does.
"""
from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from gis.errors import GisError
from gis.overviews import (
    BUILDINGS,
    GRID_DIVISIONS,
    MAX_ZOOM,
    OVERVIEWS,
    WORLD_M,
    tile_size_m,
)
from gis.queries import (
    _FEATURE_SQL,
    LAYERS,
    Representation,
    UnknownLayer,
    _where,
    metres_per_pixel,
    policy_for,
)

__all__ = [
    "ATTRIBUTES", "EXTENT", "MVT_MEDIA_TYPE", "InvalidNetworkId", "InvalidTileAddress", "Tile", "TileAddress", "TileError",
    "UnknownLayer", "UnknownNetwork", "parse_tile", "render_tile", "representation", "tile_etag",
]

EXTENT = 4096                     # MVT coordinate units per tile side
BUFFER = 64                       # units drawn beyond the tile's edge (no seams at line joins)
MVT_MEDIA_TYPE = "application/vnd.mapbox-vector-tile"
FORMAT_VERSION = 2                # part of every ETag: bump when the SQL or the attributes change
MAX_NETWORK_ID = 2**31 - 1        # networks.id is a PostgreSQL integer
_DIGITS = re.compile(r"[0-9]{1,10}")
_R = 6378137.0                    # Web Mercator sphere radius (m)

# attribute names per (layer, representation); 'representation' is on every feature
ATTRIBUTES: dict[tuple[str, str], tuple[str, ...]] = {
    ("buildings", "features"): ("id", "address", "kind", "residents", "address_source"),
    ("buildings", "grid"): ("count", "residents"),
    ("pipes", "features"): ("id", "ext_id", "network_id", "diameter_mm", "material", "install_year", "street", "risk"),
    ("pipes", "merged"): ("id", "network_id", "street", "diameter_mm", "pipes", "length_m"),
    ("valves", "features"): ("id", "ext_id", "status", "kind", "pipe_id", "network_id"),
    ("hydrants", "features"): ("id", "ext_id", "network_id"),
    ("hydrants", "grid"): ("count",),
    ("sources", "features"): ("id", "ext_id", "kind", "network_id"),
}


class TileError(GisError):
    """A tile request the server refuses; the message names the input."""


class InvalidTileAddress(TileError):
    """z, x or y is not an integer, or outside 0..22 / 0..2^z-1."""


class InvalidNetworkId(TileError):
    """``network_id`` is not a positive integer (or given more than once)."""


class UnknownNetwork(TileError):
    """No network has this id."""


@dataclass(frozen=True)
class TileAddress:
    """A checked tile request."""

    layer: str
    z: int
    x: int
    y: int
    network_id: int | None = None

    def lonlat_bounds(self, margin: float = 0.0) -> tuple[float, float, float, float]:
        """(min_lon, min_lat, max_lon, max_lat) of the tile, widened by ``margin`` × its side."""
        size = tile_size_m(self.z)
        x0 = -WORLD_M + (self.x - margin) * size
        x1 = -WORLD_M + (self.x + 1 + margin) * size
        y1 = WORLD_M - (self.y - margin) * size
        y0 = WORLD_M - (self.y + 1 + margin) * size

        def lon(m: float) -> float:
            return max(-180.0, min(180.0, math.degrees(m / _R)))

        def lat(m: float) -> float:
            return max(-90.0, min(90.0, math.degrees(math.atan(math.sinh(m / _R)))))

        return lon(x0), lat(y0), lon(x1), lat(y1)

    @property
    def representation(self) -> Representation:
        return representation(self.layer, self.z)


def representation(layer: str, z: int) -> Representation:
    """What a tile of ``layer`` at ``z`` holds: 'features', 'merged' or 'grid' (the zoom policy)."""
    return policy_for(layer, z).representation


def _int_part(name: str, raw: str, high: int, zoom_note: str = "") -> int:
    if not _DIGITS.fullmatch(raw):
        raise InvalidTileAddress(f"{name} must be an integer 0..{high}{zoom_note}, got {raw[:40]!r}")
    value = int(raw)
    if value > high:
        raise InvalidTileAddress(f"{name} must be 0..{high}{zoom_note}, got {value}")
    return value


def parse_tile(layer: str, z: str, x: str, y: str, network_id: str | list[str] | None = None) -> TileAddress:
    """Check a tile request's parts (as they come in the URL). Raises UnknownLayer (unknown
    layer), InvalidTileAddress (z, x, y) or InvalidNetworkId, each naming the input."""
    if layer not in LAYERS:
        raise UnknownLayer(f"unknown layer {layer[:40]!r}; expected one of {', '.join(LAYERS)}")
    zi = _int_part("z", z, MAX_ZOOM)
    high = 2**zi - 1
    xi = _int_part("x", x, high, f" at zoom {zi}")
    yi = _int_part("y", y, high, f" at zoom {zi}")
    return TileAddress(layer, zi, xi, yi, parse_network_id(network_id))


def parse_network_id(raw: str | list[str] | None) -> int | None:
    """``?network_id=`` as a positive integer; None when absent."""
    if raw is None:
        return None
    if isinstance(raw, list):
        if len(raw) != 1:
            raise InvalidNetworkId(f"network_id must be given once, got {len(raw)} values")
        raw = raw[0]
    if not _DIGITS.fullmatch(raw) or not 1 <= int(raw) <= MAX_NETWORK_ID:
        raise InvalidNetworkId(f"network_id must be a positive integer, got {raw[:40]!r}")
    return int(raw)


# ------------------------------------------------------------------------------------- ETags


def tile_etag(conn: Connection, tile: TileAddress) -> str:
    """The tile's ETag (quoted, strong) from the versions it depends on, read in one query.
    Raises UnknownNetwork when ``tile.network_id`` names no network (buildings ignore it)."""
    rep = tile.representation
    names = [OVERVIEWS] if rep != "features" else []
    if tile.layer == "buildings":
        names.append(BUILDINGS)
    if tile.layer == "pipes" and rep == "features":
        names.append(RISK_VERSION)
    row = conn.execute(text("""
        SELECT (SELECT string_agg(id || ':' || revision || ':' || extract(epoch FROM created_at), ',' ORDER BY id)
                FROM networks WHERE CAST(:n AS integer) IS NULL OR id = :n) AS nets,
               (SELECT string_agg(name || ':' || version || ':' || extract(epoch FROM updated_at), ',' ORDER BY name)
                FROM data_versions WHERE name = ANY(CAST(:names AS text[]))) AS versions
    """), {"n": tile.network_id, "names": names}).one()
    if tile.network_id is not None and row.nets is None and tile.layer != "buildings":
        raise UnknownNetwork(f"no network with id {tile.network_id}")
    nets = row.nets if tile.layer != "buildings" else ""
    key = f"{FORMAT_VERSION}|{tile.layer}|{tile.z}|{tile.x}|{tile.y}|{tile.network_id}|{nets}|{row.versions}"
    return '"' + hashlib.blake2b(key.encode(), digest_size=12).hexdigest() + '"'


# -------------------------------------------------------------------------------------- tiles

_ENV = "ST_TileEnvelope(CAST(:z AS integer), CAST(:tx AS integer), CAST(:ty AS integer))"
_ENV_MARGIN = ("ST_TileEnvelope(CAST(:z AS integer), CAST(:tx AS integer), CAST(:ty AS integer), "
               f"ST_MakeEnvelope({-WORLD_M}, {-WORLD_M}, {WORLD_M}, {WORLD_M}, 3857), {BUFFER / EXTENT})")
_MVT_GEOM = f"ST_AsMVTGeom({{geom}}, {_ENV}, {EXTENT}, {BUFFER}, true)"
_FEATURE_COLUMNS: dict[str, str] = {layer: ", ".join(ATTRIBUTES[(layer, "features")]) for layer in LAYERS}
# attributes that are not columns of the layer's table: their SQL (pipes: the stored break risk,
# expected breaks per km and year, from forecast.store.refresh)
_COMPUTED = {("pipes", "risk"): "(SELECT r.per_km_year FROM pipe_risk r WHERE r.pipe_id = pipes.id) AS risk"}
_INNER_COLUMNS: dict[str, str] = {layer: ", ".join(_COMPUTED.get((layer, c), c) for c in ATTRIBUTES[(layer, "features")])
                                  for layer in LAYERS}
RISK_VERSION = "pipe_risk"        # data_versions row bumped by forecast.store.refresh


def _features_sql(tile: TileAddress, params: dict[str, Any], max_features: int) -> str:
    table, _, _, order = _FEATURE_SQL[tile.layer]
    x0, y0, x1, y1 = tile.lonlat_bounds(BUFFER / EXTENT)
    params.update({"x0": x0, "y0": y0, "x1": x1, "y1": y1, "cap": max_features, "cap1": max_features + 1})
    lat = (y0 + y1) / 2
    where = _where(tile.layer, policy_for(tile.layer, tile.z), tile.network_id, params, lat,
                   metres_per_pixel(tile.z, lat))
    geom = _MVT_GEOM.format(geom="ST_Transform(f.geom, 3857)")
    # the cap applies before the transform and keeps the most important features of the tile (the
    # viewport's order); one more row is read to know whether the cap cut anything
    # (ST_AsMVT skips a row whose geometry clipped away to NULL: no filter, which would be pushed
    # down and compute every geometry twice)
    cols = _FEATURE_COLUMNS[tile.layer]
    return f"""
        WITH f AS MATERIALIZED (
            SELECT {_INNER_COLUMNS[tile.layer]}, geom, row_number() OVER (ORDER BY {order}) AS rn
            FROM {table} WHERE {where} ORDER BY rn LIMIT :cap1
        )
        SELECT (SELECT ST_AsMVT(q, :name, {EXTENT}, 'geom', 'fid') FROM (
                    SELECT {', '.join('f.' + c for c in cols.split(', '))}, 'features' AS representation,
                           f.id AS fid, {geom} AS geom
                    FROM f WHERE f.rn <= :cap
                ) q),
               (SELECT count(*) > :cap FROM f)
    """


def _merged_sql(tile: TileAddress, params: dict[str, Any]) -> str:
    net = ""
    if tile.network_id is not None:
        net = " AND network_id = :network_id"
        params["network_id"] = tile.network_id
    return f"""
        SELECT ST_AsMVT(q, :name, {EXTENT}, 'geom') FROM (
            SELECT id, network_id, street, diameter_mm, pipes, length_m, 'merged' AS representation,
                   {_MVT_GEOM.format(geom='geom')} AS geom
            FROM tile_merged_mains
            WHERE zoom = CAST(:z AS integer) AND geom && {_ENV_MARGIN}{net}
            ORDER BY diameter_mm DESC, length_m DESC NULLS LAST, id
        ) q
    """


def _grid_sql(tile: TileAddress, params: dict[str, Any]) -> str:
    # the tile's own 64 cells, by index: a cell never straddles two tiles
    params.update({"cx0": tile.x * GRID_DIVISIONS, "cx1": tile.x * GRID_DIVISIONS + GRID_DIVISIONS - 1,
                   "cy0": tile.y * GRID_DIVISIONS, "cy1": tile.y * GRID_DIVISIONS + GRID_DIVISIONS - 1,
                   "layer": tile.layer})
    cells = ("layer = :layer AND zoom = CAST(:z AS integer) AND cx BETWEEN :cx0 AND :cx1 "
             "AND cy BETWEEN :cy0 AND :cy1")
    geom = _MVT_GEOM.format(geom="geom")
    if tile.layer == "buildings":
        inner = f"SELECT count, residents, 'grid' AS representation, {geom} AS geom FROM tile_grid_cells WHERE {cells}"
    else:  # hydrants: cells per network, added up when no network is asked for
        net = ""
        if tile.network_id is not None:
            net = " AND network_id = :network_id"
            params["network_id"] = tile.network_id
        inner = (f"SELECT sum(count)::integer AS count, 'grid' AS representation, {geom} AS geom "
                 f"FROM tile_grid_cells WHERE {cells}{net} GROUP BY cx, cy, geom")
    return f"SELECT ST_AsMVT(q, :name, {EXTENT}, 'geom') FROM ({inner}) q"


def tile_sql(tile: TileAddress, max_features: int) -> tuple[str, dict[str, Any]]:
    """The one SQL statement (and its parameters) that makes ``tile``."""
    params: dict[str, Any] = {"z": tile.z, "tx": tile.x, "ty": tile.y, "name": tile.layer}
    rep = tile.representation
    if rep == "grid":
        return _grid_sql(tile, params), params
    if rep == "merged":
        return _merged_sql(tile, params), params
    return _features_sql(tile, params, max_features), params


@dataclass(frozen=True)
class Tile:
    """A rendered tile: the MVT bytes (b'' when nothing of the layer lies in it) and whether
    the per-tile cap left features out (``features`` representation only)."""

    data: bytes
    truncated: bool = False


def render_tile(conn: Connection, tile: TileAddress, *, max_features: int = 3000) -> Tile:
    """Make ``tile`` (one statement)."""
    if max_features < 1:
        raise TileError(f"max_features must be at least 1, got {max_features}")
    sql, params = tile_sql(tile, max_features)
    row = conn.execute(text(sql), params).one()
    data = bytes(row[0]) if row[0] else b""
    return Tile(data, bool(row[1]) if len(row) > 1 else False)
