"""``python -m billing <command>`` (contract in docs/billing.md).

    python -m billing recalc FILE.json [--rules RULES.yaml]

``recalc`` applies the ПП 354 rule to a JSON list of items and prints a JSON list in the same
order. The rules file is ``--rules``, else the setting ``ZHKH_BILLING_RULES_FILE``, else
``billing/rules/default.yaml``. Every bad input exits 2 with one line on stderr naming the
input (the item, by index and id), never a traceback.

New commands: add a sub-parser in :func:`build_parser` and a branch in :func:`_run`.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from billing.errors import BillingError
from billing.run_cli import COMMANDS as RUN_COMMANDS
from billing.run_cli import run_command

__all__ = ["build_parser", "main", "rules_path"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m billing", description="Fee recalculation (ПП 354) for interruptions.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    recalc = sub.add_parser("recalc", help="the pure ПП 354 rule on a JSON list of items",
                            description="Reductions for interruptions: JSON list in, JSON list out (same order).")
    recalc.add_argument("file", metavar="FILE.json", help="JSON list of items ('-' = stdin)")
    recalc.add_argument("--rules", default=None, help="billing rules YAML (default: ZHKH_BILLING_RULES_FILE "
                                                      "or billing/rules/default.yaml)")
    from billing.run_cli import add_parsers

    add_parsers(sub)
    return parser


def rules_path(explicit: str | None = None) -> Path:
    """The rules file to use: ``explicit``, else the setting; a relative path that does not exist
    from the working directory is looked up from the project root."""
    from settings import ROOT, get_settings

    path = Path(explicit) if explicit else Path(get_settings().billing_rules_file)
    if not path.is_absolute() and not path.exists() and (ROOT / path).exists():
        return ROOT / path
    return path


def _recalc(args: argparse.Namespace) -> str:
    from billing.recalc_input import (
        dump_json,
        parse_items,
        read_json_file,
        recalc_items,
    )
    from billing.rules_file import load_billing_rules

    rules = load_billing_rules(rules_path(args.rules))
    raw = read_json_file(args.file)
    items = parse_items(raw, rules, source=args.file)
    return dump_json(recalc_items(items, rules))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (0 ok, 2 bad input or a broken rules file)."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "recalc":
            out = _recalc(args)
        elif args.command in RUN_COMMANDS:
            out = run_command(args)
        else:  # pragma: no cover - argparse rejects unknown commands
            return 2
    except BillingError as exc:
        sys.stderr.write(f"error: {' '.join(str(exc).split())}\n")
        return 2
    except Exception as exc:  # noqa: BLE001 - the contract is: one line, never a traceback
        sys.stderr.write(f"error: cannot process {getattr(args, 'file', '')}: {type(exc).__name__}: "
                         f"{' '.join(str(exc).split())[:300]}\n")
        return 2
    sys.stdout.write(out + "\n")
    return 0
