"""``python -m network segments|isolate|criticality|locate`` (contract in docs/network.md, semantics in docs/domain.md).

JSON goes to stdout; ``--timings`` writes stage times as JSON to stderr. Every bad input exits 2
with one line on stderr naming the input, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from apps.cli.common import ProgParser, fail, unexpected
from network.criticality import criticality
from network.errors import InputFileError, NetworkError
from network.inp import read_inp_topology
from network.isolation import isolate_each, isolation_index
from network.locate import locate, read_complaints_csv, read_prior
from network.model import with_valve_status
from network.segments import compute_segments
from network.valves_csv import read_valves_csv

__all__ = ["main"]


def _build_parser() -> argparse.ArgumentParser:
    parser = ProgParser(prog="python -m network", description="Valve segments, isolation and criticality.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=ProgParser)
    common = ProgParser(add_help=False)
    common.add_argument("--inp", required=True, help="EPANET .inp file (sources = reservoirs + tanks)")
    common.add_argument("--valves", required=True, help="valve layer CSV: link,node[,id][,status]")
    common.add_argument("--timings", action="store_true", help="stage times as JSON on stderr")
    common.add_argument("--inoperable", action="append", default=[], metavar="VALVE_ID",
                        help="treat this valve as inoperable (repeatable)")
    sub.add_parser("segments", parents=[common], help="segment of every link and node")
    iso = sub.add_parser("isolate", parents=[common], help="shutoff plan per broken pipe")
    iso.add_argument("--pipe", action="append", default=[], metavar="ID", help="broken pipe (repeatable)")
    iso.add_argument("--pipes-file", help="file with one pipe id per line")
    crit = sub.add_parser("criticality", parents=[common], help="segment and valve criticality")
    crit.add_argument("--top", type=int, default=None, help="keep only the N most critical segments/valves")
    crit.add_argument("--rank-by", default="links", help="measure ranking the valves (links|nodes|length_m)")
    loc = sub.add_parser("locate", help="rank the pipes that best explain no-water/low-pressure calls")
    loc.add_argument("--inp", required=True, help="EPANET .inp file")
    loc.add_argument("--complaints", required=True, help="CSV node,report (no_water|low_pressure|ok)")
    loc.add_argument("--valves", default=None, help="optional valve layer CSV: link,node[,id][,status]")
    loc.add_argument("--top", type=int, default=10, help="number of candidate pipes (default 10)")
    loc.add_argument("--method", default="auto", choices=["auto", "hydraulic", "topology"],
                     help="auto: simulate with EPANET when the file allows it, else topology")
    loc.add_argument("--prior", default=None,
                     help="optional break forecast: JSON of `python -m forecast risk` or CSV pipe,expected_breaks")
    loc.add_argument("--timings", action="store_true", help="stage times as JSON on stderr")
    return parser


def _read_pipes_file(path: str) -> list[str]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(f"{path}: cannot read pipes file: {getattr(exc, 'strerror', None) or exc}") from exc
    return [line.strip() for line in text.splitlines() if line.strip()]


def _run(args: argparse.Namespace, timings: dict[str, float]) -> Any:
    t = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal t
        now = time.perf_counter()
        timings[stage] = round(now - t, 6)
        t = now

    if args.command == "locate":
        return _locate(args, lap)
    model = read_inp_topology(args.inp)
    lap("read_inp")
    model = read_valves_csv(args.valves, model)
    model = with_valve_status(model, {v: "inoperable" for v in args.inoperable})
    lap("read_valves")
    if args.command == "segments":
        seg = compute_segments(model)
        lap("segments")
        out = {
            "links": dict(zip(model.link_ids.tolist(), seg.link_segment.tolist())),
            "nodes": dict(zip(model.node_ids.tolist(), seg.node_segment.tolist())),
        }
        return out
    if args.command == "isolate":
        pipes = list(args.pipe) + (_read_pipes_file(args.pipes_file) if args.pipes_file else [])
        if not pipes:
            raise InputFileError("isolate: no pipes given (use --pipe ID or --pipes-file FILE)")
        model.link_indices(pipes)
        index = isolation_index(model)
        lap("index")
        results = isolate_each(index, pipes)
        lap("isolate")
        return [r.to_dict() for r in results]
    if args.top is not None and args.top < 0:
        raise InputFileError(f"--top {args.top}: must be >= 0")
    index = isolation_index(model)
    lap("index")
    crit = criticality(index, rank_by=args.rank_by)
    lap("criticality")
    segs = crit.segments.reset_index().sort_values(["shutoff_links", "segment"], ascending=[False, True])
    valves = crit.valves
    if args.top is not None:
        segs, valves = segs.head(args.top), valves.head(args.top)
    return {"segments": json.loads(segs.to_json(orient="records")),
            "valves": json.loads(valves.to_json(orient="records"))}


def _locate(args: argparse.Namespace, lap: Callable[[str], None]) -> list[dict[str, Any]]:
    """``locate``: the candidate pipes ranked for the calls (``network.locate.locate``)."""
    if args.top < 0:
        raise InputFileError(f"--top {args.top}: must be >= 0")
    model = read_inp_topology(args.inp)
    lap("read_inp")
    if args.valves:
        model = read_valves_csv(args.valves, model)
        lap("read_valves")
    complaints = read_complaints_csv(args.complaints, model)
    lap("read_complaints")
    prior = None
    if getattr(args, "prior", None):
        prior = read_prior(args.prior)
        lap("read_prior")
    out, _method = locate(args.inp, model, complaints, top=args.top, method=args.method, prior=prior, lap=lap)
    return [c.to_dict() for c in out]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (0 ok, 2 bad input)."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    timings: dict[str, float] = {}
    try:
        out = _run(args, timings)
    except NetworkError as exc:
        return fail(exc)
    except Exception as exc:  # noqa: BLE001 - the contract is: one line, never a traceback
        return unexpected(f"process {args.inp} / {getattr(args, 'complaints', None) or args.valves}", exc)
    started = time.perf_counter()
    json.dump(out, sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")
    timings["write"] = round(time.perf_counter() - started, 6)
    if args.timings:
        sys.stderr.write(json.dumps(timings) + "\n")
    return 0
