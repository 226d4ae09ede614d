"""A billing rerun on a never-analysed database (issue 22, item 4): the month after several closed ones,
with outages recorded late for those closed months (so every closed month is looked at for corrections).

    .venv/bin/python benchmarks/billing_rerun.py [--buildings 200] [--flats 40] [--closed 4]

A scratch database (created, migrated, dropped; the server runs with autovacuum off, so nothing analyses
it but the code under test), ``--buildings`` x ``--flats`` accounts, the default tariffs. Months
2026-06 .. are computed and closed through ``ops.billing.run_period`` (as ``python -m billing run
--period ... --close``), an outage of every building is then recorded in each closed month, and 2026-10
is run twice: the first run and the rerun are timed. Before each timed run the statistics of
``charges`` and ``charge_lines`` are printed (``reltuples`` -1 = never analysed). Then the corrections
query alone, the old one (correlated subquery, as before issue 22) against the new one, with the
statistics the code left and again with them removed (never analysed): times and plan shapes.
"""
from __future__ import annotations

import argparse
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from tests.support import drop_database  # noqa: E402

MONTHS = ["2026-05", "2026-06", "2026-07", "2026-08", "2026-09", "2026-10"]

# billing/charges.py:_corrections before issue 22: a correlated subquery per charge
OLD_SQL = """
    SELECT c.account_id, c.service, c.charged_rub, c.reduction_rub, p.building_id, a.electricity_sources,
           COALESCE((SELECT sum(l.amount_rub) FROM charge_lines l JOIN charges c2 ON c2.id = l.charge_id
                     WHERE c2.account_id = c.account_id AND c2.service = c.service AND c2.period <> :p
                       AND c2.period > c.period AND l.kind = 'correction'
                       AND l.details->>'for_period' = :qp), 0) AS corrected
    FROM charges c JOIN accounts a ON a.id = c.account_id JOIN premises p ON p.id = a.premises_id
    WHERE c.period = :q AND c.charged_rub > 0
"""


def forget_statistics(engine) -> None:  # noqa: ANN001
    """Back to the never-analysed state for charges and charge_lines (this scratch database only)."""
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM pg_statistic WHERE starelid IN ('charges'::regclass, 'charge_lines'::regclass)"))
        conn.execute(text("UPDATE pg_class SET reltuples = -1 WHERE oid IN ('charges'::regclass, "
                          "'charge_lines'::regclass)"))


def compare_queries(engine, closed: list[str], month: str, limit_s: float) -> None:  # noqa: ANN001
    """The old and the new corrections query, timed over all closed months, in the current statistics."""
    from billing.charges import CORRECTIONS_SQL

    for name, sql in (("old (correlated subquery)", OLD_SQL), ("new (grouped join)", CORRECTIONS_SQL)):
        t0 = time.perf_counter()
        plan_nodes: set[str] = set()
        try:
            with engine.begin() as conn:
                conn.execute(text("SELECT set_config('statement_timeout', :t, true)"), {"t": f"{int(limit_s * 1000)}ms"})
                for q in closed:
                    params = {"q": f"{q}-01", "p": f"{month}-01", "qp": q}
                    plan = conn.execute(text("EXPLAIN (FORMAT JSON) " + sql), params).scalar_one()
                    stack = [plan[0]["Plan"]]
                    while stack:
                        node = stack.pop()
                        if node.get("Parent Relationship") == "SubPlan":
                            plan_nodes.add(f"SubPlan over {node.get('Relation Name') or node['Node Type']}")
                        if node.get("Relation Name") == "charge_lines":
                            plan_nodes.add(f"{node['Node Type']} on charge_lines")
                        stack.extend(node.get("Plans", []))
                    conn.execute(text(sql), params).all()
            took = f"{time.perf_counter() - t0:.2f} s"
        except Exception as exc:  # noqa: BLE001 - the statement timeout
            took = f"> {limit_s:g} s (stopped: {type(exc).__name__})"
        print(f"    {name}: {took} for {len(closed)} closed months; {', '.join(sorted(plan_nodes))}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--buildings", type=int, default=200)
    ap.add_argument("--flats", type=int, default=40)
    ap.add_argument("--closed", type=int, default=4, help="closed months before the month rerun (1..5)")
    ap.add_argument("--query-limit-s", type=float, default=600, help="statement timeout of the query comparison")
    args = ap.parse_args()

    from auth.model import Actor
    from gis.db import database_url, make_engine
    from ops.billing import run_period

    url = make_url(database_url()).set(database=f"zhkh_bench_rerun_{uuid.uuid4().hex[:6]}")
    db_url = url.render_as_string(hide_password=False)
    engine = make_engine(db_url)
    actor = Actor.cli("cli:bench")
    closed = MONTHS[-1 - args.closed:-1]
    month = MONTHS[-1]
    now = datetime(2026, 11, 15, tzinfo=UTC)
    try:
        with engine.begin() as conn:
            conn.execute(text("""
                INSERT INTO buildings (address, kind, residents, geom)
                SELECT 'Bench ' || g, 'residential', :flats * 2,
                       ST_Buffer(ST_SetSRID(ST_MakePoint(24.9 + g * 0.0005, 60.17), 4326), 0.0001, 2)
                FROM generate_series(1, :n) g"""), {"n": args.buildings, "flats": args.flats})
            conn.execute(text("""
                INSERT INTO premises (building_id, number, area_m2)
                SELECT b.id, f::text, 40 + f % 30 FROM buildings b, generate_series(1, :flats) f"""),
                         {"flats": args.flats})
            conn.execute(text("""
                INSERT INTO accounts (number, premises_id, holder_name, residents, area_m2, opened_on)
                SELECT lpad(p.id::text, 10, '0'), p.id, 'Bench', 1 + p.id % 4, p.area_m2, '2020-01-01'
                FROM premises p"""))
            net = conn.execute(text("INSERT INTO networks (name, resource) VALUES ('bench cw', 'cold_water') "
                                    "RETURNING id")).scalar_one()
        for m in closed:
            run_period(actor, m, close=True, bind=engine, now=now)
        with engine.begin() as conn:  # outages recorded late: the closed months' reductions change
            for m in closed:
                y, mo = int(m[:4]), int(m[5:])
                start = datetime(y, mo, 10, 8, tzinfo=UTC)
                oid = conn.execute(text("""
                    INSERT INTO outages (network_id, state, kind, reason, planned_start, planned_end, actual_start,
                                         actual_end, created_by, approved_by)
                    VALUES (:n, 'restored', 'emergency', 'bench', :a, :b, :a, :b, 'bench', 'bench') RETURNING id"""),
                    {"n": net, "a": start, "b": start + timedelta(hours=30)}).scalar_one()
                conn.execute(text("INSERT INTO outage_buildings (outage_id, building_id) "
                                  "SELECT :o, id FROM buildings"), {"o": oid})

        def stats() -> str:
            with engine.connect() as conn:
                rows = conn.execute(text("""
                    SELECT c.relname, c.reltuples::bigint, s.last_analyze, s.n_live_tup
                    FROM pg_class c JOIN pg_stat_user_tables s ON s.relid = c.oid
                    WHERE c.relname IN ('charges', 'charge_lines') ORDER BY 1""")).all()
            return "; ".join(f"{r[0]}: {r[3]} rows, reltuples {r[1]}, analysed {'yes' if r[2] else 'never'}"
                             for r in rows)

        n_acc = args.buildings * args.flats
        print(f"billing rerun: {n_acc} accounts, closed {', '.join(closed)}, month {month}, autovacuum "
              f"{engine.connect().execute(text('SHOW autovacuum')).scalar()}")
        for label in ("first run", "rerun"):
            print(f"  before the {label}: {stats()}")
            t0 = time.perf_counter()
            totals = run_period(actor, month, bind=engine, now=now)
            dt = time.perf_counter() - t0
            print(f"  {label} of {month}: {dt:.1f} s; {totals['charges']} charges, corrections "
                  f"{totals['correction_rub']} rub")
        print("  the corrections query alone, old vs new:")
        for state in ("analysed (as the code leaves it now)", "never analysed (statistics removed)"):
            if state.startswith("never"):
                forget_statistics(engine)
            print(f"   {state}: {stats()}")
            compare_queries(engine, closed, month, args.query_limit_s)
        return 0
    finally:
        engine.dispose()
        drop_database(db_url)


if __name__ == "__main__":
    sys.exit(main())
