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
