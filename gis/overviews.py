"""Precomputed low-zoom overviews for the vector tiles, and the data versions their ETags use.

What the low zooms draw is an aggregate of a whole city: building counts per cell, mains merged
per street. Computing it per tile request would scan large parts of the tables on every pan, so
it is precomputed into ``tile_grid_cells`` and ``tile_merged_mains`` (migration 0006, EPSG:3857)
for every zoom that ``gis.queries.ZOOM_POLICY`` draws as a grid or merged, and refreshed when the
data changes: after an import or a demo load (``data.merge.merge`` calls ``refresh_after_merge``)
and by ``python -m gis refresh-overviews``.

- Grid cells are 1/8 of a tile side (32 px of a 256 px tile, ``GRID_CELL_PX`` of today's
  viewport grid), aligned on the tile grid: cell ``(cx, cy)`` of zoom ``z`` lies in tile
  ``(cx // 8, cy // 8)``, so a tile takes exactly its own 64 cells and panning never moves them.
  A building counts in the cell of its centroid (as in ``gis.queries``).
- Merged mains: one line per (network, street, diameter) of the pipes the zoom keeps
  (``min_diameter_mm`` of the zoom's policy), ``ST_LineMerge(ST_Collect(...))`` simplified to
  half a pixel of that zoom; ``id`` is the smallest pipe id of the group.

Every refresh bumps the ``overviews`` data version; writes to ``buildings`` bump ``buildings``
(a statement trigger, migration 0006), ``networks.revision`` covers the network tables.
"""
from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, DOUBLE_PRECISION, INTEGER

from gis.queries import GRID_CELL_PX, policy_for

MAX_ZOOM = 22
TILE_PX = 256                      # the tile size the zoom policy's pixels refer to (Leaflet's)
GRID_DIVISIONS = TILE_PX // GRID_CELL_PX  # cells per tile side
WORLD_M = 20037508.342789244       # half the side of the Web Mercator square (EPSG:3857)
OVERVIEWS = "overviews"            # data_versions row bumped by every refresh
BUILDINGS = "buildings"            # data_versions row bumped by writes to buildings


def tile_size_m(zoom: int) -> float:
    """The side of a tile of ``zoom`` in EPSG:3857 metres."""
    return 2 * WORLD_M / 2**zoom


def grid_zooms(layer: str) -> list[int]:
    """The zooms at which ``layer`` is drawn as a grid (precomputed)."""
    return [z for z in range(MAX_ZOOM + 1) if policy_for(layer, z).representation == "grid"]


def merged_zooms() -> list[tuple[int, float]]:
    """(zoom, min_diameter_mm) for the zooms at which pipes are drawn merged (precomputed)."""
    out = []
    for z in range(MAX_ZOOM + 1):
        pol = policy_for("pipes", z)
        if pol.representation == "merged":
            out.append((z, float(pol.min_diameter_mm or 0.0)))
    return out


@dataclass
class RefreshStats:
    """What one refresh wrote."""

    networks: list[int] = field(default_factory=list)
    buildings: bool = False
    grid_cells: int = 0
    merged_lines: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        what = []
        if self.buildings:
            what.append("buildings")
        if self.networks:
            what.append("network" + ("s " if len(self.networks) > 1 else " ") + ", ".join(map(str, self.networks)))
        return (f"overviews refreshed for {' and '.join(what) or 'nothing'}: {self.grid_cells} grid cells, "
                f"{self.merged_lines} merged lines in {self.seconds:.1f} s")


# ------------------------------------------------------------------------------------ versions


def bump_data_version(conn: Connection, name: str) -> int:
    """Add one to the data version ``name`` (created at 1); returns it."""
    return int(conn.execute(text("""
        INSERT INTO data_versions (name, version, updated_at) VALUES (:n, 1, clock_timestamp())
        ON CONFLICT (name) DO UPDATE SET version = data_versions.version + 1, updated_at = clock_timestamp()
        RETURNING version
    """), {"n": name}).scalar_one())


def data_version(conn: Connection, name: str) -> int:
    """The data version ``name``; 0 when it was never bumped."""
    v = conn.execute(text("SELECT version FROM data_versions WHERE name = :n"), {"n": name}).scalar()
    return int(v or 0)


# ------------------------------------------------------------------------------------- refresh

_ZOOM_PARAMS = (bindparam("zooms", type_=ARRAY(INTEGER)), bindparam("cells", type_=ARRAY(DOUBLE_PRECISION)))

_GRID_INSERT = """
    INSERT INTO tile_grid_cells (zoom, layer, network_id, cx, cy, count, residents, geom)
    SELECT zoom, :layer, {network}, cx, cy, count(*), {residents_sum},
           ST_MakeEnvelope(-:w + cx * cell, :w - (cy + 1) * cell, -:w + (cx + 1) * cell, :w - cy * cell, 3857)
    FROM (
        SELECT z.zoom, z.cell,
               least(greatest(floor((p.x + :w) / z.cell)::int, 0), (2 * :w / z.cell)::int - 1) AS cx,
               least(greatest(floor((:w - p.y) / z.cell)::int, 0), (2 * :w / z.cell)::int - 1) AS cy,
               p.residents
        FROM pts p CROSS JOIN unnest(:zooms, :cells) AS z(zoom, cell)
    ) s
    GROUP BY zoom, cell, cx, cy
"""


def _grid_params(layer: str) -> dict[str, object]:
    zooms = grid_zooms(layer)
    return {"layer": layer, "w": WORLD_M, "zooms": zooms,
            "cells": [tile_size_m(z) / GRID_DIVISIONS for z in zooms]}


def _lock(conn: Connection, scope: str) -> None:
    """One refresh of a scope at a time: a second one waits, then sees the first one's rows."""
    conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": f"zhkh.overviews:{scope}"})


def refresh_building_grid(conn: Connection) -> int:
    """Recompute the buildings' grid cells (all datasets); returns the cells written."""
    _lock(conn, "buildings")
    conn.execute(text("DELETE FROM tile_grid_cells WHERE layer = 'buildings'"))
    conn.execute(text("DROP TABLE IF EXISTS pts"))
    conn.execute(text("""
        CREATE TEMP TABLE pts ON COMMIT DROP AS
        SELECT ST_X(c) AS x, ST_Y(c) AS y, residents
        FROM (SELECT ST_Transform(ST_Centroid(geom), 3857) AS c, residents FROM buildings) b
    """))
    n = conn.execute(text(_GRID_INSERT.format(network="NULL", residents_sum="sum(residents)"))
                     .bindparams(*_ZOOM_PARAMS), _grid_params("buildings")).rowcount
    conn.execute(text("DROP TABLE pts"))
    return int(n or 0)


def refresh_network(conn: Connection, network_id: int) -> tuple[int, int]:
    """Recompute the merged mains and the hydrant grid of one network; returns (lines, cells)."""
    _lock(conn, f"network:{network_id}")
    p = {"n": int(network_id)}
    conn.execute(text("DELETE FROM tile_merged_mains WHERE network_id = :n"), p)
    conn.execute(text("DELETE FROM tile_grid_cells WHERE layer = 'hydrants' AND network_id = :n"), p)
    lines = 0
    mz = merged_zooms()
    if mz:
        zooms = [z for z, _ in mz]
        lines = conn.execute(text("""
            WITH groups AS MATERIALIZED (
                SELECT min(id) AS id, street, diameter_mm, count(*)::int AS pipes, sum(length_m) AS length_m,
                       ST_LineMerge(ST_Collect(ST_Transform(geom, 3857))) AS geom
                FROM pipes WHERE network_id = :n AND diameter_mm >= :min_d
                GROUP BY street, diameter_mm
            )
            INSERT INTO tile_merged_mains (zoom, network_id, id, street, diameter_mm, pipes, length_m, geom)
            SELECT z.zoom, :n, g.id, g.street, g.diameter_mm, g.pipes, g.length_m,
                   ST_SimplifyPreserveTopology(g.geom, z.tol)
            FROM groups g JOIN unnest(:zooms, :mins, :tols) AS z(zoom, min_d, tol) ON g.diameter_mm >= z.min_d
        """).bindparams(bindparam("zooms", type_=ARRAY(INTEGER)), bindparam("mins", type_=ARRAY(DOUBLE_PRECISION)),
                        bindparam("tols", type_=ARRAY(DOUBLE_PRECISION))),
            {**p, "min_d": min(d for _, d in mz), "zooms": zooms, "mins": [d for _, d in mz],
             # half a pixel of the zoom: below what the tile can show
             "tols": [tile_size_m(z) / TILE_PX / 2 for z in zooms]}).rowcount or 0
    conn.execute(text("DROP TABLE IF EXISTS pts"))
    conn.execute(text("""
        CREATE TEMP TABLE pts ON COMMIT DROP AS
        SELECT ST_X(c) AS x, ST_Y(c) AS y, NULL::integer AS residents
        FROM (SELECT ST_Transform(geom, 3857) AS c FROM nodes WHERE network_id = :n AND kind = 'hydrant') h
    """), p)
    cells = conn.execute(text(_GRID_INSERT.format(network=":n", residents_sum="NULL"))
                         .bindparams(*_ZOOM_PARAMS), {**_grid_params("hydrants"), **p}).rowcount or 0
    conn.execute(text("DROP TABLE pts"))
    return int(lines), int(cells)


def refresh_overviews(conn: Connection, *, networks: Iterable[int] | None = None,
                      buildings: bool = True) -> RefreshStats:
    """Recompute the overviews in ``conn``'s transaction and bump the ``overviews`` version.

    ``networks``: the network ids whose merged mains and hydrant grid to recompute (None: every
    network; []: none); ``buildings``: also the buildings' grid (all datasets).
    """
    t0 = time.perf_counter()
    stats = RefreshStats()
    ids = ([int(v) for v in conn.execute(text("SELECT id FROM networks ORDER BY id")).scalars()]
           if networks is None else sorted({int(n) for n in networks}))
    for nid in ids:
        lines, cells = refresh_network(conn, nid)
        stats.networks.append(nid)
        stats.merged_lines += lines
        stats.grid_cells += cells
    if buildings:
        stats.grid_cells += refresh_building_grid(conn)
        stats.buildings = True
    bump_data_version(conn, OVERVIEWS)
    stats.seconds = time.perf_counter() - t0
    return stats


def refresh_after_merge(conn: Connection, *, network_id: int | None, network_changed: bool,
                        buildings_changed: bool) -> RefreshStats | None:
    """The import hook (``data.merge``): refresh what a merge changed; None when it changed nothing."""
    nets = [network_id] if network_changed and network_id is not None else []
    if not nets and not buildings_changed:
        return None
    return refresh_overviews(conn, networks=nets, buildings=buildings_changed)


def overviews_missing(engine: Engine) -> bool:
    """True when data exists but the overviews were never computed (e.g. a database loaded
    before migration 0006): the tile server then computes them once at start."""
    with engine.connect() as conn:
        if conn.execute(text("SELECT 1 FROM data_versions WHERE name = :n"), {"n": OVERVIEWS}).first():
            return False
        return bool(conn.execute(text(
            "SELECT EXISTS (SELECT 1 FROM networks) OR EXISTS (SELECT 1 FROM buildings)")).scalar())
