"""Writing networks and buildings into PostGIS, each load in one transaction.

Data contract (all GeoDataFrames in EPSG:4326; the caller reprojects):

- ``nodes``: ``ext_id`` (str, unique), ``kind`` (junction | source | tank | reservoir | hydrant),
  optional ``elevation_m``; Point geometry.
- ``pipes``: ``ext_id`` (str, unique), ``from_node``/``to_node`` (node ext_ids), optional ``kind``
  (pipe | pump | control_valve), ``diameter_mm``, ``material``, ``install_year``, ``street``;
  LineString geometry. ``length_m`` is computed on the spheroid.
- ``valves``: ``ext_id``, ``pipe`` (pipe ext_id), ``node`` (node ext_id, an end of that pipe),
  optional ``status`` (open | closed | inoperable), ``kind``, ``diameter_mm``; geometry optional
  (default: a point on the pipe a few metres from the node).
- ``buildings``: ``address``, ``street``, ``housenumber``, ``name``, ``kind``, ``residents``,
  ``address_source`` (osm | derived | imported), ``levels``, ``osm_id``; Polygon/MultiPolygon.

Reloading a network of the same name replaces it; a building dataset of the same name likewise.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import geopandas as gpd
import pandas as pd
from sqlalchemy import Connection, text

Progress = Callable[[str, float], None]


def _noop(stage: str, fraction: float) -> None:  # pragma: no cover - trivial
    return None


def _val(v: Any) -> Any:
    if v is None:
        return None
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    if hasattr(v, "item"):
        return v.item()
    return v


def _rows(df: pd.DataFrame, cols: list[str]) -> list[dict[str, Any]]:
    out = []
    for rec in df.to_dict("records"):
        out.append({c: _val(rec.get(c)) for c in cols})
    return out


def _chunks(rows: list[dict[str, Any]], size: int = 5000):
    for i in range(0, len(rows), size):
        yield i, rows[i : i + size]


def write_network(
    conn: Connection,
    *,
    name: str,
    resource: str,
    nodes: gpd.GeoDataFrame,
    pipes: gpd.GeoDataFrame,
    valves: gpd.GeoDataFrame,
    source_file: str | None = None,
    crs: str | None = None,
    progress: Progress = _noop,
) -> int:
    """Replace network ``name`` with the given layers; returns its id. Runs inside ``conn``'s transaction."""
    conn.execute(text("DELETE FROM networks WHERE name = :n"), {"n": name})
    net_id = conn.execute(
        text("INSERT INTO networks (name, resource, source_file, crs) VALUES (:n, :r, :f, :c) RETURNING id"),
        {"n": name, "r": resource, "f": source_file, "c": crs},
    ).scalar_one()

    nd = nodes.copy()
    nd["wkt"] = nd.geometry.to_wkt()
    if "elevation_m" not in nd:
        nd["elevation_m"] = None
    rows = _rows(nd, ["ext_id", "kind", "elevation_m", "wkt"])
    for i, chunk in _chunks(rows):
        conn.execute(
            text(
                "INSERT INTO nodes (network_id, ext_id, kind, elevation_m, geom) "
                "VALUES (:net, :ext_id, :kind, :elevation_m, ST_GeomFromText(:wkt, 4326))"
            ),
            [{**r, "net": net_id} for r in chunk],
        )
        progress("nodes", (i + len(chunk)) / max(len(rows), 1))
    node_ids = dict(
        conn.execute(text("SELECT ext_id, id FROM nodes WHERE network_id = :n"), {"n": net_id}).all()
    )

    pp = pipes.copy()
    pp["wkt"] = pp.geometry.to_wkt()
    for col in ("kind", "diameter_mm", "material", "install_year", "street"):
        if col not in pp:
            pp[col] = None
    pp["kind"] = pp["kind"].fillna("pipe")
    pp["from_id"] = pp["from_node"].astype(str).map(node_ids)
    pp["to_id"] = pp["to_node"].astype(str).map(node_ids)
    rows = _rows(pp, ["ext_id", "from_id", "to_id", "kind", "diameter_mm", "material", "install_year", "street", "wkt"])
    for i, chunk in _chunks(rows):
        conn.execute(
            text(
                "INSERT INTO pipes (network_id, ext_id, from_node, to_node, kind, diameter_mm, material, "
                "install_year, street, length_m, geom) VALUES (:net, :ext_id, :from_id, :to_id, :kind, "
                ":diameter_mm, :material, :install_year, :street, "
                "ST_Length(ST_GeomFromText(:wkt, 4326)::geography), ST_GeomFromText(:wkt, 4326))"
            ),
            [{**r, "net": net_id} for r in chunk],
        )
        progress("pipes", (i + len(chunk)) / max(len(rows), 1))

    if len(valves):
        vv = pd.DataFrame(valves.drop(columns="geometry", errors="ignore"))
        has_geom = "geometry" in valves and valves.geometry.notna().any()
        vv["wkt"] = valves.geometry.to_wkt() if has_geom else None
        for col, default in (("status", "open"), ("kind", "gate"), ("diameter_mm", None)):
            if col not in vv:
                vv[col] = default
        vv["status"] = vv["status"].fillna("open")
        vv["kind"] = vv["kind"].fillna("gate")
        vv["pipe"] = vv["pipe"].astype(str)
        vv["node"] = vv["node"].astype(str)
        rows = _rows(vv, ["ext_id", "pipe", "node", "status", "kind", "diameter_mm", "wkt"])
        for i, chunk in _chunks(rows):
            conn.execute(
                text(
                    """
                    INSERT INTO valves (network_id, ext_id, pipe_id, node_id, status, kind, diameter_mm, geom)
                    SELECT :net, :ext_id, p.id, n.id, :status, :kind, coalesce(:diameter_mm, p.diameter_mm),
                           coalesce(ST_GeomFromText(:wkt, 4326),
                                    ST_LineInterpolatePoint(p.geom,
                                        CASE WHEN p.from_node = n.id
                                             THEN least(0.5, 4.0 / greatest(p.length_m, 0.01))
                                             ELSE greatest(0.5, 1 - 4.0 / greatest(p.length_m, 0.01)) END))
                    FROM pipes p, nodes n
                    WHERE p.network_id = :net AND p.ext_id = :pipe AND n.network_id = :net AND n.ext_id = :node
                    """
                ),
                [{**r, "net": net_id} for r in chunk],
            )
            progress("valves", (i + len(chunk)) / max(len(rows), 1))
    return int(net_id)


def write_buildings(
    conn: Connection, buildings: gpd.GeoDataFrame, *, dataset: str, progress: Progress = _noop
) -> int:
    """Replace the building ``dataset`` with ``buildings``; returns the count written."""
    conn.execute(text("DELETE FROM buildings WHERE dataset = :d"), {"d": dataset})
    bd = buildings.copy()
    bd["wkt"] = bd.geometry.to_wkt()
    for col, default in (
        ("address", None), ("street", None), ("housenumber", None), ("name", None), ("kind", "other"),
        ("residents", 0), ("address_source", "imported"), ("levels", None), ("osm_id", None),
    ):
        if col not in bd:
            bd[col] = default
    rows = _rows(bd, ["osm_id", "address", "street", "housenumber", "name", "kind", "levels", "residents",
                      "address_source", "wkt"])
    for i, chunk in _chunks(rows):
        conn.execute(
            text(
                "INSERT INTO buildings (osm_id, address, street, housenumber, name, kind, levels, residents, "
                "address_source, dataset, geom) VALUES (:osm_id, :address, :street, :housenumber, :name, :kind, "
                ":levels, coalesce(:residents, 0), :address_source, :ds, ST_GeomFromText(:wkt, 4326))"
            ),
            [{**r, "ds": dataset} for r in chunk],
        )
        progress("buildings", (i + len(chunk)) / max(len(rows), 1))
    return len(rows)


def connect_buildings(conn: Connection, network_id: int, *, max_distance_m: float = 300.0) -> int:
    """Give every building a service connection to its nearest pipe of ``network_id``.

    The connection runs from the building's nearest point to the nearest point of the pipe.
    Buildings farther than ``max_distance_m`` from any pipe stay unconnected. Returns the count.
    """
    conn.execute(text("DELETE FROM service_connections WHERE network_id = :n"), {"n": network_id})
    res = conn.execute(
        text(
            """
            INSERT INTO service_connections (building_id, pipe_id, network_id, geom)
            SELECT b.id, p.id, :n,
                   ST_MakeLine(ST_ClosestPoint(b.geom, p.geom), ST_ClosestPoint(p.geom, b.geom))
            FROM buildings b
            CROSS JOIN LATERAL (
                SELECT id, geom FROM pipes
                WHERE network_id = :n AND kind = 'pipe'
                ORDER BY geom <-> b.geom LIMIT 1
            ) p
            WHERE ST_DWithin(b.geom::geography, p.geom::geography, :d)
            """
        ),
        {"n": network_id, "d": max_distance_m},
    )
    return int(res.rowcount or 0)
