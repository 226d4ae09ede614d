"""``python -m billing <command>`` (contract in docs/billing.md).

    python -m billing recalc FILE.json [--rules RULES.yaml]
    python -m billing demo [--if-missing] [--seed N]
    python -m billing demo-code ACCOUNT [--seed N]
    python -m billing demo-month [--if-missing] [--show] [--seed N] [--json]
    python -m billing run --period YYYY-MM [--close] [--json]
    python -m billing close --period YYYY-MM [--json]
    python -m billing outage-report --from YYYY-MM-DD --to YYYY-MM-DD --out FILE.xml [--nsi FILE.json] [--json]
    python -m billing outage-report-result FILE.xml [--json]

``recalc`` applies the ПП 354 rule to a JSON list of items and prints a JSON list in the same
order. The rules file is ``--rules``, else the setting ``ZHKH_BILLING_RULES_FILE``, else
``billing/rules/default.yaml``. Every bad input exits 2 with one line on stderr naming the
input (the item, by index and id), never a traceback.

The money commands act as ``cli:<os user>`` (an admin); each write is audited.

New commands: add a sub-parser in :func:`build_parser` and a function in :data:`_COMMANDS`.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from apps.cli.common import Parser, fail, one_line, run
from apps.demo import billing as demo
from apps.demo import billing_month
from auth.model import Actor
from billing.errors import BillingError
from billing.recalc_input import dump_json, parse_items, read_json_file, recalc_items
from billing.rules_setting import current_rules
from ops import billing as ops_billing
from ops.audit import cli_actor
from settings import get_settings

__all__ = ["build_parser", "main"]


class _Parser(Parser):
    """A usage error: one line prefixed with the program's name (as ``python -m billing`` always said it), exit 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {one_line(message)}\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m billing", description="Fee recalculation (ПП 354) for interruptions.",
                     formatter_class=argparse.HelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    recalc = sub.add_parser("recalc", help="the pure ПП 354 rule on a JSON list of items",
                            description="Reductions for interruptions: JSON list in, JSON list out (same order).",
                            formatter_class=argparse.HelpFormatter)
    recalc.add_argument("file", metavar="FILE.json", help="JSON list of items ('-' = stdin)")
    recalc.add_argument("--rules", default=None, help="billing rules YAML (default: ZHKH_BILLING_RULES_FILE "
                                                      "or billing/rules/default.yaml)")
    _add_money_parsers(sub)
    return parser


def _add_money_parsers(sub: Any) -> None:
    def add(name: str, **kwargs: Any) -> argparse.ArgumentParser:
        return sub.add_parser(name, formatter_class=argparse.HelpFormatter, **kwargs)

    d = add("demo", help="flats, accounts, meters and readings for the loaded demo city")
    d.add_argument("--if-missing", action="store_true", help="do nothing when accounts exist")
    d.add_argument("--seed", type=int, default=None, help="default: the setting demo_seed")
    code = add("demo-code", help="the access code printed on a demo account's bill")
    code.add_argument("account", metavar="ACCOUNT", help="the account number")
    code.add_argument("--seed", type=int, default=None)
    month = add("demo-month", help="outages of the previous month and one now, the month billed "
                                   "and closed (apps.demo.billing_month); prints what to try")
    month.add_argument("--if-missing", action="store_true", help="accepted for symmetry: a rerun never adds twice")
    month.add_argument("--show", action="store_true", help="only print what to try (change nothing)")
    month.add_argument("--seed", type=int, default=None, help="the demo seed of the access code printed")
    month.add_argument("--rules", default=None, help="billing rules YAML (default: ZHKH_BILLING_RULES_FILE)")
    month.add_argument("--json", action="store_true")
    for name, what in (("run", "compute a month's charges for every account (a draft; rerun replaces it)"),
                       ("close", "close a computed month (its charges never change again)")):
        p = add(name, help=what)
        p.add_argument("--period", required=True, metavar="YYYY-MM")
        if name == "run":
            p.add_argument("--close", action="store_true", help="close the month after computing it")
            p.add_argument("--tariffs", default=None, help="tariffs YAML (default: ZHKH_BILLING_TARIFFS_FILE)")
        p.add_argument("--rules", default=None, help="billing rules YAML (default: ZHKH_BILLING_RULES_FILE)")
        p.add_argument("--json", action="store_true")
    rep = add("outage-report", help="what changed among the outages as ГИС ЖКХ importOutageReportRequest "
                                    "XML (≤100 per file), valid against the official schema")
    rep.add_argument("--from", dest="day_from", required=True, metavar="YYYY-MM-DD")
    rep.add_argument("--to", dest="day_to", required=True, metavar="YYYY-MM-DD")
    rep.add_argument("--out", required=True, metavar="FILE.xml")
    rep.add_argument("--rules", default=None)
    rep.add_argument("--nsi", default=None, metavar="FILE.json",
                     help="НСИ 360/361 registry export (default: ZHKH_GIS_NSI_FILE, the demo excerpt)")
    rep.add_argument("--json", action="store_true")
    res = add("outage-report-result", help="record ГИС ЖКХ's getStateResult for sent outage reports "
                                           "(the OutageReportGUIDs it assigned, what it refused)")
    res.add_argument("file", metavar="FILE.xml")
    res.add_argument("--json", action="store_true")


def _actor() -> Actor:
    return Actor.cli(cli_actor())


def _seed(value: int | None) -> int:
    return get_settings().demo_seed if value is None else value


def _recalc(args: argparse.Namespace) -> str:
    rules = current_rules(args.rules)
    items = parse_items(read_json_file(args.file), rules, source=args.file)
    return dump_json(recalc_items(items, rules))


def _demo(args: argparse.Namespace) -> str:
    counts = ops_billing.load_demo(_actor(), demo.load_billing_demo, seed=_seed(args.seed),
                                   if_missing=args.if_missing)
    if "skipped" in counts:
        return "billing demo: accounts exist already, nothing added"
    return "billing demo: " + ", ".join(f"{k} {v}" for k, v in counts.items())


def _demo_code(args: argparse.Namespace) -> str:
    return demo.demo_code(args.account, seed=_seed(args.seed))


def _run(args: argparse.Namespace) -> str:
    out = ops_billing.run_period(_actor(), args.period, close=args.close, tariffs_file=args.tariffs,
                                 rules_file=args.rules)
    return _show(out, args.json, "period {period} ({state}): {charges} charges of {accounts} accounts; "
                 "charged {charged_rub} ₽, reduced {reduction_rub} ₽ ({reduced_charges} charges, outages "
                 "{outages}), corrections {correction_rub} ₽, total {total_rub} ₽")


def _close(args: argparse.Namespace) -> str:
    out = ops_billing.close_period(_actor(), args.period, rules_file=args.rules)
    return _show(out, args.json, "period {period} closed: {charges} charges, total {total_rub} ₽")


def _outage_report(args: argparse.Namespace) -> str:
    out = ops_billing.export_outage_reports(_actor(), day_from=args.day_from, day_to=args.day_to, out=args.out,
                                            rules_file=args.rules, nsi_file=args.nsi)
    _list_for_operator(out)
    return json.dumps(out, ensure_ascii=False) if args.json else _export_text(out)


def _outage_report_result(args: argparse.Namespace) -> str:
    out = ops_billing.record_outage_report_results(_actor(), file=args.file)
    for r in out["refused"]:
        sys.stderr.write(f"note: ГИС ЖКХ refused the {r['operation']} of outage #{r['outage_id']}: {r['error']}"
                         " (the next export sends it again)\n")
    if args.json:
        return json.dumps(out, ensure_ascii=False)
    return (f"{args.file}: {out['accepted']} report(s) accepted, {len(out['refused'])} refused"
            + (f", {out['unknown']} unknown transport GUID(s)" if out["unknown"] else ""))


def _export_text(out: dict[str, Any]) -> str:
    if not out["outages_in_range"]:
        return f"no outages from {out['from']} to {out['to']}: no file written"
    if not out["files"]:
        text_ = (f"nothing to send from {out['from']} to {out['to']}: no file written "
                 f"({out['unchanged']} unchanged since the last export)")
    else:
        text_ = (f"{out['reports']} outage report(s) in {len(out['files'])} file(s): {', '.join(out['files'])} "
                 f"(placing {out['placing']}, edit {out['edit']}, annulment {out['annulment']}; "
                 f"unchanged {out['unchanged']}); valid against the official ГИС ЖКХ schema (lxml, xmlschema)")
        if out["demo"]:
            text_ += "; DEMO: placeholder НСИ/house GUIDs, not for submission"
    if out["emergency_not_sent"]:
        text_ += (f"; {len(out['emergency_not_sent'])} emergency outage(s) not sent (the service places only "
                  "OutageKind 1 «Плановый»), listed on stderr")
    if out["awaiting_report_guid"]:
        text_ += (f"; {len(out['awaiting_report_guid'])} changed outage(s) wait for ГИС ЖКХ's OutageReportGUID "
                  "(python -m billing outage-report-result)")
    if out["without_house_guid"]:
        text_ += f"; {out['without_house_guid']} outage(s) left out: no house they cut off has a house GUID"
    return text_


def _list_for_operator(out: dict[str, Any]) -> None:
    for o in out["emergency_not_sent"]:
        sys.stderr.write(f"note: emergency outage #{o['outage_id']} ({o['start']} – {o['end'] or 'open'}, "
                         f"{o['houses']} house(s)) not sent: ГИС ЖКХ places only planned outages "
                         "(НСИ 361 code 1); report it by other means\n")
    for oid in out["awaiting_report_guid"]:
        sys.stderr.write(f"note: outage #{oid} changed but ГИС ЖКХ's OutageReportGUID of its placing is not "
                         "recorded yet: load the service's result (python -m billing outage-report-result FILE.xml)\n")


def _demo_month(args: argparse.Namespace) -> str:
    out: dict[str, Any] = {}
    if not args.show:
        out = billing_month.load_demo_month(rules_file=args.rules)
    g = billing_month.guide(seed=_seed(args.seed))
    if args.json:
        return json.dumps({**out, "guide": g}, ensure_ascii=False, default=str)
    lines = []
    if not args.show:
        if "skipped" in out:
            lines.append(f"billing demo-month: {out['skipped']} (period {out.get('period')}), nothing added")
        else:
            b = out.get("billing") or {}
            lines.append(f"billing demo-month: outages {', '.join(f'{k} #{v}' for k, v in out['outages'].items())}; "
                         f"period {out['period']} {b.get('state')}: charged {b.get('charged_rub')} ₽, "
                         f"reduced {b.get('reduction_rub')} ₽ ({b.get('reduced_charges')} charges)")
    if g is None:
        lines.append("billing demo-month: no demo month yet (python -m billing demo-month)")
    else:
        lines.append(f"  try the residents' page: address {g['address']}"
                     + (" (an outage is active there now)" if g["active"] else ""))
        if g.get("code"):
            lines.append(f"  and the charges of {g['period']}: account {g['account']}, access code {g['code']} "
                         "(demo data)")
    return "\n".join(lines)


def _show(out: dict[str, Any], as_json: bool, template: str) -> str:
    if as_json:
        return json.dumps(out, ensure_ascii=False)
    ids = out.get("outage_ids") or []
    outages = ", ".join(f"#{i}" for i in ids[:20]) + (" …" if len(ids) > 20 else "") if ids else "none"
    return template.format(outages=outages, **out)


_COMMANDS: dict[str, Callable[[argparse.Namespace], str]] = {
    "recalc": _recalc, "demo": _demo, "demo-code": _demo_code, "demo-month": _demo_month, "run": _run,
    "close": _close, "outage-report": _outage_report, "outage-report-result": _outage_report_result,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (0 ok, 2 bad input, a broken rules file or the database down)."""
    args = build_parser().parse_args(argv)

    def body() -> int:
        sys.stdout.write(_COMMANDS[args.command](args) + "\n")
        return 0

    try:
        return run(body, BillingError)
    except Exception as exc:  # noqa: BLE001 - the contract of python -m billing: one line, never a traceback
        return fail(f"cannot process {getattr(args, 'file', '')}: {type(exc).__name__}: {one_line(exc)[:300]}")
