"""``python -m reports``: the inspectorate's KPIs and signed PDF map reports; demo organisations.

    python -m reports kpis --from DATE --to DATE [--org ID] [--json]
    python -m reports inspection --from DATE --to DATE [--org ID | --bbox W,S,E,N] --out FILE.pdf
                                 [--lang ru|en] [--author NAME]
    python -m reports monthly --period YYYY-MM --out-dir DIR [--lang ru|en]   (one PDF per organisation; for cron)
    python -m reports demo [--seed N] [--if-missing] [--history-days N]

Dates are days in the region's time zone, both inclusive. Bad input: one line on stderr, exit 2.
"""
from __future__ import annotations

import json
import math
import re
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from apps.cli.common import Parser, run
from apps.demo import reports as demo
from auth.model import Actor
from gis.db import get_engine
from ops import inspection
from ops.audit import cli_actor
from reports.errors import InvalidArea, InvalidPeriod, ReportsError
from reports.kpis import strip_ids
from reports.rules import current


def parse_bbox(value: str) -> tuple[float, float, float, float]:
    parts = value.split(",")
    try:
        w, s, e, n = (float(p) for p in parts)
    except ValueError:
        raise InvalidArea(f"--bbox must be four numbers W,S,E,N, got {value!r}") from None
    if not all(math.isfinite(v) for v in (w, s, e, n)) or not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
        raise InvalidArea(f"--bbox must be W,S,E,N with W < E within ±180 and S < N within ±90, got {value!r}")
    return w, s, e, n


def parse_org(value: str | None) -> int | None:
    if value is None:
        return None
    if not re.fullmatch(r"[0-9]{1,9}", value.strip()):
        raise ReportsError(f"--org must be an organisation id (a whole number), got {value!r}")
    return int(value)


def _text_table(data: dict[str, Any]) -> str:
    def fmt(f: dict[str, Any], pct: bool = False) -> str:
        if f["value"] is None:
            return "—"
        v = f"{f['value'] * 100:.1f}%" if pct else f"{f['value']:.2f}"
        tail = "" if f["status"] == "ok" else " (n<min)"
        return f"{v} [{f['numerator']}/{f['denominator']}]{tail}"

    lines = [f"KPIs {data['from']} – {data['to']} ({data['time_zone']}); min count {data['min_count']}",
             f"{'organisation':34} {'zone':6} {'on time':18} {'median h':14} {'p90 h':14} {'answer 5min':16} "
             f"{'reopened':14} {'repeat/1000':16} {'overdue':8} {'outage h/bldg':14}"]
    for o in data["organisations"]:
        k = o["kpis"]
        lines.append(f"{o['name'][:34]:34} {o['zone'] or '—':6} {fmt(k['on_time'], True):18} "
                     f"{fmt(k['median_close_h']):14} {fmt(k['p90_close_h']):14} {fmt(k['answer_5min'], True):16} "
                     f"{fmt(k['reopened'], True):14} {fmt(k['repeat_per_1000']):16} "
                     f"{k['overdue_open']['numerator']:<8} {fmt(k['outage_excess_h']):14}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="python -m reports", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    k = sub.add_parser("kpis", help="KPIs per organisation for a period")
    k.add_argument("--from", dest="first", required=True)
    k.add_argument("--to", dest="last", required=True)
    k.add_argument("--org", default=None)
    k.add_argument("--json", action="store_true")
    i = sub.add_parser("inspection", help="a signed map report in PDF")
    i.add_argument("--from", dest="first", required=True)
    i.add_argument("--to", dest="last", required=True)
    area = i.add_mutually_exclusive_group()
    area.add_argument("--org", default=None)
    area.add_argument("--bbox", default=None)
    i.add_argument("--out", required=True)
    i.add_argument("--lang", choices=("ru", "en"), default="ru")
    i.add_argument("--author", default=None)
    m = sub.add_parser("monthly", help="one PDF per organisation for a month (for cron)")
    m.add_argument("--period", required=True, help="YYYY-MM (default: none)")
    m.add_argument("--out-dir", required=True)
    m.add_argument("--lang", choices=("ru", "en"), default="ru")
    m.add_argument("--author", default=None)
    d = sub.add_parser("demo", help="demo organisations over the demo city (and a report history)")
    d.add_argument("--seed", type=int, default=42)
    d.add_argument("--if-missing", action="store_true")
    d.add_argument("--history-days", type=int, default=0)
    sub.add_parser("orgs", help="list the organisations")
    args = parser.parse_args(argv)
    actor = Actor.cli(cli_actor())
    return run(lambda: _COMMANDS[args.command](actor, args), ReportsError)


def _kpis(actor: Actor, args: Any) -> int:
    data = inspection.kpis(actor, args.first, args.last, org_id=parse_org(args.org))
    print(json.dumps(strip_ids(data), ensure_ascii=False, indent=1) if args.json else _text_table(data))
    return 0


def _write(path: Path, pdf: bytes) -> None:
    """Write ``pdf`` whole or not at all (a cron job's reader never sees half a file)."""
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(pdf)
    tmp.replace(path)


def _inspection(actor: Actor, args: Any) -> int:
    out = Path(args.out)
    if not out.parent.is_dir():
        raise ReportsError(f"--out: directory {str(out.parent)!r} does not exist")
    pdf = inspection.inspection_pdf(actor, args.first, args.last, org_id=parse_org(args.org),
                                    bbox=parse_bbox(args.bbox) if args.bbox else None, lang=args.lang,
                                    author=args.author or actor.author)
    _write(out, pdf)
    print(f"{out}: {len(pdf)} bytes")
    return 0


def monthly(actor: Actor, first: date, last: date, out_dir: Path, *, lang: str = "ru", author: str = "") -> list[Path]:
    """One PDF per active organisation with buildings, networks or reports (for cron); their paths."""
    out = []
    for o in inspection.organisations(actor):
        pdf = inspection.inspection_pdf(actor, first, last, org_id=o["id"], lang=lang, author=author)
        path = out_dir / f"inspection-{first.strftime('%Y-%m')}-org{o['id']}.pdf"
        _write(path, pdf)
        out.append(path)
    return out


def _monthly(actor: Actor, args: Any) -> int:
    mm = re.fullmatch(r"([0-9]{4})-([0-9]{2})", args.period.strip())
    if not mm or not 1 <= int(mm.group(2)) <= 12:
        raise InvalidPeriod(f"--period must be YYYY-MM, got {args.period!r}")
    first = date(int(mm.group(1)), int(mm.group(2)), 1)
    last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    out_dir = Path(args.out_dir)
    if not out_dir.is_dir():
        raise ReportsError(f"--out-dir {args.out_dir!r} is not a directory")
    for path in monthly(actor, first, last, out_dir, lang=args.lang, author=args.author or actor.author):
        print(path)
    return 0


def _demo(actor: Actor, args: Any) -> int:
    eng = get_engine()
    if args.if_missing and demo.demo_present(eng):
        print("demo organisations already present")
        return 0
    print(demo.create_organisations(eng, current(), seed=args.seed))
    if args.history_days > 0:
        print(demo.create_history(eng, days=args.history_days, seed=args.seed))
    return 0


def _orgs(actor: Actor, args: Any) -> int:
    for o in inspection.organisations(actor):
        print(f"{o['id']:>4}  {o['kind']:18} {o['inn'] or '':12} {o['buildings']:>4} bld  {o['name']}")
    return 0


_COMMANDS = {"kpis": _kpis, "inspection": _inspection, "monthly": _monthly, "demo": _demo, "orgs": _orgs}
