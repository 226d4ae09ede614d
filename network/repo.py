"""Load a network from PostGIS (the only module of ``network`` that touches SQLAlchemy).

Schema (see docs/network.md): ``nodes``, ``pipes``, ``valves``, ``buildings``,
``service_connections``; model ids are the database ids as strings.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection, Engine

from network.model import NetworkModel, network_from_arrays

__all__ = ["load_network", "affected_buildings", "CRITICAL_KINDS"]

SOURCE_KINDS = ("source", "tank", "reservoir")
CRITICAL_KINDS = ("hospital", "school", "kindergarten")

_NODES = text("SELECT id, kind FROM nodes WHERE network_id = :network_id ORDER BY id")
_PIPES = text(
    "SELECT id, from_node, to_node, length_m FROM pipes WHERE network_id = :network_id ORDER BY id"
)
_VALVES = text(
    "SELECT id, pipe_id, node_id, status FROM valves WHERE network_id = :network_id ORDER BY id"
)
_AFFECTED = text(
    """
    SELECT DISTINCT b.id, b.address, b.kind, b.residents
    FROM service_connections sc
    JOIN buildings b ON b.id = sc.building_id
    WHERE sc.network_id = :network_id AND sc.pipe_id IN :pipe_ids
    """
).bindparams(bindparam("pipe_ids", expanding=True))


def _rows(conn_or_engine: Connection | Engine, stmt: Any, **params: Any) -> list[Any]:
    if isinstance(conn_or_engine, Engine):
        with conn_or_engine.connect() as conn:
            return list(conn.execute(stmt, params))
    return list(conn_or_engine.execute(stmt, params))


def load_network(conn_or_engine: Connection | Engine, network_id: int) -> NetworkModel:
    """Model of network ``network_id``: pipes as links, valves with status, sources =
    nodes of kind source | tank | reservoir; ``length_m`` from ``pipes.length_m`` (NULL -> 0)."""
    nodes = _rows(conn_or_engine, _NODES, network_id=network_id)
    pipes = _rows(conn_or_engine, _PIPES, network_id=network_id)
    valves = _rows(conn_or_engine, _VALVES, network_id=network_id)
    return network_from_arrays(
        [str(p.id) for p in pipes],
        [str(p.from_node) for p in pipes],
        [str(p.to_node) for p in pipes],
        node_ids=[str(n.id) for n in nodes],
        source_ids=[str(n.id) for n in nodes if n.kind in SOURCE_KINDS],
        valve_links=[str(v.pipe_id) for v in valves],
        valve_nodes=[str(v.node_id) for v in valves],
        valve_ids=[str(v.id) for v in valves],
        valve_statuses=[v.status or "open" for v in valves],
        length_m=np.array([p.length_m if p.length_m is not None else 0.0 for p in pipes], dtype=np.float64),
        source_name=f"network {network_id}",
    )


def affected_buildings(
    conn_or_engine: Connection | Engine, network_id: int, pipe_ids: Iterable[str | int]
) -> list[dict[str, Any]]:
    """Buildings served from ``pipe_ids`` (model ids = DB ids as strings), critical customers
    first (hospital, school, kindergarten), then by residents descending, then id."""
    ids = sorted({int(p) for p in pipe_ids})
    if not ids:
        return []
    rows = _rows(conn_or_engine, _AFFECTED, network_id=network_id, pipe_ids=ids)
    rank = {kind: i for i, kind in enumerate(CRITICAL_KINDS)}
    out = [{"id": r.id, "address": r.address, "kind": r.kind, "residents": r.residents} for r in rows]
    out.sort(key=lambda b: (rank.get(b["kind"], len(rank)), -(b["residents"] or 0), b["id"]))
    return out


_VALVE_DETAILS = text(
    """
    SELECT v.id, v.ext_id, v.status, v.kind, v.diameter_mm, v.pipe_id, v.node_id,
           ST_X(v.geom) AS lon, ST_Y(v.geom) AS lat, p.ext_id AS pipe_ext_id, p.street
    FROM valves v JOIN pipes p ON p.id = v.pipe_id
    WHERE v.id IN :ids
    """
).bindparams(bindparam("ids", expanding=True))
_PIPE_MIDPOINTS = text(
    """
    SELECT id, ext_id, street, diameter_mm, ST_X(ST_LineInterpolatePoint(geom, 0.5)) AS lon,
           ST_Y(ST_LineInterpolatePoint(geom, 0.5)) AS lat
    FROM pipes WHERE id IN :ids
    """
).bindparams(bindparam("ids", expanding=True))


def network_revision(conn_or_engine: Connection | Engine, network_id: int) -> int | None:
    """The network's revision (bumped on every valve status change); None for an unknown network."""
    rows = _rows(conn_or_engine, text("SELECT revision FROM networks WHERE id = :n"), n=network_id)
    return int(rows[0].revision) if rows else None


def valve_details(conn_or_engine: Connection | Engine, valve_ids: Iterable[str | int]) -> dict[str, dict[str, Any]]:
    """Valve id (string) -> ext_id, status, kind, diameter, pipe, street and lon/lat of the valve point."""
    ids = sorted({int(v) for v in valve_ids})
    if not ids:
        return {}
    return {str(r.id): dict(r._mapping) for r in _rows(conn_or_engine, _VALVE_DETAILS, ids=ids)}


def pipe_midpoints(conn_or_engine: Connection | Engine, pipe_ids: Iterable[str | int]) -> dict[str, dict[str, Any]]:
    """Pipe id (string) -> ext_id, street, diameter and lon/lat of its midpoint."""
    ids = sorted({int(p) for p in pipe_ids})
    if not ids:
        return {}
    return {str(r.id): dict(r._mapping) for r in _rows(conn_or_engine, _PIPE_MIDPOINTS, ids=ids)}


def set_valve_status(engine: Engine, network_id: int, valve_id: int | str, status: str) -> None:
    """Record a valve's status found in the field (open | closed | inoperable)."""
    from network.errors import UnknownValve

    if status not in ("open", "closed", "inoperable"):
        raise ValueError(f"valve status must be open, closed or inoperable, got {status!r}")
    with engine.begin() as conn:
        res = conn.execute(text("UPDATE valves SET status = :s WHERE id = :v AND network_id = :n"),
                           {"s": status, "v": int(valve_id), "n": network_id})
        if res.rowcount != 1:
            raise UnknownValve(f"valve {valve_id} is not in network {network_id}")


_PIPE_GEOJSON = text(
    "SELECT id, ST_AsGeoJSON(geom, 6) AS g FROM pipes WHERE id IN :ids"
).bindparams(bindparam("ids", expanding=True))
_LINK_RESIDENTS = text(
    """
    SELECT sc.pipe_id, sum(b.residents) AS residents, count(*) AS buildings
    FROM service_connections sc JOIN buildings b ON b.id = sc.building_id
    WHERE sc.network_id = :network_id GROUP BY sc.pipe_id
    """
)


def pipe_geojson(conn_or_engine: Connection | Engine, pipe_ids: Iterable[str | int]) -> dict[str, dict[str, Any]]:
    """Pipe id (string) -> GeoJSON geometry dict (EPSG:4326)."""
    import json

    ids = sorted({int(p) for p in pipe_ids})
    if not ids:
        return {}
    return {str(r.id): json.loads(r.g) for r in _rows(conn_or_engine, _PIPE_GEOJSON, ids=ids)}


def customers_per_link(conn_or_engine: Connection | Engine, model: NetworkModel, network_id: int) -> dict[str, np.ndarray]:
    """Per-link arrays (in the model's link order) of residents and buildings served, for criticality."""
    rows = _rows(conn_or_engine, _LINK_RESIDENTS, network_id=network_id)
    pos = {lid: i for i, lid in enumerate(model.link_ids)}
    residents = np.zeros(len(model.link_ids), dtype=np.float64)
    buildings = np.zeros(len(model.link_ids), dtype=np.float64)
    for r in rows:
        i = pos.get(str(r.pipe_id))
        if i is not None:
            residents[i] = float(r.residents or 0)
            buildings[i] = float(r.buildings or 0)
    return {"residents": residents, "buildings": buildings}


def nearest_pipe(conn_or_engine: Connection | Engine, network_id: int, lon: float, lat: float,
                 max_distance_m: float = 40.0) -> dict[str, Any] | None:
    """The pipe of ``network_id`` nearest to (lon, lat) within ``max_distance_m``; None if none."""
    rows = _rows(conn_or_engine, text(
        """
        WITH pt AS (SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS g)
        SELECT p.id, p.ext_id, p.street, p.diameter_mm, ST_Distance(p.geom::geography, pt.g::geography) AS d
        FROM pipes p, pt WHERE p.network_id = :n ORDER BY p.geom <-> pt.g LIMIT 5
        """), lon=lon, lat=lat, n=network_id)
    best = min(rows, key=lambda r: r.d, default=None)
    if best is None or best.d > max_distance_m:
        return None
    return {"id": str(best.id), "ext_id": best.ext_id, "street": best.street, "diameter_mm": best.diameter_mm,
            "distance_m": float(best.d)}


def pipe_choices(conn_or_engine: Connection | Engine, network_id: int) -> list[dict[str, Any]]:
    """Every pipe of the network with a label for pickers (ext_id, street, diameter)."""
    rows = _rows(conn_or_engine, text(
        "SELECT id, ext_id, street, diameter_mm FROM pipes WHERE network_id = :n ORDER BY street NULLS LAST, ext_id"
    ), n=network_id)
    return [{"id": str(r.id), "ext_id": r.ext_id, "street": r.street, "diameter_mm": r.diameter_mm} for r in rows]
