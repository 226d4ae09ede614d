"""Importing a utility's own data: GeoPackage / GeoJSON / Shapefile layers and EPANET .inp models.

Public API (the app's data page calls these)::

    import_file(engine, path, *, kind=None, layer=None, network=None, resource="cold_water",
                crs=None, dry_run=False, progress=None, offset=None, valves=None) -> ImportReport
    validate_file(path, *, kind=None, layer=None, crs=None, offset=None, valves=None) -> list[str]

An import validates everything first and raises :class:`ValidationFailed` with all problems
(nothing written); then writes everything in one transaction. See ``docs/importing.md``.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd
from sqlalchemy import Engine

from data import store
from data.area import area_problem
from data.errors import DataError, ValidationFailed
from data.gis_read import KINDS, read_layers
from data.inp_import import read_inp
from data.topology import build_network
from data.validate import check_layer

Progress = Callable[[str, float], None]
RESOURCES = ("cold_water", "hot_water", "heating", "gas", "sewer")
SNAP_M = 0.5          # pipe ends closer than this share a node
VALVE_END_M = 1.0     # a valve this close to a pipe end sits at that end (else it splits the pipe)
VALVE_MAX_M = 5.0     # a valve farther than this from every pipe is an error


@dataclass
class ImportReport:
    """What an import wrote (or, with ``dry_run``, would write)."""

    source: str
    network: str | None = None
    network_id: int | None = None
    counts: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    dry_run: bool = False

    def summary(self) -> str:
        verb = "would import" if self.dry_run else "imported"
        what = ", ".join(f"{v} {k}" for k, v in self.counts.items()) or "nothing"
        net = f' into network "{self.network}"' if self.network else ""
        return f"{self.source}: {verb} {what}{net}"


@dataclass
class _Prepared:
    """Validated layers in EPSG:4326, ready for ``data.store``."""

    nodes: gpd.GeoDataFrame | None
    pipes: gpd.GeoDataFrame | None
    valves: gpd.GeoDataFrame | None
    buildings: gpd.GeoDataFrame | None
    crs: str | None
    warnings: list[str]
    notes: list[str]


def _noop(stage: str, fraction: float) -> None:
    return None


def _layer_list(layer: str | list[str] | None) -> list[str] | None:
    return [layer] if isinstance(layer, str) else layer


def _prepare(
    path: Path, *, kind: str | None, layer: str | list[str] | None, crs: str | None,
    offset: tuple[float, float] | None, valves: Path | None, progress: Progress,
) -> _Prepared:
    if path.suffix.lower() == ".inp":
        progress("read", 0.0)
        nodes, pipes, vv, warns = read_inp(path, crs=crs, offset=offset or (0.0, 0.0), valves_csv=valves)
        progress("read", 1.0)
        return _Prepared(nodes, pipes, vv, None, crs, warns, [])
    if valves is not None or offset is not None:
        raise DataError("--valves and --offset apply to EPANET .inp files only")
    if kind is not None and kind not in KINDS:
        raise DataError(f"--kind {kind!r}: expected one of {', '.join(KINDS)}")
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
        metric = good_pipes.to_crs("EPSG:4326").estimate_utm_crs()
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
    return _Prepared(out_nodes, out_pipes, out_valves, buildings,
                     ",".join(sorted(source_crs)) or None, warns, notes)


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


def validate_file(
    path: str | Path, *, kind: str | None = None, layer: str | list[str] | None = None, crs: str | None = None,
    offset: tuple[float, float] | None = None, valves: str | Path | None = None,
) -> list[str]:
    """Every problem that would stop importing ``path`` (an unreadable file gives one); [] if none."""
    try:
        _prepare(Path(path), kind=kind, layer=layer, crs=crs, offset=offset,
                 valves=Path(valves) if valves else None, progress=_noop)
    except ValidationFailed as exc:
        return list(exc.problems)
    except DataError as exc:
        return [str(exc)]
    return []


def import_file(
    engine: Engine | None, path: str | Path, *, kind: str | None = None, layer: str | list[str] | None = None,
    network: str | None = None, resource: str = "cold_water", crs: str | None = None, dry_run: bool = False,
    progress: Progress | None = None, offset: tuple[float, float] | None = None,
    valves: str | Path | None = None,
) -> ImportReport:
    """Validate ``path`` and write it in one transaction (``engine`` may be None with ``dry_run``).

    ``network`` (default: the file name without suffix) is replaced if it exists; buildings go to
    the building dataset of the same name and get service connections to this network's pipes.
    ``progress(stage, fraction)`` is called as the load goes (stages: read, validate, nodes, pipes,
    valves, buildings, connections). Raises DataError / ValidationFailed; nothing written then.
    """
    path = Path(path)
    if resource not in RESOURCES:
        raise DataError(f"--resource {resource!r}: expected one of {', '.join(RESOURCES)}")
    progress = progress or _noop
    prep = _prepare(path, kind=kind, layer=layer, crs=crs, offset=offset,
                    valves=Path(valves) if valves else None, progress=progress)
    name = network or path.stem
    report = ImportReport(source=path.name, warnings=prep.warnings, notes=prep.notes, dry_run=dry_run)
    if prep.pipes is not None:
        report.network = name
        report.counts.update(nodes=len(prep.nodes), pipes=len(prep.pipes), valves=len(prep.valves))
    if prep.buildings is not None:
        report.counts["buildings"] = len(prep.buildings)
    if dry_run:
        return report
    if engine is None:
        raise DataError("no database engine given (pass one, or use dry_run)")
    with engine.begin() as conn:
        if prep.pipes is not None:
            report.network_id = store.write_network(
                conn, name=name, resource=resource, nodes=prep.nodes, pipes=prep.pipes,
                valves=prep.valves, source_file=path.name, crs=prep.crs, progress=progress,
            )
        if prep.buildings is not None:
            store.write_buildings(conn, prep.buildings, dataset=name, progress=progress)
            if report.network_id is not None:
                report.counts["service_connections"] = store.connect_buildings(conn, report.network_id)
                progress("connections", 1.0)
    return report


# ---------------------------------------------------------------- command line

class _TqdmProgress:
    """``progress(stage, fraction)`` as one tqdm bar per stage (silent when stderr is not a terminal)."""

    def __init__(self) -> None:
        self.stage: str | None = None
        self.bar = None

    def __call__(self, stage: str, fraction: float) -> None:
        from tqdm import tqdm

        if stage != self.stage:
            self.close()
            self.stage = stage
            self.bar = tqdm(total=100, desc=f"{stage:<11}", unit="%", disable=None, file=sys.stderr, leave=False,
                            bar_format="{desc} {bar} {percentage:3.0f}%")
        if self.bar is not None:
            self.bar.n = int(round(min(max(fraction, 0.0), 1.0) * 100))
            self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _offset(value: str) -> tuple[float, float]:
    try:
        dx, dy = (float(v) for v in value.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected DX,DY (two numbers), got {value!r}") from None
    return dx, dy


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:  # type: ignore[type-arg]
    """Register ``python -m data import``."""
    p = sub.add_parser(
        "import", help="import pipes/valves/buildings (GeoPackage, GeoJSON, Shapefile) or an EPANET .inp",
        description="Validate a utility's file and load it into PostGIS in one transaction. "
                    "See docs/importing.md.",
    )
    p.add_argument("path", type=Path, help=".gpkg, .geojson, .shp or .inp file")
    p.add_argument("--layer", action="append", metavar="NAME[=KIND]",
                   help="layer to import (repeatable); =KIND names its kind (pipes|valves|buildings|nodes)")
    p.add_argument("--kind", choices=KINDS, help="kind of the selected layers (for files with unclear names)")
    p.add_argument("--network", help="network name (default: the file name); an existing one is replaced")
    p.add_argument("--resource", choices=RESOURCES, default="cold_water")
    p.add_argument("--crs", help="CRS of the coordinates (EPSG:XXXX): required for .inp and for files "
                                 "without a CRS (a Shapefile without .prj); otherwise ignored")
    p.add_argument("--offset", type=_offset, metavar="DX,DY",
                   help=".inp only: add DX,DY (in the --crs units) to every coordinate")
    p.add_argument("--valves", type=Path, metavar="CSV", help=".inp only: shutoff valves, link,node[,id,status]")
    p.add_argument("--dry-run", action="store_true", help="validate and count, write nothing")
    p.add_argument("--all-problems", action="store_true",
                   help="on validation problems, list every one (one per line) after the error line")
    p.add_argument("--database-url", help="PostGIS URL (default: DATABASE_URL or the local database)")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """The ``import`` command; DataError propagates to ``data.__main__`` (exit 2)."""
    engine = None
    if not args.dry_run:
        from gis.db import get_engine
        from gis.errors import DatabaseUnavailable

        try:
            engine = get_engine(args.database_url)
        except DatabaseUnavailable as exc:
            raise DataError(str(exc)) from None
    bar = _TqdmProgress()
    try:
        report = import_file(
            engine, args.path, kind=args.kind, layer=args.layer, network=args.network, resource=args.resource,
            crs=args.crs, dry_run=args.dry_run, progress=bar, offset=args.offset, valves=args.valves,
        )
    finally:
        bar.close()
    for w in report.warnings:
        print(f"warning: {w}", file=sys.stderr)
    for n in report.notes:
        print(f"note: {n}")
    print(report.summary())
    return 0
