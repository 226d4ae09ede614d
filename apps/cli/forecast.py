"""``python -m forecast risk`` (contract in docs/forecast.md).

JSON goes to stdout; ``--info`` writes the model summary and stage times as JSON to stderr. Every
bad input exits 2 with one line on stderr naming the input, never a traceback.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pandas as pd
from sqlalchemy.exc import DataError, IntegrityError, OperationalError

from apps.cli.common import ProgParser, fail, unexpected
from apps.demo.forecast import demo
from auth.model import Actor
from forecast.errors import ForecastError, InputFileError
from forecast.model import as_of_year, fit, predict, prepare_breaks, prepare_pipes
from forecast.store import region_rules
from ops import risk
from ops.audit import cli_actor
from ops.base import engine
from settings import get_settings

__all__ = ["main", "read_csv_table"]


def read_csv_table(path: str | Path, what: str) -> pd.DataFrame:
    """A CSV with a header as a frame of stripped strings (blank lines skipped; every row must have
    as many fields as the header)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh, strict=True))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputFileError(f"{path}: cannot read {what} CSV: {getattr(exc, 'strerror', None) or exc}") from None
    numbered = [(n, r) for n, r in enumerate(rows, start=1) if any(cell.strip() for cell in r)]
    if not numbered:
        raise InputFileError(f"{path}: empty {what} CSV (need a header line)")
    (_, header), body = numbered[0], numbered[1:]
    for lineno, r in numbered:
        if any("\x00" in cell for cell in r):
            raise InputFileError(f"{path}:{lineno}: contains a NUL byte")
    for lineno, r in body:
        if len(r) != len(header):
            raise InputFileError(f"{path}:{lineno}: {len(r)} fields, expected {len(header)} as in the header")
    names = [h.strip() for h in header]
    frame = pd.DataFrame([[c.strip() for c in r] for _, r in body], columns=names, dtype=object)
    if frame.empty:
        frame = pd.DataFrame({n: pd.Series(dtype=object) for n in names})
    frame.attrs["lines"] = [n for n, _ in body]
    return frame


def _build_parser() -> argparse.ArgumentParser:
    parser = ProgParser(prog="python -m forecast", description="Pipe break forecasts.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=ProgParser)
    risk = sub.add_parser("risk", help="expected breaks per pipe within a horizon")
    risk.add_argument("--pipes", required=True, help="CSV with id,material,diameter_mm,install_year,length_m")
    risk.add_argument("--breaks", required=True, help="CSV with pipe,date (YYYY-MM-DD)")
    risk.add_argument("--as-of", required=True, dest="as_of", help="YYYY-MM-DD: breaks after it are ignored")
    risk.add_argument("--horizon-days", dest="horizon_days", default="365", help="horizon in days (> 0), default 365")
    risk.add_argument("--history-start", dest="history_start", default=None,
                      help="YYYY-MM-DD when break records began (default: the first break in the file)")
    risk.add_argument("--rules", default=None, help="forecast rules YAML (default: settings.forecast_rules_file)")
    risk.add_argument("--info", action="store_true", help="model summary and stage times as JSON on stderr")
    demo = sub.add_parser("demo", help="a generated break history for the demo city, then its risk scores")
    demo.add_argument("--if-missing", dest="if_missing", action="store_true",
                      help="do nothing when the demo network already has a generated history")
    demo.add_argument("--seed", type=int, default=None, help="random seed (default: settings.demo_seed)")
    refresh = sub.add_parser("refresh", help="record breaks of burst incidents, recompute pipe_risk from the database")
    refresh.add_argument("--network", type=int, default=None, help="network id (default: every network)")
    refresh.add_argument("--as-of", dest="as_of", default=None, help="YYYY-MM-DD (default: today)")
    refresh.add_argument("--horizon-days", dest="horizon_days", default="365", help="horizon in days, default 365")
    return parser


def _db_command(args: argparse.Namespace) -> int:
    """``demo`` and ``refresh``: one transaction each, JSON summary on stdout."""
    try:
        actor = Actor.cli(cli_actor())
        if args.command == "demo":
            seed = args.seed if args.seed is not None else get_settings().demo_seed
            with engine().begin() as conn:
                out = demo(conn, actor=actor, seed=seed, if_missing=args.if_missing)
        else:
            horizon = _horizon(args.horizon_days)
            if horizon != int(horizon):
                raise InputFileError(f"--horizon-days {args.horizon_days[:40]!r} must be a whole number of days")
            as_of = None
            if args.as_of is not None:
                try:
                    as_of = date.fromisoformat(args.as_of.strip())
                except ValueError:
                    raise InputFileError(f"--as-of {args.as_of[:40]!r} is not a date YYYY-MM-DD") from None
            out = risk.refresh(actor, network_id=args.network, as_of=as_of, horizon_days=int(horizon))
    except ForecastError as exc:
        return fail(exc)
    except (DataError, IntegrityError) as exc:
        return fail(f"the database refused the change: {str(exc.orig).splitlines()[0]}")
    except OperationalError as exc:
        return fail(f"cannot reach the database: {str(exc.orig).splitlines()[0] if exc.orig else exc}")
    json.dump(out, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


def _horizon(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InputFileError(f"--horizon-days {text[:40]!r} is not a number") from None
    if not (math.isfinite(value) and value > 0):
        raise InputFileError(f"--horizon-days {text[:40]!r} must be > 0")
    if value > 365.25 * 100:
        raise InputFileError(f"--horizon-days {text[:40]!r} is more than 100 years")
    return value


def _run(args: argparse.Namespace, info: dict) -> list[dict]:
    started = time.perf_counter()
    horizon = _horizon(args.horizon_days)
    as_of = as_of_year(args.as_of)
    history_start = None
    if args.history_start is not None:
        try:
            history_start = as_of_year(args.history_start)
        except ForecastError as exc:
            raise InputFileError(str(exc).replace("--as-of", "--history-start")) from None
    rules = region_rules(args.rules)
    pipes = read_csv_table(args.pipes, "pipes")
    breaks = read_csv_table(args.breaks, "breaks")
    info["read_s"] = round(time.perf_counter() - started, 4)
    inv = prepare_pipes(pipes, rules, source=str(args.pipes))
    br = prepare_breaks(breaks, inv, source=str(args.breaks), pipes_source=str(args.pipes))
    info["validate_s"] = round(time.perf_counter() - started - info["read_s"], 4)
    fitted = fit(inv, br, as_of, rules=rules, history_start=history_start)
    expected = predict(inv, br, fitted, horizon)
    info.update(model=fitted.kind, note=fitted.note, pipes=inv.n, breaks_used=int((br.t <= as_of).sum()),
                breaks_ignored_after_as_of=int((br.t > as_of).sum()), fit_s=round(fitted.fit_seconds, 4),
                expected_total=round(float(expected.sum()), 4), candidate=fitted.candidate or None,
                backtest=fitted.backtest or None)
    return [{"pipe": pid, "expected_breaks": round(float(e), 6)} for pid, e in zip(inv.ids.tolist(), expected)]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (0 ok, 2 bad input)."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command in ("demo", "refresh"):
        return _db_command(args)
    info: dict = {}
    started = time.perf_counter()
    try:
        out = _run(args, info)
    except ForecastError as exc:
        return fail(exc)
    except Exception as exc:  # noqa: BLE001 - the contract is: one line, never a traceback
        return unexpected(f"forecast from {args.pipes} / {args.breaks}", exc)
    json.dump(out, sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")
    if args.info:
        info["total_s"] = round(time.perf_counter() - started, 4)
        sys.stderr.write(json.dumps(info) + "\n")
    return 0
