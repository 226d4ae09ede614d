"""Synthetic city for the benchmarks: a street grid with buildings and a water network, fast.

Generates with numpy/shapely (vectorised, no Python loop per feature) and loads with
psycopg 3 ``COPY ... FROM STDIN`` (text format, hex EWKB geometries) into a scratch database
(default ``zhkh_bench`` on the server of DATABASE_URL / the local one), migrated by
``gis.db.make_engine``. A database that already holds a city of the same parameters is reused,
so ``benchmarks/viewport.py`` can be rerun cheaply.

    .venv/bin/python benchmarks/city.py                       # 100 k buildings, 1 M pipes
    .venv/bin/python benchmarks/city.py --buildings 10000 --pipes 100000 --db zhkh_bench_small

The city: square blocks of ``BLOCK_M`` metres between streets; every 10th street is a trunk
main (400-600 mm), every 3rd a secondary street (200-300 mm), the rest local (100-150 mm).
Each street edge between two crossings is split into pipes of equal length so that the pipe
count is exact. Valves sit on ~40 % of the pipes, 3 m from one end; ~3 % of the interior
nodes are hydrants; a few crossings are sources, tanks and a reservoir.
Buildings (exact count) fill the blocks: rectangles of varied size, 15 % of them small sheds
and garages, addresses on the block's street in Finnish or Russian.
"""
from __future__ import annotations

import argparse
import io
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gis.db import database_url, make_engine  # noqa: E402

LON0, LAT0 = 24.80, 60.15
M_PER_DEG_LAT = 110_574.0
M_PER_DEG_LON = 111_320.0 * math.cos(math.radians(LAT0))
BLOCK_M = 100.0
NETWORK_NAME = "bench city cold water"
GENERATOR_VERSION = 3

FI_ROOTS = [
    "Mäki", "Järvi", "Kivi", "Koivu", "Pähkinä", "Kettu", "Tähti", "Sääksi", "Ylä", "Öljy", "Mänty",
    "Lähde", "Käpy", "Kuusi", "Pöllö", "Sammal", "Hämeen", "Väinö", "Ilmari", "Kalevan", "Ruusu",
    "Satama", "Rauta", "Puisto", "Tehtaan", "Myllyn", "Kirkko", "Koulu", "Aleksanterin", "Töölön",
]
RU_ROOTS = [
    "Ленина", "Пушкина", "Садовая", "Лесная", "Школьная", "Заводская", "Советская", "Мира",
    "Гагарина", "Полевая", "Речная", "Набережная", "Степная", "Южная", "Северная", "Зелёная",
    "Берёзовая", "Озёрная", "Ёлочная", "Молодёжная", "Солнечная", "Вокзальная", "Почтовая",
]
KINDS = np.array(["residential", "school", "kindergarten", "hospital", "commercial", "office", "public",
                  "industrial", "religious", "other"])
KIND_P = np.array([0.80, 0.02, 0.02, 0.004, 0.06, 0.04, 0.016, 0.02, 0.004, 0.016])


@dataclass(frozen=True)
class CityParams:
    buildings: int
    pipes: int
    seed: int = 42

    @property
    def signature(self) -> str:
        return (f"benchmarks/city.py?v={GENERATOR_VERSION}&buildings={self.buildings}"
                f"&pipes={self.pipes}&seed={self.seed}")


def to_lonlat(x_m: np.ndarray, y_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return LON0 + x_m / M_PER_DEG_LON, LAT0 + y_m / M_PER_DEG_LAT


def street_names(n: int, roots: list[str], fmt: str, rounds: list[str]) -> np.ndarray:
    """``n`` distinct names: each root once per round (``fmt`` gets ``root`` and ``round``)."""
    out = []
    for i in range(n):
        root, rnd = roots[i % len(roots)], i // len(roots)
        prefix = rounds[rnd] if rnd < len(rounds) else f"{rnd + 1}. "
        out.append(fmt.format(root=root, round=prefix).strip())
    return np.array(out, dtype=object)


def street_class(idx: np.ndarray) -> np.ndarray:
    """0 = trunk main, 1 = secondary, 2 = local."""
    return np.where(idx % 10 == 0, 0, np.where(idx % 3 == 0, 1, 2))


def _split_exact(total: int, parts: int, minimum: int = 0) -> np.ndarray:
    base, extra = divmod(total, parts)
    out = np.full(parts, base, dtype=np.int64)
    out[:extra] += 1
    return np.maximum(out, minimum)


def generate(p: CityParams) -> dict[str, pd.DataFrame]:
    """All layers as DataFrames ready for COPY (``geom`` = hex EWKB, SRID 4326)."""
    rng = np.random.default_rng(p.seed)
    blocks_side = max(2, math.ceil(math.sqrt(p.buildings / 4)))
    g = blocks_side + 1  # streets per direction
    # crossings, jittered a little so the grid is not perfect
    gx, gy = np.meshgrid(np.arange(g) * BLOCK_M, np.arange(g) * BLOCK_M, indexing="ij")
    cx = (gx + rng.uniform(-4, 4, gx.shape)).ravel()
    cy = (gy + rng.uniform(-4, 4, gy.shape)).ravel()
    cid = lambda i, j: i * g + j  # noqa: E731 - crossing index, i = x index, j = y index

    # edges: horizontal (along x, on street y=j) then vertical (along y, on street x=i)
    hi, hj = np.meshgrid(np.arange(g - 1), np.arange(g), indexing="ij")
    vi, vj = np.meshgrid(np.arange(g), np.arange(g - 1), indexing="ij")
    ea = np.concatenate([cid(hi, hj).ravel(), cid(vi, vj).ravel()])
    eb = np.concatenate([cid(hi + 1, hj).ravel(), cid(vi, vj + 1).ravel()])
    e_horizontal = np.concatenate([np.ones(hi.size, bool), np.zeros(vi.size, bool)])
    e_street_idx = np.concatenate([hj.ravel(), vi.ravel()])
    n_edges = ea.size
    k = _split_exact(p.pipes, n_edges, minimum=1)
    n_pipes = int(k.sum())

    h_names = street_names(g, FI_ROOTS, "{round}{root}katu",
                           ["", "Pikku ", "Iso ", "Vanha ", "Uusi ", "Itä-", "Länsi-", "Etelä-", "Pohjois-"])
    v_names = street_names(g, RU_ROOTS, "{round}улица {root}",
                           ["", "2-я ", "3-я ", "4-я ", "5-я ", "6-я ", "7-я ", "8-я ", "9-я "])
    e_street = np.where(e_horizontal, h_names[e_street_idx], v_names[e_street_idx])
    e_class = street_class(e_street_idx)

    # pipes: segment m of edge e
    pe = np.repeat(np.arange(n_edges), k)
    first = np.concatenate([[0], np.cumsum(k)[:-1]])
    m = np.arange(n_pipes) - np.repeat(first, k)
    kk = k[pe]
    ax, ay, bx, by = cx[ea[pe]], cy[ea[pe]], cx[eb[pe]], cy[eb[pe]]
    t0, t1 = m / kk, (m + 1) / kk
    x0, y0 = ax + (bx - ax) * t0, ay + (by - ay) * t0
    x1, y1 = ax + (bx - ax) * t1, ay + (by - ay) * t1

    # node ids: crossings 1..g*g, interior nodes after them (edge order, m = 1..k-1)
    n_cross = g * g
    interior_per_edge = k - 1
    interior_first = n_cross + 1 + np.concatenate([[0], np.cumsum(interior_per_edge)[:-1]])
    n_interior = int(interior_per_edge.sum())
    from_node = np.where(m == 0, ea[pe] + 1, interior_first[pe] + m - 1)
    to_node = np.where(m == kk - 1, eb[pe] + 1, interior_first[pe] + m)

    # node coordinates
    int_edge = np.repeat(np.arange(n_edges), interior_per_edge)
    int_m = np.arange(n_interior) - np.repeat(interior_first - n_cross - 1, interior_per_edge) + 1
    t = int_m / k[int_edge]
    nx = np.concatenate([cx, cx[ea[int_edge]] + (cx[eb[int_edge]] - cx[ea[int_edge]]) * t])
    ny = np.concatenate([cy, cy[ea[int_edge]] + (cy[eb[int_edge]] - cy[ea[int_edge]]) * t])
    n_nodes = nx.size
    node_kind = np.full(n_nodes, "junction", dtype=object)
    node_kind[n_cross:][rng.random(n_interior) < 0.03] = "hydrant"
    special = [(cid(0, 0), "source"), (cid(g - 1, g - 1), "source"), (cid(0, g - 1), "tank"),
               (cid(g - 1, 0), "tank"), (cid(g // 2, g // 2), "reservoir")]
    for idx, kind in special:
        node_kind[idx] = kind
    lon, lat = to_lonlat(nx, ny)
    nodes = pd.DataFrame({
        "id": np.arange(1, n_nodes + 1), "network_id": 1,
        "ext_id": np.char.add("N", np.arange(1, n_nodes + 1).astype(str)),
        "kind": node_kind, "elevation_m": np.round(rng.uniform(2, 40, n_nodes), 1),
        "geom": _hex_points(lon, lat),
    })

    # pipe attributes by street class
    cls = e_class[pe]
    diam_choices = {0: [400, 500, 600], 1: [200, 250, 300], 2: [100, 110, 150]}
    edge_diam = np.empty(n_edges)
    for c, choices in diam_choices.items():
        sel = e_class == c
        edge_diam[sel] = rng.choice(choices, sel.sum())
    diameter = edge_diam[pe]
    year = np.clip(np.round(rng.normal(1978, 18, n_edges)).astype(int), 1930, 2024)[pe]
    material = np.where(year < 1975, "cast_iron", np.where(year < 1995, "ductile_iron", "PE"))
    material = np.where((cls == 0) & (year < 1995), "steel", material)
    material = np.where((cls == 2) & (year >= 1995) & (rng.random(n_pipes) < 0.3), "PVC", material)
    length_m = np.hypot(x1 - x0, y1 - y0)
    lon0, lat0 = to_lonlat(x0, y0)
    lon1, lat1 = to_lonlat(x1, y1)
    lines = shapely.linestrings(np.stack([np.stack([lon0, lat0], 1), np.stack([lon1, lat1], 1)], 1))
    lines = shapely.set_srid(lines, 4326)
    pipes = pd.DataFrame({
        "id": np.arange(1, n_pipes + 1), "network_id": 1,
        "ext_id": np.char.add("P", np.arange(1, n_pipes + 1).astype(str)),
        "from_node": from_node, "to_node": to_node, "kind": "pipe", "diameter_mm": diameter,
        "material": material, "install_year": year, "length_m": np.round(length_m, 2),
        "street": e_street[pe], "geom": shapely.to_wkb(lines, hex=True, include_srid=True),
    })
    del lines

    # valves on ~40 % of pipes, 3 m from one end
    vp = np.flatnonzero(rng.random(n_pipes) < 0.4)
    at_start = rng.random(vp.size) < 0.5
    frac = np.minimum(3.0 / np.maximum(length_m[vp], 0.1), 0.5)
    f = np.where(at_start, frac, 1 - frac)
    vx, vy = x0[vp] + (x1[vp] - x0[vp]) * f, y0[vp] + (y1[vp] - y0[vp]) * f
    vlon, vlat = to_lonlat(vx, vy)
    r = rng.random(vp.size)
    valves = pd.DataFrame({
        "id": np.arange(1, vp.size + 1), "network_id": 1,
        "ext_id": np.char.add("V", np.arange(1, vp.size + 1).astype(str)),
        "pipe_id": vp + 1, "node_id": np.where(at_start, from_node[vp], to_node[vp]),
        "status": np.where(r < 0.95, "open", np.where(r < 0.99, "closed", "inoperable")),
        "kind": np.where(diameter[vp] >= 300, "butterfly", "gate"), "diameter_mm": diameter[vp],
        "geom": _hex_points(vlon, vlat),
    })

    buildings = _buildings(p.buildings, blocks_side, h_names, v_names, rng)
    return {"nodes": nodes, "pipes": pipes, "valves": valves, "buildings": buildings}


def _hex_points(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    pts = shapely.points(lon, lat)
    pts = shapely.set_srid(pts, 4326)
    return shapely.to_wkb(pts, hex=True, include_srid=True)


def _buildings(n: int, blocks_side: int, h_names: np.ndarray, v_names: np.ndarray,
               rng: np.random.Generator) -> pd.DataFrame:
    n_blocks = blocks_side * blocks_side
    per_block = _split_exact(n, n_blocks)
    rng.shuffle(per_block)
    bi = np.repeat(np.arange(n_blocks), per_block)  # block of each building
    first = np.concatenate([[0], np.cumsum(per_block)[:-1]])
    slot = np.arange(n) - np.repeat(first, per_block)
    cnt = per_block[bi]
    cols = np.ceil(np.sqrt(np.maximum(cnt, 1))).astype(int)
    rows = np.ceil(cnt / cols).astype(int)
    block_x, block_y = (bi // blocks_side), (bi % blocks_side)
    inner = BLOCK_M - 20.0  # 10 m setback from each street
    cw, ch = inner / cols, inner / rows
    col, row = slot % cols, slot // cols
    small = rng.random(n) < 0.15
    w = np.where(small, rng.uniform(4, 8, n), cw * rng.uniform(0.45, 0.9, n))
    h = np.where(small, rng.uniform(4, 8, n), ch * rng.uniform(0.45, 0.9, n))
    ox = block_x * BLOCK_M + 10 + col * cw + (cw - w) / 2
    oy = block_y * BLOCK_M + 10 + row * ch + (ch - h) / 2
    xs = np.stack([ox, ox + w, ox + w, ox, ox], 1)
    ys = np.stack([oy, oy, oy + h, oy + h, oy], 1)
    lon, lat = to_lonlat(xs, ys)
    polys = shapely.polygons(np.stack([lon, lat], 2))
    polys = shapely.set_srid(polys, 4326)
    # addresses on the block's south street (Finnish names) or, every other column of blocks,
    # its west street (Russian names); numbers odd/even by side, unique along a street
    on_west = block_x % 2 == 1
    street = np.where(on_west, v_names[block_x], h_names[block_y])
    stride = 2 * (int(per_block.max()) + 1)
    along = np.where(on_west, block_y, block_x)
    side = np.where(on_west, block_x % 4 == 1, block_y % 2 == 1).astype(int)
    housenumber = (along * stride + slot * 2 + 1 + side).astype(str)
    kind = np.where(small, "other", rng.choice(KINDS, n, p=KIND_P))
    levels = np.where(small, 1, rng.integers(2, 10, n))
    residents = np.where(kind == "residential", np.round(w * h * levels / 35.0), 0).astype(int)
    address = np.char.add(np.char.add(street.astype(str), " "), housenumber)
    return pd.DataFrame({
        # ext_id: NOT NULL since migration 0005; its default trigger does not fire under the
        # loader's session_replication_role = replica, so the generator sets it
        "id": np.arange(1, n + 1), "ext_id": np.char.add("B", np.arange(1, n + 1).astype(str)),
        "address": address, "street": street, "housenumber": housenumber,
        "kind": kind, "levels": levels, "residents": residents,
        "address_source": np.where(rng.random(n) < 0.7, "osm", "derived"), "dataset": "bench",
        "geom": shapely.to_wkb(polys, hex=True, include_srid=True),
    })


# ------------------------------------------------------------------------------------------ loading


def bench_url(db: str, url: str | None = None) -> str:
    base = make_url(url or database_url())
    return base.set(database=db).render_as_string(hide_password=False)


def existing_signature(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return conn.execute(text("SELECT source_file FROM networks WHERE name = :n"),
                            {"n": NETWORK_NAME}).scalar_one_or_none()


def _copy(cur, table: str, df: pd.DataFrame) -> None:
    buf = io.StringIO()
    df.to_csv(buf, sep="\t", header=False, index=False, na_rep="\\N", lineterminator="\n")
    data = buf.getvalue()
    with cur.copy(f"COPY {table} ({', '.join(df.columns)}) FROM STDIN") as cp:
        step = 1 << 24
        for i in range(0, len(data), step):
            cp.write(data[i : i + step])


def load(engine: Engine, layers: dict[str, pd.DataFrame], params: CityParams, log=print) -> None:
    """Replace the database's content with ``layers`` in one transaction.

    Secondary indexes (GiST and others) are dropped before COPY and rebuilt afterwards (a bulk
    GiST build is several times faster than 1 M inserts into it), and foreign-key triggers are
    skipped for the session (``session_replication_role = replica``, superuser only): the
    generator's ids are consistent by construction.
    """
    raw = engine.raw_connection()
    try:
        pg = raw.driver_connection
        with pg.cursor() as cur:
            cur.execute("SET maintenance_work_mem = '512MB'")
            cur.execute("SET synchronous_commit = off")
            cur.execute("TRUNCATE service_connections, valves, pipes, nodes, networks, buildings "
                        "RESTART IDENTITY CASCADE")
            cur.execute(
                "SELECT indexname, indexdef FROM pg_indexes i WHERE schemaname = 'public' "
                "AND tablename IN ('nodes','pipes','valves','buildings') AND NOT EXISTS ("
                " SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"
            )
            indexes = cur.fetchall()
            for name, _ in indexes:
                cur.execute(f'DROP INDEX "{name}"')
            try:
                cur.execute("SET session_replication_role = replica")
            except Exception:  # not a superuser: FK checks stay on, slower but correct
                pg.rollback()
                raise
            cur.execute("INSERT INTO networks (id, name, resource, source_file) VALUES "
                        "(1, %s, 'cold_water', %s)", (NETWORK_NAME, params.signature))
            for table in ("nodes", "pipes", "valves", "buildings"):
                t0 = time.perf_counter()
                _copy(cur, table, layers[table])
                log(f"  COPY {table:<9} {len(layers[table]):>9,} rows  {time.perf_counter() - t0:6.1f} s")
            cur.execute("SET session_replication_role = DEFAULT")
            for name, ddl in indexes:
                t0 = time.perf_counter()
                cur.execute(ddl)
                log(f"  index {name:<28} {time.perf_counter() - t0:6.1f} s")
            for table in ("networks", "nodes", "pipes", "valves", "buildings"):
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                            f"(SELECT coalesce(max(id), 1) FROM {table}))")
        pg.commit()
        t0 = time.perf_counter()
        pg.autocommit = True
        with pg.cursor() as cur:
            cur.execute("VACUUM ANALYZE nodes, pipes, valves, buildings")
        log(f"  vacuum analyze {time.perf_counter() - t0:6.1f} s")
    finally:
        raw.close()


def ensure_city(params: CityParams, *, db: str = "zhkh_bench", url: str | None = None,
                force: bool = False, log=print) -> Engine:
    """An engine on a database that holds the city of ``params`` (generated only when needed)."""
    engine = make_engine(bench_url(db, url))
    if not force and existing_signature(engine) == params.signature:
        log(f"reusing {db}: {params.signature}")
        return engine
    t0 = time.perf_counter()
    layers = generate(params)
    log(f"generated in {time.perf_counter() - t0:.1f} s: " +
        ", ".join(f"{k} {len(v):,}" for k, v in layers.items()))
    t1 = time.perf_counter()
    load(engine, layers, params, log=log)
    log(f"loaded in {time.perf_counter() - t1:.1f} s (total {time.perf_counter() - t0:.1f} s)")
    return engine


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--buildings", type=int, default=100_000)
    ap.add_argument("--pipes", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--db", default="zhkh_bench", help="scratch database name (created if missing)")
    ap.add_argument("--url", default=None, help="server URL (default: DATABASE_URL / the local server)")
    ap.add_argument("--force", action="store_true", help="regenerate even if the database holds this city")
    a = ap.parse_args(argv)
    engine = ensure_city(CityParams(a.buildings, a.pipes, a.seed), db=a.db, url=a.url, force=a.force)
    engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
