"""The network engine's PostGIS adapter: load a network model, and the lookups a shutoff plan needs
(valve points, pipe midpoints and geometries, the buildings each pipe serves). ``network/`` itself
stays pure; the application layer (``ops.network``) joins the two.

Schema (see docs/network.md): ``nodes``, ``pipes``, ``valves``, ``buildings``,
``service_connections``; model ids are the database ids as strings.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import numpy as np
from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection, Engine

from network.hydraulic_model import NodeRows, PipeRows
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


def network_version(conn_or_engine: Connection | Engine, network_id: int) -> str | None:
    """What a cache of the network is keyed by: its revision and when the network row was made. The
    revision alone repeats when the database is loaded anew (a demo reload, a restore, a test's clean
    tables): network 1 at revision 0 again, with other pipes — a process that outlived the reload must not
    serve the old graph. None for an unknown network."""
    rows = _rows(conn_or_engine, text("SELECT revision, created_at FROM networks WHERE id = :n"), n=network_id)
    return f"{int(rows[0].revision)}.{rows[0].created_at.timestamp():.6f}" if rows else None


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


def valve_for_update(conn: Connection, valve_id: int) -> dict[str, Any] | None:
    """A valve row (id, network_id, ext_id, status) locked for this transaction."""
    row = conn.execute(text("SELECT id, network_id, ext_id, status FROM valves WHERE id = :v FOR UPDATE"),
                       {"v": int(valve_id)}).mappings().first()
    return dict(row) if row else None


def set_valve_status(conn: Connection, valve_id: int, status: str) -> None:
    """Record a valve's status found in the field (the trigger bumps the network's revision)."""
    conn.execute(text("UPDATE valves SET status = :s WHERE id = :v"), {"s": status, "v": int(valve_id)})


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


def list_networks(conn: Connection) -> list[dict[str, Any]]:
    """Every network: id, name, resource, revision and version (see ``network_version``)."""
    rows = conn.execute(text("SELECT id, name, resource, revision, created_at FROM networks ORDER BY id")).mappings().all()
    return [{"id": r.id, "name": r.name, "resource": r.resource, "revision": r.revision,
             "version": f"{int(r.revision)}.{r.created_at.timestamp():.6f}"} for r in rows]


def inoperable_valves(conn: Connection, network_id: int) -> list[dict[str, Any]]:
    """Valves recorded inoperable, with street and point, and who recorded it last and when."""
    rows = conn.execute(text(
        """
        SELECT v.id, v.ext_id, v.status, p.street, ST_X(v.geom) AS lon, ST_Y(v.geom) AS lat,
               a.actor AS marked_by, a.at AS marked_at, a.reason
        FROM valves v JOIN pipes p ON p.id = v.pipe_id
        LEFT JOIN LATERAL (
            SELECT actor, at, reason FROM audit_events
            WHERE object_type = 'valve' AND object_id = v.id::text AND action = 'valve.status'
            ORDER BY at DESC, id DESC LIMIT 1
        ) a ON true
        WHERE v.network_id = :n AND v.status = 'inoperable'
        ORDER BY a.at DESC NULLS LAST, v.ext_id
        """), {"n": network_id}).mappings().all()
    return [dict(r) for r in rows]


def network_counts(conn: Connection) -> list[dict[str, Any]]:
    """Per network: name, resource, pipes, km of pipe, valves, service connections, open outages."""
    rows = conn.execute(text(
        """
        SELECT n.id, n.name, n.resource,
               (SELECT count(*) FROM pipes p WHERE p.network_id = n.id) AS pipes,
               (SELECT round((coalesce(sum(length_m), 0) / 1000)::numeric, 2) FROM pipes p WHERE p.network_id = n.id) AS km,
               (SELECT count(*) FROM valves v WHERE v.network_id = n.id) AS valves,
               (SELECT count(*) FROM service_connections c WHERE c.network_id = n.id) AS connections,
               (SELECT count(*) FROM outages o WHERE o.network_id = n.id AND o.state IN ('planned', 'active')) AS open_outages
        FROM networks n ORDER BY n.id
        """)).mappings().all()
    return [dict(r) for r in rows]


_HYD_NODES = text("SELECT id, kind, elevation_m FROM nodes WHERE network_id = :n ORDER BY id")
_HYD_PIPES = text(
    """
    SELECT p.id, p.from_node, p.to_node, p.kind, coalesce(p.length_m, ST_Length(p.geom::geography)) AS length_m,
           p.diameter_mm, p.material, p.install_year,
           EXISTS (SELECT 1 FROM valves v WHERE v.pipe_id = p.id AND v.status = 'closed') AS closed
    FROM pipes p WHERE p.network_id = :n ORDER BY p.id
    """
)
# each building on its service pipe's nearer end; its flats; its building meter's mean m3/day over
# the last 30 days (cumulative register: last - first over the time between them, at least a day)
_HYD_BUILDINGS = text(
    """
    WITH metered AS (
        SELECT m.building_id, (max(r.total) - min(r.total))
               / (extract(epoch FROM max(r.ts) - min(r.ts)) / 86400.0) AS m3_day
        FROM meters m JOIN meter_readings r ON r.meter_id = m.id
        WHERE m.kind = 'building' AND m.resource = :resource AND m.removed_on IS NULL
          AND r.ts >= now() - interval '30 days'
        GROUP BY m.building_id HAVING max(r.ts) - min(r.ts) >= interval '1 day'
    )
    SELECT b.id, b.residents,
           (SELECT count(*) FROM premises pr WHERE pr.building_id = b.id AND pr.kind = 'flat') AS flats,
           mt.m3_day,
           CASE WHEN ST_LineLocatePoint(p.geom, ST_PointOnSurface(b.geom)) < 0.5 THEN p.from_node ELSE p.to_node END AS near,
           CASE WHEN ST_LineLocatePoint(p.geom, ST_PointOnSurface(b.geom)) < 0.5 THEN p.to_node ELSE p.from_node END AS far
    FROM service_connections sc
    JOIN buildings b ON b.id = sc.building_id
    JOIN pipes p ON p.id = sc.pipe_id
    LEFT JOIN metered mt ON mt.building_id = b.id
    WHERE sc.network_id = :n
    """
)


def hydraulic_inputs(conn_or_engine: Connection | Engine, network_id: int) -> tuple[NodeRows, PipeRows, list[dict[str, Any]]]:
    """What ``network.hydraulic_model.build_hydraulic_model`` needs from the database: the nodes, the
    links (length from the geometry where the attribute is missing; closed when a valve on it is
    closed) and each served building (id, residents, flats, metered m3/day or None, the ends of its
    service pipe, the nearer first)."""
    resource = _rows(conn_or_engine, text("SELECT resource FROM networks WHERE id = :n"), n=network_id)
    nodes = _rows(conn_or_engine, _HYD_NODES, n=network_id)
    pipes = _rows(conn_or_engine, _HYD_PIPES, n=network_id)
    buildings = _rows(conn_or_engine, _HYD_BUILDINGS, n=network_id,
                      resource=resource[0].resource if resource else "cold_water")
    node_rows = NodeRows(ids=[str(r.id) for r in nodes], kinds=[r.kind for r in nodes],
                         elevation_m=[r.elevation_m for r in nodes])
    pipe_rows = PipeRows(ids=[str(r.id) for r in pipes], start=[str(r.from_node) for r in pipes],
                         end=[str(r.to_node) for r in pipes], kinds=[r.kind for r in pipes],
                         length_m=[r.length_m for r in pipes], diameter_mm=[r.diameter_mm for r in pipes],
                         material=[r.material for r in pipes], install_year=[r.install_year for r in pipes],
                         closed=[bool(r.closed) for r in pipes])
    served = [{"id": int(r.id), "residents": int(r.residents or 0), "flats": int(r.flats or 0),
               "m3_day": None if r.m3_day is None else float(r.m3_day), "nodes": (str(r.near), str(r.far))}
              for r in buildings]
    return node_rows, pipe_rows, served
