"""``python -m dma``: district metered areas, their daily water balance and the night-flow alarm.

    python -m dma derive [--network ID] [--json]
    python -m dma draw --name NAME --geojson FILE [--network ID] [--json]
    python -m dma balance --from YYYY-MM-DD --to YYYY-MM-DD [--dma ID] [--json]
    python -m dma check-night [--date YYYY-MM-DD] [--json]
    python -m dma demo [--if-missing] [--seed N]

Days and nights are local days of the region's time zone. Bad input exits 2 with one line on stderr.
"""
from __future__ import annotations

import argparse
import json
from datetime import date
from typing import Any

from sqlalchemy.exc import DataError, IntegrityError

from apps.cli.common import Parser, fail
from apps.demo.dma import demo
from auth.model import Actor
from dma.errors import DmaError
from ops import dma
from ops.audit import cli_actor
from ops.base import engine
from settings import get_settings


def _day(s: str) -> date:
    try:
        if "\x00" in s:
            raise ValueError
        return date.fromisoformat(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {s!r}") from None


def _parser() -> argparse.ArgumentParser:
    p = Parser(prog="python -m dma", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)
    d = sub.add_parser("derive", help="derive DMAs from normally-closed valves and inlet meters")
    d.add_argument("--network", type=int, action="append")
    d.add_argument("--json", action="store_true")
    dr = sub.add_parser("draw", help="a DMA drawn by a planner (a GeoJSON polygon, lon/lat)")
    dr.add_argument("--name", required=True)
    dr.add_argument("--geojson", required=True)
    dr.add_argument("--network", type=int, default=None)
    dr.add_argument("--json", action="store_true")
    b = sub.add_parser("balance", help="inflow, billed, NRW and minimum night flow per DMA and day")
    b.add_argument("--from", dest="since", type=_day, required=True)
    b.add_argument("--to", dest="until", type=_day, required=True)
    b.add_argument("--dma", type=int, action="append")
    b.add_argument("--json", action="store_true")
    c = sub.add_parser("check-night", help="judge a night's minimum flow; raise and clear leak alarms")
    c.add_argument("--date", type=_day, default=None)
    c.add_argument("--json", action="store_true")
    m = sub.add_parser("demo", help="DMAs, meters, 30 days of readings and a leak in the demo city")
    m.add_argument("--if-missing", action="store_true")
    m.add_argument("--seed", type=int, default=None)
    return p


def _fmt(x: Any, nd: int = 1) -> str:
    return "—" if x is None else f"{x:.{nd}f}"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        eng = engine()
        actor = Actor.cli(cli_actor())
        if args.command == "derive":
            out = dma.derive(actor, args.network, bind=eng)
            if args.json:
                print(json.dumps(out, ensure_ascii=False))
            else:
                for d in out:
                    print(f"{d['id']}\t{d['name']}\tnetwork {d['network_id']}\t{d['pipes']} pipes\t"
                          f"{d['inlets']} inlet(s)\t{d['outlets']} outlet(s)")
                print(f"{len(out)} DMA(s)")
            return 0
        if args.command == "draw":
            try:
                with open(args.geojson, encoding="utf-8") as f:
                    raw = f.read()
                if "\x00" in raw:
                    raise DmaError(f"{args.geojson}: contains a NUL byte")
                geo = json.loads(raw)
            except (OSError, UnicodeDecodeError) as e:
                raise DmaError(f"cannot read {args.geojson}: {e.__class__.__name__}") from e
            except json.JSONDecodeError as e:
                raise DmaError(f"{args.geojson} is not JSON: {e.msg} at line {e.lineno}") from e
            out = dma.draw(actor, name=args.name, geojson=geo, network_id=args.network, bind=eng)
            print(json.dumps(out, ensure_ascii=False) if args.json else
                  f"DMA {out['id']} {out['name']!r}: {out['pipes']} pipes, {out['buildings']} buildings, "
                  f"{out['inlets']} inlet(s)")
            return 0
        if args.command == "balance":
            rows = dma.balance(actor, args.since, args.until, dma_ids=args.dma, bind=eng)
            if args.json:
                print(json.dumps([r.as_dict() for r in rows], ensure_ascii=False))
            else:
                print("dma\tday\tinflow_m3\tbilled_m3\tnrw_m3\tnrw_pct\tmnf_m3h")
                for r in rows:
                    print(f"{r.dma}\t{r.day}\t{_fmt(r.inflow_m3)}\t{_fmt(r.billed_m3)}\t{_fmt(r.nrw_m3)}\t"
                          f"{_fmt(r.nrw_pct)}\t{_fmt(r.mnf_m3h, 2)}")
            return 0
        if args.command == "check-night":
            out = dma.check_night(actor, args.date, bind=eng)
            if args.json:
                print(json.dumps(out, ensure_ascii=False, default=str))
            else:
                for r in out:
                    inc = f"\tincident {r['incident_id']}" if r.get("incident_id") else ""
                    print(f"{r['dma']}\t{r['day']}\tMNF {_fmt(r['mnf_m3h'], 2)}\tbaseline {_fmt(r['baseline_m3h'], 2)}\t"
                          f"{r['verdict']}\t{r['action']}{inc}")
            return 0
        if args.command == "demo":
            seed = args.seed if args.seed is not None else get_settings().demo_seed
            with eng.begin() as conn:
                out = demo(conn, actor=actor, seed=seed, if_missing=args.if_missing)
            print(json.dumps(out, ensure_ascii=False))
            return 0
    except (DmaError, ValueError) as exc:
        return fail(str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__)
    except (DataError, IntegrityError) as exc:
        return fail(f"the database refused the change: {str(exc.orig).splitlines()[0]}")
    return 2
