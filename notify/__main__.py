"""``python -m notify``: deliver residents' notices.

    python -m notify worker [--once] [--json]   deliver the outbox over SMTP (ZHKH_SMTP_*), retrying
    python -m notify status [--json]            the outbox: notices by state
"""
from __future__ import annotations

import argparse
import json
import sys

from notify.errors import NotifyError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m notify", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    worker = sub.add_parser("worker", help="deliver the outbox over SMTP")
    worker.add_argument("--once", action="store_true", help="one round, then exit")
    worker.add_argument("--json", action="store_true")
    status = sub.add_parser("status", help="notices by state")
    status.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    try:
        from gis.db import get_engine
        from settings import get_settings

        settings = get_settings()
        if args.command == "status":
            from sqlalchemy import text

            with get_engine().connect() as conn:
                counts = {r[0]: int(r[1]) for r in conn.execute(text(
                    "SELECT state, count(*) FROM notice_outbox GROUP BY state ORDER BY state"))}
            print(json.dumps(counts) if args.json else
                  ", ".join(f"{k}: {v}" for k, v in counts.items()) or "the outbox is empty")
            return 0
        from notify.rules import rules_from_settings
        from notify.worker import Smtp, run_forever, run_once

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
    except NotifyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
