"""``python -m data``: load the demo city, import a utility's data.

    python -m data load-demo [--seed N] [--if-missing]      (refused when ZHKH_ENV=production)
    python -m data import FILE [options]     (see ``python -m data import --help``)

A refused command exits 2 with one line on stderr (``error: FILE: the problem``), never a
traceback; ``import --all-problems`` adds every validation problem, one per line, after it.
"""
# (the docstring is the command's --help.) Both commands record an audit event
# (:func:`ops.data.import_recorder`) inside the transaction of the change.
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from tqdm import tqdm

from apps.cli.common import fail
from auth.model import Actor
from data.demo import demo_counts, demo_loaded, load_demo
from data.diff import ImportPreview
from data.errors import ConfirmationNeeded, DataError, RefusedInProduction, ValidationFailed
from data.gis_read import KINDS
from data.importers import RESOURCES, import_prepared, preview_prepared, read_file
from gis.db import get_engine
from gis.errors import DatabaseUnavailable
from ops.audit import cli_actor
from ops.data import import_recorder
from settings import get_settings


class TqdmProgress:
    """``progress(stage, fraction)`` as one tqdm bar per stage (silent when stderr is not a
    terminal; each bar clears itself, so a refusal leaves only its error line)."""

    def __init__(self) -> None:
        self.stage: str | None = None
        self.bar: Any = None

    def __call__(self, stage: str, fraction: float) -> None:

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


def audit_recorder(action: str):  # -> Callable[[Connection, ImportReport], None]
    """The ``audit`` callback of a command: ``action`` by ``cli:<os user>`` (:func:`ops.data.import_recorder`)."""
    return import_recorder(Actor.cli(cli_actor()), action)


def _engine(url: str | None) -> Engine:
    try:
        return get_engine(url)
    except DatabaseUnavailable as exc:
        raise DataError(str(exc)) from None


# ---------------------------------------------------------------- import

def _offset(value: str) -> tuple[float, float]:
    try:
        dx, dy = (float(v) for v in value.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected DX,DY (two numbers), got {value!r}") from None
    return dx, dy


def add_import_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:  # type: ignore[type-arg]
    """Register ``python -m data import``."""
    p = sub.add_parser(
        "import", help="import pipes/valves/buildings (GeoPackage, GeoJSON, Shapefile) or an EPANET .inp",
        description="Validate a utility's file and merge it into PostGIS in one transaction. "
                    "See docs/importing.md.",
    )
    p.add_argument("path", type=Path, help=".gpkg, .geojson, .shp, .zip or .inp file")
    p.add_argument("--layer", action="append", metavar="NAME[=KIND]",
                   help="layer to import (repeatable); =KIND names its kind (pipes|valves|buildings|nodes)")
    p.add_argument("--kind", choices=KINDS, help="kind of the selected layers (for files with unclear names)")
    p.add_argument("--network", help="network name (default: the file name); an existing one is updated "
                                     "in place, after --yes")
    p.add_argument("--resource", choices=RESOURCES, default="cold_water")
    p.add_argument("--crs", help="CRS of the coordinates (EPSG:XXXX): required for .inp and for files "
                                 "without a CRS (a Shapefile without .prj); otherwise ignored")
    p.add_argument("--offset", type=_offset, metavar="DX,DY",
                   help=".inp only: add DX,DY (in the --crs units) to every coordinate")
    p.add_argument("--valves", type=Path, metavar="CSV", help=".inp only: shutoff valves, link,node[,id,status]")
    p.add_argument("--dry-run", action="store_true", help="validate, print the changes, write nothing")
    p.add_argument("--yes", action="store_true", help="apply a change to an existing network or dataset")
    p.add_argument("--all-problems", action="store_true",
                   help="on validation problems, list every one (one per line) after the error line")
    p.add_argument("--database-url", help="PostGIS URL (default: DATABASE_URL or the local database)")
    p.set_defaults(func=run_import)
    return p


def _print_diff(preview_tables: dict[str, list[dict[str, Any]]]) -> None:
    for row in preview_tables["changes"]:
        if row["added"] or row["removed"] or row["changed"]:
            samples = "; ".join(f"{k.split()[0]}: {row[k]}" for k in ("added (sample)", "removed (sample)",
                                                                      "changed (sample)") if row[k])
            print(f"  {row['kind']}: +{row['added']} -{row['removed']} ~{row['changed']} "
                  f"(={row['unchanged']})  {samples}")
    for r in preview_tables["reports"]:
        new = f"{r['new']} ({r['distance_m']} m)" if r["new"] else "nothing (link cleared)"
        print(f"  report {r['report']}: {r['link']} {r['old']} goes; re-linked to {new}")
    for o in preview_tables["outages"]:
        what = "; ".join(f"{k} {o[k]}" for k in ("pipes", "valves", "buildings") if o[k])
        print(f"  outage {o['outage']} ({o['state']}): {what}")


def _show(preview: ImportPreview) -> None:
    print(preview.summary())
    _print_diff(preview.tables())


def _dry_run_engine(url: str | None, source: str) -> Engine | None:
    """The database for a dry run's diff; without one (none given and none reachable), counts only."""
    if url is not None:
        return _engine(url)
    try:
        return _engine(None)
    except DataError as exc:
        print(f"warning: {source}: no database ({' '.join(str(exc).split())}); counts only, no diff", file=sys.stderr)
        return None


def run_import(args: argparse.Namespace) -> int:
    """The ``import`` command; DataError propagates to :func:`main` (exit 2)."""
    bar = TqdmProgress()
    try:
        prep = read_file(args.path, kind=args.kind, layer=args.layer, crs=args.crs, offset=args.offset,
                         valves=args.valves, progress=bar)
    finally:
        bar.close()
    for n in prep.notes:
        print(f"note: {n}")
    if args.dry_run:
        engine = _dry_run_engine(args.database_url, prep.source)
        if engine is not None:
            _show(preview_prepared(engine, prep, network=args.network, resource=args.resource))
        _warn(prep.warnings)
        print(import_prepared(None, prep, network=args.network, resource=args.resource, dry_run=True).summary())
        return 0
    engine = _engine(args.database_url)
    preview = preview_prepared(engine, prep, network=args.network, resource=args.resource)
    if preview.target_exists and not preview.diff.empty:
        _show(preview)
    if preview.target_exists and not preview.diff.empty and not args.yes:
        what = f'network "{preview.network}"' if preview.network_part_exists \
            else f'building dataset "{preview.dataset}"'
        raise ConfirmationNeeded(f"{prep.source}: {what} exists; pass --yes to apply this change "
                                 f"({preview.diff.summary()})")
    bar = TqdmProgress()
    try:
        report = import_prepared(engine, prep, network=args.network, resource=args.resource, progress=bar,
                                 expected_revision=preview.network_revision, audit=audit_recorder("data.import"))
    finally:
        bar.close()
    _warn(report.warnings)
    print(report.summary())
    return 0


def _warn(warnings: list[str]) -> None:
    """Warnings go to stderr once the command has succeeded (a refusal stays one line)."""
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)


# ---------------------------------------------------------------- load-demo

def add_demo_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("load-demo", help="build the Helsinki demo city into the database (not in production)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: settings.demo_seed)")
    p.add_argument("--if-missing", action="store_true", help="do nothing when the demo city is already loaded")
    p.add_argument("--database-url", default=None, help="override DATABASE_URL")
    p.set_defaults(func=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    s = get_settings()
    if s.env == "production":
        raise RefusedInProduction(f'load-demo: refused in production (ZHKH_ENV={s.env}); the demo city would merge '
                                  f'into network "{s.demo_network_name}"')
    engine = _engine(args.database_url)
    if args.if_missing and demo_loaded(engine, s.demo_network_name):
        print(f"demo city already loaded: {demo_counts(engine, s.demo_network_name)}")
        return 0
    bar = TqdmProgress()
    try:
        counts = load_demo(engine, seed=args.seed if args.seed is not None else s.demo_seed,
                           network_name=s.demo_network_name, progress=bar, audit=audit_recorder("demo.reload"),
                           settings=s)
    finally:
        bar.close()
    print(f"demo city loaded: {counts}")
    return 0


# ---------------------------------------------------------------- the command line

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m data", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    add_demo_parser(sub)
    add_import_parser(sub)
    return parser


def error_message(exc: DataError, source: str | None, *, all_problems: bool = False) -> str:
    """What a refused command says (after ``error:``): it names ``source`` (the file) and the problem."""
    if isinstance(exc, ValidationFailed):
        return exc.one_line(source or "input", hint=not all_problems)
    msg = str(exc)
    if source and not msg.startswith(source) and source not in msg.split(":", 1)[0]:
        msg = f"{source}: {msg}"
    return msg


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except DataError as exc:
        path = getattr(args, "path", None)
        all_problems = bool(getattr(args, "all_problems", False))
        code = fail(error_message(exc, Path(path).name if path else None, all_problems=all_problems))
        if isinstance(exc, ValidationFailed) and all_problems:
            for problem in exc.problems:
                print(problem, file=sys.stderr)
        return code
