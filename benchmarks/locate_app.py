"""What the control room pays for "suspected burst" on a loaded city (ops.locate.suspected_bursts), and
how well its hydraulic ranking finds simulated bursts.

    DATABASE_URL=... .venv/bin/python benchmarks/locate_app.py [--network 1] [--calls 3,10,20] [--repeat 5]
        [--bursts 20] [--seed 7] [--leak 0.5] [--callers 5] [--method auto|topology] [--callers-by pressure|drop]
        [--draw uniform|risk]

Needs a database with a city loaded (``python -m data load-demo``). For each call count it files that
many open "no water" reports from buildings served by one segment's shutoff (spread over the
buildings the shutoff of a busy pipe cuts off), then times, per refresh of the page:

- ``query``: the calls query alone (baseline: what the page pays when nothing clusters);
- ``cold``: the whole function with the network graph, the hydraulic model and the result caches
  empty (the model built: read, WNTR model, .inp written, baseline solved);
- ``uncached``: graph and model cached (warm), result not (new calls arrived: locate + the shutoff plan);
- ``cached``: the same calls again (the wall screen's refresh every 10 s).

The first cold run of the process also pays for importing WNTR (printed apart). Then, with
``--bursts N`` > 0, N bursts on pipes drawn at random are simulated on the app's own model (an
orifice of ``--leak`` × the pipe's section split between its ends); the ``--callers`` houses with
the lowest pressure call (``--callers-by drop``: the largest fall) ("no water" below 10 m, else "low
pressure" for a drop of a quarter or more), and the panel's ranking is scored: burst pipe in the top 5, top answer within 2 pipes.

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
    ap.add_argument("--bursts", type=int, default=20)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--leak", type=float, default=0.5)
    ap.add_argument("--callers", type=int, default=5)
    ap.add_argument("--method", default="auto", choices=("auto", "topology"))
    ap.add_argument("--draw", default="uniform", choices=("uniform", "risk"),
                    help="burst pipes drawn uniformly, or by the network's stored break forecast")
    ap.add_argument("--callers-by", default="pressure", choices=("pressure", "drop"),
                    help="who calls among the affected: the lowest pressure after the burst, or the largest fall")
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
    t0 = time.perf_counter()
    app = locate.hydraulic_model(eng, net)
    first = time.perf_counter() - t0
    locate._models.clear()
    t0 = time.perf_counter()
    app = locate.hydraulic_model(eng, net)
    again = time.perf_counter() - t0
    print(f"hydraulic model: {'built' if app.model else 'NOT built: ' + str(app.error)}; first build in the process "
          f"{first * 1000:.0f} ms (WNTR import included), then {again * 1000:.0f} ms; "
          f"baseline pressure at the customers min {app.pressure_m[0]:.1f} m, median {app.pressure_m[1]:.1f} m")
    if app.model:
        print(f"  {len(app.model.pipes)} candidate pipes, {len(app.model.demand_m3s)} demand nodes, "
              f"{sum(app.model.demand_m3s.values()) * 1000:.1f} L/s; defaults used: {app.model.assumed}")
    idx = net_ops.index(net, bind=eng)
    with eng.connect() as conn:   # the pipe whose shutoff cuts off the most buildings
        plan, p = max(((net_ops.plan_on(conn, idx, net, [q]), q) for q in pipes), key=lambda x: (len(x[0].affected), -int(x[1])))
    buildings = [b["id"] for b in plan.affected]
    print(f"network {net}: {n_pipes} pipes; burst on pipe {p}: {len(buildings)} buildings cut off")
    print(f"{'calls':>5} {'query ms':>9} {'cold ms':>8} {'uncached ms':>11} {'cached ms':>9}  "
          f"{'uncached/query':>14}  method     top-1 = burst pipe's segment")
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
                locate._models.clear()
                t0 = time.perf_counter()
                locate.suspected_bursts(eng, net, now, method=args.method)
                cold.append(time.perf_counter() - t0)
                locate._results.clear()
                t0 = time.perf_counter()
                found = locate.suspected_bursts(eng, net, now, method=args.method)
                unc.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                locate.suspected_bursts(eng, net, now, method=args.method)
                hot.append(time.perf_counter() - t0)
            med = {n: statistics.median(v) * 1000 for n, v in (("q", q), ("c", cold), ("u", unc), ("h", hot))}
            hit = bool(found) and p in found[0].segment
            how = found[0].method if found else "-"
            print(f"{k:>5} {med['q']:>9.1f} {med['c']:>8.1f} {med['u']:>11.1f} {med['h']:>9.1f}  "
                  f"{med['u'] / med['q']:>13.1f}x  {how:<10} {hit} ({len(found)} cluster(s))")
        finally:
            with eng.begin() as conn:
                conn.execute(text("DELETE FROM incidents WHERE id = ANY(:ids)"), {"ids": ids})
    if args.bursts > 0 and app.model is not None:
        simulated(eng, net, app, args)


def simulated(eng, net: int, app, args) -> None:
    """Bursts simulated on the app's model; the panel's ranking scored (see the module's docstring)."""
    import math
    import random

    from gis import network_repo as repo
    from network.locate import Hydraulics, pipe_distance
    from ops import locate
    from ops.base import utcnow

    with eng.connect() as conn:
        _, _, served = repo.hydraulic_inputs(conn, net)
    if args.draw == "risk":   # bursts where the stored forecast expects them (with replacement)
        with eng.connect() as conn:
            risk = {str(pid): float(v) for pid, v in conn.execute(text(
                "SELECT r.pipe_id, r.expected_breaks FROM pipe_risk r JOIN pipes p ON p.id = r.pipe_id "
                "WHERE p.network_id = :n"), {"n": net})}
        weights = [risk.get(p, 0.0) for p in app.model.pipes]
        if not any(weights):
            raise SystemExit("--draw risk: the network has no stored forecast (python -m forecast refresh)")
        pipes = random.Random(args.seed).choices(app.model.pipes, weights=weights, k=args.bursts)
    else:
        pipes = random.Random(args.seed).sample(app.model.pipes, min(args.bursts, len(app.model.pipes)))
    top5 = near = felt = 0
    secs: list[float] = []
    methods: dict[str, int] = {}
    nodes = sorted(app.model.demand_m3s)
    for pid in pipes:
        with Hydraulics(app.inp_path) as hyd:
            watch = [hyd.node_index(n) for n in nodes]
            p0 = dict(zip(nodes, hyd.pressure_m(watch)))
            _, a, b, d = hyd.link(pid)
            ends = [x for x in (a, b) if hyd.node_type(x) == 0]
            c = hyd.emitter_coefficient(args.leak * math.pi * d * d / 4) / len(ends)
            res = hyd.leak_pressure_m({x: c for x in ends}, watch)
        if res is None:
            continue
        p = dict(zip(nodes, res))
        report = {n: "no_water" if p[n] < 10 else "low_pressure" for n in nodes
                  if p[n] < 10 or p0[n] - p[n] >= 0.25 * p0[n]}
        if args.callers_by == "drop":
            def order(s):
                return (p[s["nodes"][0]] - p0[s["nodes"][0]], s["id"])
        else:
            def order(s):
                return (p[s["nodes"][0]], s["id"])
        callers = sorted((s for s in served if s["nodes"][0] in report), key=order)
        callers = callers[: args.callers]
        if len(callers) < 3:
            continue
        felt += 1
        with eng.begin() as conn:
            ids = [conn.execute(text(
                "INSERT INTO incidents (category, resource, service_code, geom, building_id, status) "
                "SELECT :c, 'cold_water', :c, ST_PointOnSurface(geom), id, 'new' FROM buildings WHERE id = :b "
                "RETURNING id"), {"b": s["id"], "c": report[s["nodes"][0]]}).scalar_one() for s in callers]
        try:
            locate._results.clear()
            t0 = time.perf_counter()
            found = locate.suspected_bursts(eng, net, utcnow(), method=args.method)
            secs.append(time.perf_counter() - t0)
        finally:
            with eng.begin() as conn:
                conn.execute(text("DELETE FROM incidents WHERE id = ANY(:ids)"), {"ids": ids})
        if not found:
            continue
        best = max(found, key=lambda f: len(f.calls))
        methods[best.method] = methods.get(best.method, 0) + 1
        ranked = [c["pipe"] for c in best.candidates]
        top5 += pid in ranked[:5]
        if ranked:
            near += 0 <= pipe_distance(app.model.topology, pid, [ranked[0]])[ranked[0]] <= 2
    if not felt:
        print("simulated bursts: none felt by 3 houses")
        return
    print(f"simulated bursts (leak {args.leak:g} of the section, {args.callers} callers, seed {args.seed}): "
          f"{felt} felt of {len(pipes)}; burst in the top 5 {top5}/{felt} = {100 * top5 / felt:.0f} %, "
          f"top answer within 2 pipes {near}/{felt} = {100 * near / felt:.0f} %; methods {methods}; "
          f"panel (warm model) median {statistics.median(secs) * 1000:.0f} ms, max {max(secs) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
