"""EPANET ``.inp`` models (read with WNTR) as the store's nodes / pipes / valves frames.

- Nodes: junctions (kind ``junction``, elevation), reservoirs (``reservoir``, base head as
  elevation), tanks (``tank``). Links: pipes (``pipe``), pumps (``pump``), valves (``control_valve``);
  WNTR holds SI units, so diameters are metres → ``diameter_mm``. Link vertices are kept.
- Coordinates have no CRS in EPANET: ``crs`` is required (no guessing — Net1's 10…90 would pass
  for lon/lat and land at the North Pole). ``offset`` (dx, dy in the CRS's units) moves a model
  drawn in local coordinates (Net3, Net6) to where it belongs before the transformation.
- An .inp has no shutoff valves; ``valves_csv`` (``link,node[,id,status]``, the CSV of
  ``python -m network``) adds them.
"""
from __future__ import annotations

import csv
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import Transformer
from shapely import LineString, Point

from data.area import area_problem, crs_label, span_problem
from data.errors import DataError, ValidationFailed
from data.gis_read import parse_crs
from data.inp_scan import scan_inp
from data.validate import VALVE_STATUS

NODE_KIND = {"Junction": "junction", "Reservoir": "reservoir", "Tank": "tank"}
LINK_KIND = {"Pipe": "pipe", "Pump": "pump"}  # every other link type is a control valve


def read_wntr_model(path: Path):  # -> wntr.network.WaterNetworkModel
    """The WNTR model of ``path``; a DataError naming the file when WNTR cannot read it."""
    if not path.exists():
        raise DataError(f"{path}: no such file")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import wntr  # heavy: loaded only when an EPANET model is read or solved

        try:
            return wntr.network.WaterNetworkModel(str(path))
        except Exception as exc:  # WNTR raises many types (ENSyntaxError, KeyError, ValueError, …)
            msg = str(exc).strip().split("\n")[0][:200] or type(exc).__name__
            raise DataError(f"{path.name}: not a readable EPANET .inp file ({msg})") from None


def read_inp(
    path: Path,
    *,
    crs: str | None,
    offset: tuple[float, float] = (0.0, 0.0),
    valves_csv: Path | None = None,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame, list[str]]:
    """(nodes, pipes, valves, warnings) of an .inp file, in EPSG:4326, per ``data.store``'s contract.

    The raw sections are scanned first (``data.inp_scan``: an empty file, duplicate ids, nodes
    without coordinates); the coordinates (plus ``offset``) must lie in the area of use of
    ``crs`` (``data.area``).
    """
    scan_problems = scan_inp(path)
    if crs is None:
        raise DataError(f"{path.name}: EPANET coordinates carry no CRS; pass --crs "
                        "(e.g. --crs EPSG:3089 for ky10, --crs EPSG:4326 if they are lon/lat)")
    source_crs = parse_crs(crs, path.name)
    if scan_problems:
        raise ValidationFailed(scan_problems)
    wn = read_wntr_model(path)
    to_lonlat = Transformer.from_crs(source_crs, "EPSG:4326", always_xy=True)
    dx, dy = offset

    problems: list[str] = []
    warns: list[str] = []
    names = [str(name) for name, _ in wn.nodes()]
    node_objs = [node for _, node in wn.nodes()]
    xy = np.array([node.coordinates if node.coordinates is not None else (np.nan, np.nan) for node in node_objs],
                  dtype=float).reshape(-1, 2) + (dx, dy)
    with np.errstate(invalid="ignore"):
        lon, lat = to_lonlat.transform(xy[:, 0], xy[:, 1])
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    placed = np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90)
    if not placed.all():
        bad = [f"{n} ({x:g}, {y:g})" for n, (x, y), ok in zip(names, xy, placed) if not ok]
        problems.append(f"{path.name}: {len(bad)} of {len(names)} nodes cannot be placed in {crs_label(source_crs)} "
                        f"(coordinates with the offset: {', '.join(bad[:5])}{', …' if len(bad) > 5 else ''})")
    if placed.any():
        fx, fy = xy[placed, 0], xy[placed, 1]
        bounds = (float(fx.min()), float(fy.min()), float(fx.max()), float(fy.max()))
        hint = " (or is --offset missing?)" if offset == (0.0, 0.0) else " (or --offset?)"
        area = area_problem(source_crs, bounds, path.name) or span_problem(source_crs, bounds, path.name)
        if area:
            problems.append(area + hint)
    if problems:
        raise ValidationFailed(problems)

    nrec: dict[str, list[object]] = {"ext_id": [], "kind": [], "elevation_m": [], "geometry": []}
    xy_of: dict[str, tuple[float, float]] = {}
    for name, node, x, y in zip(names, node_objs, lon, lat):
        kind = NODE_KIND.get(node.node_type, "junction")
        elev = node.base_head if kind == "reservoir" else getattr(node, "elevation", None)
        xy_of[name] = (float(x), float(y))
        nrec["ext_id"].append(name)
        nrec["kind"].append(kind)
        nrec["elevation_m"].append(None if elev is None else float(elev))
        nrec["geometry"].append(Point(float(x), float(y)))

    def lonlat(v: tuple[float, float]) -> tuple[float, float]:
        return to_lonlat.transform(v[0] + dx, v[1] + dy)

    prec: dict[str, list[object]] = {k: [] for k in ("ext_id", "from_node", "to_node", "kind", "diameter_mm",
                                                      "geometry")}
    links: dict[str, tuple[str, str]] = {}
    for name, link in wn.links():
        a, b = link.start_node_name, link.end_node_name
        links[name] = (a, b)
        pts = [xy_of[a], *(lonlat(v) for v in (link.vertices or [])), xy_of[b]]
        diameter = getattr(link, "diameter", None)
        prec["ext_id"].append(str(name))
        prec["from_node"].append(str(a))
        prec["to_node"].append(str(b))
        prec["kind"].append(LINK_KIND.get(link.link_type, "control_valve"))
        prec["diameter_mm"].append(float(diameter) * 1000.0 if diameter and diameter > 0 else None)
        prec["geometry"].append(LineString(pts))

    valves = read_valves_csv(valves_csv, links, problems) if valves_csv else _empty_valves()
    if problems:
        raise ValidationFailed(problems)
    nodes = gpd.GeoDataFrame(nrec, geometry="geometry", crs="EPSG:4326")
    pipes = gpd.GeoDataFrame(prec, geometry="geometry", crs="EPSG:4326")
    return nodes, pipes, valves, warns


def _empty_valves() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"ext_id": [], "pipe": [], "node": [], "status": []}, geometry=[], crs="EPSG:4326")


def read_valves_csv(path: Path, links: dict[str, tuple[str, str]], problems: list[str]) -> gpd.GeoDataFrame:
    """Shutoff valves from ``link,node[,id,status]`` rows; each problem names the CSV and row."""
    if not path.exists():
        raise DataError(f"{path}: no such file")
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path.name}: cannot read the valve CSV ({exc})") from None
    if rows and not {"link", "node"} <= set(rows[0]):
        raise DataError(f"{path.name}: the valve CSV needs the columns link,node (found {', '.join(rows[0])})")
    rec: dict[str, list[object]] = {"ext_id": [], "pipe": [], "node": [], "status": []}
    seen: set[str] = set()
    for i, row in enumerate(rows):
        vid = (row.get("id") or "").strip() or str(i)
        where = f"{path.name}, row {i + 2}, valve {vid}"
        link, node = (row.get("link") or "").strip(), (row.get("node") or "").strip()
        status = VALVE_STATUS.get((row.get("status") or "open").strip().lower())
        if link not in links:
            problems.append(f"{where}: unknown link {link!r}")
            continue
        if node not in links[link]:
            problems.append(f"{where}: node {node!r} is not an end of link {link!r} ({' – '.join(links[link])})")
            continue
        if status is None:
            problems.append(f"{where}: unknown status {row.get('status')!r} (expected open, closed or inoperable)")
            continue
        if vid in seen:
            problems.append(f"{where}: duplicate id {vid!r}")
            continue
        seen.add(vid)
        for k, v in (("ext_id", vid), ("pipe", link), ("node", node), ("status", status)):
            rec[k].append(v)
    return gpd.GeoDataFrame(pd.DataFrame(rec), geometry=[None] * len(rec["ext_id"]), crs="EPSG:4326")
