"""A load's rows in temporary tables (``_in_nodes``, ``_in_pipes``, ``_in_valves``, ``_in_buildings``).

The tables live until the transaction ends (``ON COMMIT DROP``; a rollback drops them too) and
are filled with ``COPY``, so staging a million pipes is a few seconds. Frames follow the
contract in :mod:`data.store` (EPSG:4326); an id given twice is a DataError naming it.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from geoalchemy2 import Geometry
from psycopg import sql
from sqlalchemy import BigInteger, Column, Connection, Float, Integer, MetaData, Table, Text, text
from sqlalchemy.schema import CreateTable, DropTable

from data.errors import DataError
from incidents.intake import one_line

_META = MetaData()


def _staged(name: str, *columns: Column[Any], geom: str, geom_null: bool = False) -> Table:
    """A temporary table of a load: gone at the transaction's end (a rollback drops it too)."""
    return Table(name, _META, Column("ext_id", Text, primary_key=True), *columns,
                 Column("geom", Geometry(geom, 4326, spatial_index=False), nullable=geom_null),
                 prefixes=["TEMPORARY"], postgresql_on_commit="DROP")


#: The staged tables, by name (what :mod:`data.store` compares with the rows in place).
TABLES: dict[str, Table] = {t.name: t for t in (
    _staged("_in_nodes", Column("kind", Text, nullable=False), Column("elevation_m", Float), geom="POINT"),
    _staged("_in_pipes", Column("from_ext", Text, nullable=False), Column("to_ext", Text, nullable=False),
            Column("kind", Text, nullable=False), Column("diameter_mm", Float), Column("material", Text),
            Column("install_year", Integer), Column("street", Text), geom="LINESTRING"),
    _staged("_in_valves", Column("pipe_ext", Text, nullable=False), Column("node_ext", Text, nullable=False),
            Column("status", Text, nullable=False), Column("kind", Text, nullable=False),
            Column("diameter_mm", Float), geom="POINT", geom_null=True),
    _staged("_in_buildings", Column("osm_id", BigInteger), Column("address", Text), Column("street", Text),
            Column("housenumber", Text), Column("name", Text), Column("kind", Text, nullable=False),
            Column("levels", Integer), Column("residents", Integer, nullable=False),
            Column("address_source", Text, nullable=False), geom="GEOMETRY"),
)}


def _create(conn: Connection, table: str) -> None:
    conn.execute(DropTable(TABLES[table], if_exists=True))
    conn.execute(CreateTable(TABLES[table]))


def _column(df: pd.DataFrame, name: str, default: Any = None, *, integer: bool = False) -> list[Any]:
    """Plain Python values of ``df[name]`` (missing → ``default``; NaN → None)."""
    if name not in df:
        return [default] * len(df)
    values = np.array(df[name].to_numpy(dtype=object, na_value=None), dtype=object)  # a writable copy
    missing = pd.isna(df[name]).to_numpy()
    if default is not None:
        values[missing] = default
    out = values.tolist()
    if integer:
        out = [None if v is None else int(round(float(v))) for v in out]
    return out


def _texts(df: pd.DataFrame, name: str) -> list[str | None]:
    return [None if v is None else str(v) for v in _column(df, name)]


def _lines(df: pd.DataFrame, name: str) -> list[str | None]:
    """A text attribute as one line (``incidents.intake.one_line``): whatever the loader (a GIS file
    checked by :mod:`data.validate`, the demo's OpenStreetMap extract), an address or a name stored
    here never holds a line break or a control character."""

    return [None if v is None else (one_line(v) or None) for v in _column(df, name)]


def _ewkb(geoms: gpd.GeoSeries | Sequence[Any]) -> list[str | None]:
    arr = np.asarray(geoms, dtype=object)
    present = ~shapely.is_missing(arr)
    out = np.full(len(arr), None, dtype=object)
    if present.any():
        out[present] = shapely.to_wkb(shapely.set_srid(arr[present], 4326), hex=True, include_srid=True)
    return out.tolist()


def _unique(df: pd.DataFrame, what: str) -> list[str]:
    """The ``ext_id`` column as text; a DataError when one is missing or given twice."""
    if "ext_id" not in df:
        raise DataError(f"{what}: no ext_id column (every row needs the source's own id)")
    missing = df["ext_id"].isna().to_numpy()
    ids = ["" if m else str(v).strip() for v, m in zip(df["ext_id"], missing)]
    if "" in ids:
        raise DataError(f"{what}: row {ids.index('')} has no ext_id (every row needs the source's own id)")
    index = pd.Index(ids)
    if index.has_duplicates:
        raise DataError(f"{what}: ext_id {index[index.duplicated()][0]!r} is given twice")
    return ids


def _copy(conn: Connection, table: str, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]) -> None:
    raw = conn.connection.driver_connection  # psycopg 3, in the same transaction
    copy_sql = sql.SQL("COPY {} ({}) FROM STDIN").format(sql.Identifier(table),
                                                         sql.SQL(", ").join(map(sql.Identifier, columns)))
    with raw.cursor() as cur:  # type: ignore[union-attr]
        with cur.copy(copy_sql) as copy:
            for row in rows:
                copy.write_row(row)
    # ANALYZE has no SQLAlchemy construct: the name is one of TABLES' keys, quoted by the dialect
    conn.execute(text("ANALYZE " + conn.dialect.identifier_preparer.quote(TABLES[table].name)))


def stage_network(conn: Connection, nodes: gpd.GeoDataFrame, pipes: gpd.GeoDataFrame,
                  valves: gpd.GeoDataFrame | None) -> None:
    """Fill ``_in_nodes``, ``_in_pipes`` and ``_in_valves``. A valve without a point gets one on its
    pipe a few metres from its node; without a diameter, its pipe's."""
    for t in ("_in_nodes", "_in_pipes", "_in_valves"):
        _create(conn, t)
    ids = _unique(nodes, "nodes")
    _copy(conn, "_in_nodes", ("ext_id", "kind", "elevation_m", "geom"),
          zip(ids, _column(nodes, "kind", "junction"), _column(nodes, "elevation_m"), _ewkb(nodes.geometry)))
    ids = _unique(pipes, "pipes")
    _copy(conn, "_in_pipes", ("ext_id", "from_ext", "to_ext", "kind", "diameter_mm", "material", "install_year",
                              "street", "geom"),
          zip(ids, _texts(pipes, "from_node"), _texts(pipes, "to_node"), _column(pipes, "kind", "pipe"),
              _column(pipes, "diameter_mm"), _lines(pipes, "material"), _column(pipes, "install_year", integer=True),
              _lines(pipes, "street"), _ewkb(pipes.geometry)))
    if valves is not None and len(valves):
        ids = _unique(valves, "valves")
        geoms = valves.geometry if "geometry" in valves and isinstance(valves, gpd.GeoDataFrame) \
            else [None] * len(valves)
        _copy(conn, "_in_valves", ("ext_id", "pipe_ext", "node_ext", "status", "kind", "diameter_mm", "geom"),
              zip(ids, _texts(valves, "pipe"), _texts(valves, "node"), _column(valves, "status", "open"),
                  _column(valves, "kind", "gate"), _column(valves, "diameter_mm"), _ewkb(geoms)))
    unknown = conn.execute(text("""
        SELECT 'pipe ' || p.ext_id || ': node ' || quote_literal(x.e) FROM _in_pipes p
        CROSS JOIN LATERAL (VALUES (p.from_ext), (p.to_ext)) x(e)
        WHERE NOT EXISTS (SELECT 1 FROM _in_nodes n WHERE n.ext_id = x.e)
        UNION ALL
        SELECT 'valve ' || v.ext_id || ': pipe ' || quote_literal(v.pipe_ext) || ' with end node '
               || quote_literal(v.node_ext) FROM _in_valves v
        WHERE NOT EXISTS (SELECT 1 FROM _in_pipes p WHERE p.ext_id = v.pipe_ext AND v.node_ext IN (p.from_ext, p.to_ext))
        LIMIT 5
    """)).scalars().all()
    if unknown:
        raise DataError(f"the network refers to what it does not hold: {'; '.join(unknown)}")
    # the stored point of a valve given without one, and its diameter: from its pipe (as before)
    conn.execute(text("""
        UPDATE _in_valves v
        SET geom = coalesce(v.geom, ST_LineInterpolatePoint(p.geom,
                       CASE WHEN p.from_ext = v.node_ext THEN least(0.5, 4.0 / greatest(p.len, 0.01))
                            ELSE greatest(0.5, 1 - 4.0 / greatest(p.len, 0.01)) END)),
            diameter_mm = coalesce(v.diameter_mm, p.diameter_mm)
        FROM (SELECT ext_id, from_ext, geom, diameter_mm, ST_Length(geom::geography) AS len FROM _in_pipes) p
        WHERE p.ext_id = v.pipe_ext AND (v.geom IS NULL OR v.diameter_mm IS NULL)
    """))


def stage_buildings(conn: Connection, buildings: gpd.GeoDataFrame) -> None:
    """Fill ``_in_buildings`` (``ext_id`` is the source's id, unique in the dataset)."""
    _create(conn, "_in_buildings")
    ids = _unique(buildings, "buildings")
    _copy(conn, "_in_buildings", ("ext_id", "osm_id", "address", "street", "housenumber", "name", "kind", "levels",
                                  "residents", "address_source", "geom"),
          zip(ids, _column(buildings, "osm_id", integer=True), _lines(buildings, "address"),
              _lines(buildings, "street"), _lines(buildings, "housenumber"), _lines(buildings, "name"),
              _column(buildings, "kind", "other"), _column(buildings, "levels", integer=True),
              _column(buildings, "residents", 0, integer=True), _column(buildings, "address_source", "imported"),
              _ewkb(buildings.geometry)))
