"""From a utility's file to a validated load: GIS layers (GeoPackage, GeoJSON, Shapefile, a
zipped Shapefile) or an EPANET ``.inp`` model, checked, built into a network and reprojected
to EPSG:4326 per :mod:`data.store`'s contract. Nothing here touches the database.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd

from data.area import area_problem
from data.errors import DataError, ValidationFailed
from data.gis_read import KINDS, read_layers
from data.inp_import import read_inp
from data.merge import Load
from data.topology import build_network
from data.validate import check_layer

Progress = Callable[[str, float], None]
SNAP_M = 0.5          # pipe ends closer than this share a node
VALVE_END_M = 1.0     # a valve this close to a pipe end sits at that end (else it splits the pipe)
VALVE_MAX_M = 5.0     # a valve farther than this from every pipe is an error


@dataclass(frozen=True)
class Prepared:
    """A validated file: its layers in EPSG:4326 (``load``), ready for :mod:`data.merge`."""

    source: str          # the file name
    checksum: str        # SHA-256 of the file's bytes
    load: Load
    crs: str | None      # the source CRS(s)
    warnings: list[str]
    notes: list[str]

    def counts(self) -> dict[str, int]:
        """Rows per kind in the file (after the network build: split pipes, new nodes)."""
        out: dict[str, int] = {}
        if self.load.has_network:
            out.update(nodes=len(self.load.nodes), pipes=len(self.load.pipes),  # type: ignore[arg-type]
                       valves=0 if self.load.valves is None else len(self.load.valves))
        if self.load.buildings is not None:
            out["buildings"] = len(self.load.buildings)
        return out


def file_sha256(path: Path) -> str:
    """SHA-256 of the file's bytes (the same as ``sha256sum``; a .shp's sidecars are not included)."""
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _noop(stage: str, fraction: float) -> None:
    return None


def _layer_list(layer: str | list[str] | None) -> list[str] | None:
    return [layer] if isinstance(layer, str) else layer


def prepare_file(
    path: Path, *, kind: str | None = None, layer: str | list[str] | None = None, crs: str | None = None,
    offset: tuple[float, float] | None = None, valves: Path | None = None, progress: Progress = _noop,
) -> Prepared:
    """Read and validate ``path`` (every problem is collected); raises ValidationFailed or DataError."""
    if not path.exists():
        raise DataError(f"{path}: no such file")
    checksum = file_sha256(path)
    if path.suffix.lower() == ".inp":
        progress("read", 0.0)
        nodes, pipes, vv, warns = read_inp(path, crs=crs, offset=offset or (0.0, 0.0), valves_csv=valves)
        progress("read", 1.0)
        return Prepared(path.name, checksum, Load(nodes, pipes, vv, None), crs, warns, [])
    if valves is not None or offset is not None:
        raise DataError(f"{path.name}: --valves and --offset apply to EPANET .inp files only")
    if kind is not None and kind not in KINDS:
        raise DataError(f"{path.name}: --kind {kind!r}: expected one of {', '.join(KINDS)}")
    layers = read_layers(path, kind=kind, layers=_layer_list(layer), crs=crs)
    problems: list[str] = []
    warns: list[str] = []
    by_kind: dict[str, list[gpd.GeoDataFrame]] = {k: [] for k in KINDS}
    source_crs: set[str] = set()
    unusable: set[str] = set()  # kinds of which a layer has no CRS or lies outside its CRS's area
    for i, lay in enumerate(layers):
        frame, p, w = check_layer(lay)
        problems += p
        warns += lay.warnings + w
        area = None if lay.crs_missing else _area_problem(frame, lay.where)
        if area:
            problems.append(area)
        if lay.crs_missing or area:
            unusable.add(lay.kind)
        else:
            by_kind[lay.kind].append(frame)
            source_crs.add(frame.crs.to_string())
        progress("read", (i + 1) / len(layers))
    merged = {k: _concat(v) for k, v in by_kind.items()}
    for k, frame in merged.items():  # ids repeated across layers of one kind
        if frame is not None and len(by_kind[k]) > 1:
            dup = frame["ext_id"].duplicated(keep="first") & frame["_ok"]
            problems += [f"{w}: duplicate id {e!r} (in another {k} layer)" for e, w in
                         zip(frame.loc[dup, "ext_id"], frame.loc[dup, "_where"])]
    pipes = merged["pipes"]
    out_nodes = out_pipes = out_valves = None
    notes: list[str] = []
    good_pipes = pipes[pipes["_ok"]] if pipes is not None else None
    if merged["valves"] is not None and (pipes is None or not len(pipes)) and "pipes" not in unusable:
        problems.append(f"{path.name}: valves need their pipes in the same import (no pipes layer found)")
    elif good_pipes is not None and len(good_pipes):
        metric = good_pipes.to_crs("EPSG:4326").estimate_utm_crs()  # the area check keeps this on the Earth
        vm = merged["valves"]
        nm = merged["nodes"]
        net = build_network(
            good_pipes.to_crs(metric),
            vm[vm["_ok"]].to_crs(metric) if vm is not None else None,
            nm[nm["_ok"]].to_crs(metric) if nm is not None else None,
            snap_m=SNAP_M, valve_end_m=VALVE_END_M, valve_max_m=VALVE_MAX_M,
        )
        problems += net.problems
        notes = net.notes
        out_nodes, out_pipes, out_valves = (f.to_crs("EPSG:4326") for f in (net.nodes, net.pipes, net.valves))
    progress("validate", 1.0)
    if problems:
        raise ValidationFailed(problems)
    buildings = merged["buildings"]
    if buildings is not None:
        buildings = buildings.to_crs("EPSG:4326").drop(columns=["_where", "_fid", "_ok", "_geom_problem"])
        buildings["address_source"] = "imported"
    load = Load(out_nodes, out_pipes, out_valves, buildings)
    return Prepared(path.name, checksum, load, ",".join(sorted(source_crs)) or None, warns, notes)


def _area_problem(frame: gpd.GeoDataFrame, where: str) -> str | None:
    """A problem when the layer's readable features lie outside its CRS's area of use."""
    good = frame.geometry[frame["_ok"]]
    if not len(good):
        return None
    return area_problem(frame.crs, tuple(float(v) for v in good.total_bounds), where)


def _concat(frames: list[gpd.GeoDataFrame]) -> gpd.GeoDataFrame | None:
    if not frames:
        return None
    if len(frames) == 1:
        return frames[0]
    crs = frames[0].crs
    return gpd.GeoDataFrame(pd.concat([f.to_crs(crs) for f in frames], ignore_index=True), crs=crs)
