"""Benchmark of ``billing run``: a month's charges of the demo city, set-based, against a
query-per-account baseline measured in the same run (on a sample, extrapolated).

Needs a database with the demo city and its accounts (``python -m data load-demo``,
``python -m billing demo``); everything runs in a transaction that is rolled back.

Run: ``DATABASE_URL=... .venv/bin/python benchmarks/billing.py [--period 2026-10] [--sample 300]``
Prints figures only (no assertions).
"""
from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text  # noqa: E402

from billing.charges import compute_period, period_first_day, write_period  # noqa: E402
from billing.rules_setting import rules_path  # noqa: E402
from billing.rule import month_bounds  # noqa: E402
from billing.rules_file import load_billing_rules  # noqa: E402
from billing.tariffs import load_tariffs  # noqa: E402
from gis.db import get_engine  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--period", default="2026-10")
    ap.add_argument("--sample", type=int, default=300)
    args = ap.parse_args()
    rules = load_billing_rules(rules_path())
    book = load_tariffs()
    now = datetime.now(timezone.utc)
    first = period_first_day(args.period, rules)
    start, end = month_bounds(args.period, rules.zone)
    eng = get_engine()
    with eng.connect() as conn:
        tx = conn.begin()
        try:
            t = time.perf_counter()
            result = compute_period(conn, args.period, book, rules, now=now)
            t_compute = time.perf_counter() - t
            t = time.perf_counter()
            write_period(conn, first, result, actor="bench", now=now)
            t_write = time.perf_counter() - t
            n = len({c.account_id for c in result.charges})
            lines = sum(len(c.lines) for c in result.charges)

            # baseline: what one account alone needs read (its account, its flat meters' volumes,
            # its building's meter and outages), one query each, on a sample of accounts
            ids = [r[0] for r in conn.execute(text("SELECT id FROM accounts ORDER BY id LIMIT :n"),
                                              {"n": args.sample})]
            t = time.perf_counter()
            for aid in ids:
                acc = conn.execute(text("SELECT a.*, p.building_id FROM accounts a JOIN premises p ON p.id = "
                                        "a.premises_id WHERE a.id = :a"), {"a": aid}).mappings().one()
                for kind, col, val in (("flat", "premises_id", acc["premises_id"]),
                                       ("building", "building_id", acc["building_id"])):
                    conn.execute(text(f"""
                        SELECT m.id, (SELECT total FROM meter_readings r WHERE r.meter_id = m.id AND r.ts >= :s
                                      AND r.ts < :e ORDER BY ts DESC LIMIT 1)
                             - (SELECT total FROM meter_readings r WHERE r.meter_id = m.id AND r.ts < :s
                                ORDER BY ts DESC LIMIT 1)
                        FROM meters m WHERE m.kind = '{kind}' AND m.{col} = :v"""),
                                 {"s": start, "e": end, "v": val}).all()
                conn.execute(text("SELECT o.id, o.actual_start, o.actual_end FROM outages o JOIN outage_buildings ob "
                                  "ON ob.outage_id = o.id WHERE ob.building_id = :b AND o.actual_start < :e "
                                  "AND (o.actual_end IS NULL OR o.actual_end > :s)"),
                             {"b": acc["building_id"], "s": start, "e": end}).all()
            per_account = (time.perf_counter() - t) / max(1, len(ids))
        finally:
            tx.rollback()
    total = t_compute + t_write
    print(f"period {args.period}: {n} accounts, {len(result.charges)} charges, {lines} lines")
    print(f"set-based: compute {t_compute:.2f} s, write {t_write:.2f} s, total {total:.2f} s "
          f"({1000 * total / max(1, n):.2f} ms per account)")
    print(f"query-per-account baseline, reading only (sample {len(ids)}): {1000 * per_account:.2f} ms per account "
          f"→ {per_account * n:.1f} s for {n} accounts")
    print(f"ratio baseline reading / set-based compute (reading + rules): {per_account * n / t_compute:.1f}×")


if __name__ == "__main__":
    main()
