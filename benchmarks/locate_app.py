"""What the control room pays for "suspected burst" on a loaded city (ops.locate.suspected_bursts).

    DATABASE_URL=... .venv/bin/python benchmarks/locate_app.py [--network 1] [--calls 3,10,20] [--repeat 5]

Needs a database with a city loaded (``python -m data load-demo``). For each call count it files that
many open "no water" reports from buildings served by one segment's shutoff (spread over the
buildings the shutoff of a busy pipe cuts off), then times, per refresh of the page:

- ``query``: the calls query alone (baseline: what the page pays when nothing clusters);
- ``cold``: the whole function with the network graph and the result caches empty;
- ``uncached``: graph cached, result not (new calls arrived: locate + the shutoff plan);
- ``cached``: the same calls again (the wall screen's refresh every 10 s).

The reports are deleted afterwards (committed rows: the function reads through its own connections).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--network", type=int, default=None)
    ap.add_argument("--calls", default="3,10,20")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    from gis.db import get_engine
    from ops import locate
    from ops import network as net_ops
    from ops.base import utcnow

    eng = get_engine()
    with eng.connect() as conn:
        net = args.network or conn.execute(text("SELECT id FROM networks ORDER BY id LIMIT 1")).scalar_one()
        n_pipes = conn.execute(text("SELECT count(*) FROM pipes WHERE network_id = :n"), {"n": net}).scalar_one()
        pipes = [str(r[0]) for r in conn.execute(text(
            "SELECT sc.pipe_id FROM service_connections sc WHERE sc.network_id = :n GROUP BY 1 ORDER BY count(*) DESC, 1"),
            {"n": net})]
    idx = net_ops.index(net, bind=eng)
    with eng.connect() as conn:   # the pipe whose shutoff cuts off the most buildings
        plan, p = max(((net_ops.plan_on(conn, idx, net, [q]), q) for q in pipes), key=lambda x: (len(x[0].affected), -int(x[1])))
    buildings = [b["id"] for b in plan.affected]
    print(f"network {net}: {n_pipes} pipes; burst on pipe {p}: {len(buildings)} buildings cut off")
    print(f"{'calls':>5} {'query ms':>9} {'cold ms':>8} {'uncached ms':>11} {'cached ms':>9}  "
          f"{'uncached/query':>14}  top-1 = burst pipe's segment")
    for k in (int(c) for c in args.calls.split(",")):
        chosen = buildings[: k]
        with eng.begin() as conn:
            ids = [conn.execute(text(
                "INSERT INTO incidents (category, resource, service_code, geom, building_id, status) "
                "SELECT 'no_water', 'cold_water', 'no_water', ST_PointOnSurface(geom), id, 'new' FROM buildings "
                "WHERE id = :b RETURNING id"), {"b": b}).scalar_one() for b in chosen]
        try:
            now = utcnow()
            q, cold, unc, hot = [], [], [], []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                locate.open_calls(eng, net, now, locate.WINDOW_H)
                q.append(time.perf_counter() - t0)
                net_ops._indexes.clear()
                locate._results.clear()
                t0 = time.perf_counter()
                locate.suspected_bursts(eng, net, now)
                cold.append(time.perf_counter() - t0)
                locate._results.clear()
                t0 = time.perf_counter()
                found = locate.suspected_bursts(eng, net, now)
                unc.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                locate.suspected_bursts(eng, net, now)
                hot.append(time.perf_counter() - t0)
            med = {n: statistics.median(v) * 1000 for n, v in (("q", q), ("c", cold), ("u", unc), ("h", hot))}
            hit = bool(found) and p in found[0].segment
            print(f"{k:>5} {med['q']:>9.1f} {med['c']:>8.1f} {med['u']:>11.1f} {med['h']:>9.1f}  "
                  f"{med['u'] / med['q']:>13.1f}x  {hit} ({len(found)} cluster(s))")
        finally:
            with eng.begin() as conn:
                conn.execute(text("DELETE FROM incidents WHERE id = ANY(:ids)"), {"ids": ids})


if __name__ == "__main__":
    main()
