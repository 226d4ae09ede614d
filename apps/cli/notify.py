"""``python -m notify``: deliver residents' notices.

    python -m notify worker [--once] [--json]   deliver the outbox over SMTP (ZHKH_SMTP_*), retrying
    python -m notify status [--json]            the outbox: notices by state
"""
from __future__ import annotations

import argparse
import json

from apps.cli.common import Parser, run
from gis.db import get_engine
from notify import outbox
from notify.errors import NotifyError
from notify.rules import rules_from_settings
from notify.worker import Smtp, run_forever, run_once
from settings import get_settings


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="python -m notify", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    worker = sub.add_parser("worker", help="deliver the outbox over SMTP")
    worker.add_argument("--once", action="store_true", help="one round, then exit")
    worker.add_argument("--json", action="store_true")
    status = sub.add_parser("status", help="notices by state")
    status.add_argument("--json", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run(lambda: status(args) if args.command == "status" else worker(args), NotifyError)


def status(args: argparse.Namespace) -> int:
    with get_engine().connect() as conn:
        counts = outbox.counts_by_state(conn)
    print(json.dumps(counts) if args.json else
          ", ".join(f"{k}: {v}" for k, v in counts.items()) or "the outbox is empty")
    return 0


def worker(args: argparse.Namespace) -> int:
    settings = get_settings()
    smtp = Smtp.from_settings(settings)
    rules = rules_from_settings()
    engine = get_engine()
    if args.once:
        r = run_once(engine, smtp, rules, sender=settings.smtp_from, resident_url=settings.resident_url)
        print(json.dumps(r.as_dict()) if args.json else
              f"sent {r.sent}, retry later {r.retried}, failed {r.failed}, dropped {r.dropped}, "
              f"withdrawn {r.withdrawn}")
        return 0
    print(f"notify: delivering to {smtp.host}:{smtp.port} (Ctrl-C stops)", flush=True)
    try:
        run_forever(engine, smtp, rules, sender=settings.smtp_from, resident_url=settings.resident_url,
                    log=lambda m: print(m, flush=True))
    except KeyboardInterrupt:
        return 0
    return 0
