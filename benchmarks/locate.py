"""Benchmark of ``network locate``: simulated bursts on WNTR's shipped networks.

Run: ``.venv/bin/python benchmarks/locate.py [--nets Net3,ky4,ky10] [--bursts 100] [--seed 7] [--share 0.3]
[--misreport 0] [--unrelated 0] [--ok 0]`` (the defaults are the issue's own setting: a random share of the
affected customers call, nothing else; ``--misreport 0.1 --unrelated 0.2 --ok 3`` adds noisy callers)
Prints figures only (no assertions); targets and the last run are in docs/network.md.

Ground truth per burst (seeded):
- a random pipe is split in the middle (``wntr.morph.split_pipe``) and the new junction gets a
  big orifice leak: an emitter ``Cd·A·sqrt(2g)`` with ``A`` = U(0.3, 1.0) x the pipe's
  cross-section (a full-bore break at 1.0); steady state, pressure-driven demand (full at 20 m),
  solved by EPANET through ``wntr.sim.EpanetSimulator`` (a separate model build from the one
  the locator uses: the leak in the middle of the pipe, a size it does not know);
- customers = junctions with a base demand; *no water* if the burst pressure < 10 m, *low
  pressure* if not and the pressure fell by >= 30 % of its normal value and >= 7 m (the locator's
  own likelihood uses other thresholds: 5 m soft, 25 % soft);
- each affected customer calls with probability ``--share`` (0.3); optional noise: ``--misreport``
  of the callers say the other complaint (no water <-> low pressure); ``--ok`` unaffected customers
  among the 30 nearest to the burst report ``ok``; with probability ``--unrelated`` one unaffected
  customer anywhere reports ``low_pressure`` (an unrelated call). A burst that nobody would call
  about is redrawn (counted as "unnoticed").

Naive baseline: the pipe nearest (in the plane, [COORDINATES]) to the callers' centroid.
"Within 2 pipes" = the top candidate is at most 2 pipes away from the burst (0 = the same pipe,
1 = sharing a node, 2 = one link in between).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scipy.sparse.csgraph import dijkstra  # noqa: E402

from network.inp import read_inp_topology  # noqa: E402
from network.locate import _hop_graph, check_complaints, locate, pipe_distance  # noqa: E402

NO_WATER_M = 10.0
LOW_DROP = 0.30
LOW_DROP_M = 7.0


def _wntr():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import wntr
    return wntr


def library_inp(name: str) -> Path:
    return Path(_wntr().__file__).parent / "library" / "networks" / f"{name}.inp"


def _prepare(wn) -> None:
    wn.options.time.duration = 0
    wn.options.hydraulic.demand_model = "PDD"
    wn.options.hydraulic.required_pressure = 20.0
    wn.options.hydraulic.minimum_pressure = 0.0


def _pressures(wn, tmp: str) -> "dict[str, float]":
    wntr = _wntr()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = wntr.sim.EpanetSimulator(wn).run_sim(file_prefix=tmp)
    return res.node["pressure"].iloc[0].to_dict()


def simulate_burst(path: Path, pipe: str, frac: float, tmp: str) -> dict[str, float]:
    wntr = _wntr()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wn = wntr.network.WaterNetworkModel(str(path))
    _prepare(wn)
    diam = wn.get_link(pipe).diameter
    wn = wntr.morph.split_pipe(wn, pipe, f"{pipe}__b", f"{pipe}__leak")
    wn.get_node(f"{pipe}__leak").emitter_coefficient = 0.75 * frac * np.pi * diam**2 / 4 * np.sqrt(2 * 9.81)
    return _pressures(wn, tmp)


def naive_ranking(coords: dict[str, tuple[float, float]], pipes: list[tuple[str, str, str]],
                  callers: list[str]) -> list[str]:
    """Pipes by plane distance to the callers' centroid, nearest first."""
    c = np.array([coords[n] for n in callers if n in coords]).mean(axis=0)
    dists = []
    for pid, a, b in pipes:
        pa, pb = np.array(coords[a]), np.array(coords[b])
        ab = pb - pa
        t = 0.0 if not ab.any() else float(np.clip((c - pa) @ ab / (ab @ ab), 0, 1))
        dists.append((float(np.linalg.norm(pa + t * ab - c)), pid))
    return [pid for _, pid in sorted(dists)]


def scenarios(name: str, n_bursts: int, seed: int, share: float, misreport: float = 0.0,
              unrelated: float = 0.0, n_ok: int = 0) -> tuple[list[tuple[str, dict[str, str]]], int]:
    """``n_bursts`` noticed bursts as (burst pipe, complaints), and how many were unnoticed."""
    wntr = _wntr()
    path = library_inp(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wn = wntr.network.WaterNetworkModel(str(path))
    pipes = list(wn.pipe_name_list)
    customers = [n for n in wn.junction_name_list if (wn.get_node(n).base_demand or 0) > 0]
    _prepare(wn)
    tmp = tempfile.mkdtemp(prefix="locate-bench-")
    p0 = _pressures(wn, f"{tmp}/base")
    model = read_inp_topology(path)
    hops = _hop_graph(model)
    cust_idx = model.node_indices(customers)
    rng = np.random.default_rng(seed)
    out: list[tuple[str, dict[str, str]]] = []
    unnoticed = 0
    while len(out) < n_bursts:
        pipe = pipes[int(rng.integers(len(pipes)))]
        frac = float(rng.uniform(0.3, 1.0))
        p = simulate_burst(path, pipe, frac, f"{tmp}/b")
        reports: dict[str, str] = {}
        affected = set()
        for n in customers:
            if p[n] < NO_WATER_M:
                kind = "no_water"
            elif p0[n] - p[n] >= max(LOW_DROP_M, LOW_DROP * p0[n]):
                kind = "low_pressure"
            else:
                continue
            affected.add(n)
            if rng.random() < share:
                if rng.random() < misreport:
                    kind = "low_pressure" if kind == "no_water" else "no_water"
                reports[n] = kind
        if not reports:
            unnoticed += 1
            continue
        li = int(model.link_indices([pipe])[0])
        d = dijkstra(hops, unweighted=True, indices=[int(model.link_start[li]), int(model.link_end[li])]).min(axis=0)
        near_ok = [customers[i] for i in np.argsort(d[cust_idx], kind="stable")[:30] if customers[i] not in affected]
        for n in (rng.permutation(near_ok)[:n_ok] if near_ok and n_ok else []):
            reports[str(n)] = "ok"
        if rng.random() < unrelated:
            calm = [n for n in customers if n not in affected and n not in reports]
            if calm:
                reports[calm[int(rng.integers(len(calm)))]] = "low_pressure"
        out.append((pipe, check_complaints(model, reports.items())))
    return out, unnoticed


def run_net(name: str, n_bursts: int, seed: int, share: float, misreport: float = 0.0, unrelated: float = 0.0,
            n_ok: int = 0, cases: list[tuple[str, dict[str, str]]] | None = None, unnoticed: int = 0) -> dict[str, float]:
    wntr = _wntr()
    path = library_inp(name)
    if cases is None:
        cases, unnoticed = scenarios(name, n_bursts, seed, share, misreport, unrelated, n_ok)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wn = wntr.network.WaterNetworkModel(str(path))
    coords = {n: tuple(wn.get_node(n).coordinates) for n in wn.node_name_list}
    pipes = [(p, wn.get_link(p).start_node_name, wn.get_link(p).end_node_name) for p in wn.pipe_name_list]
    model = read_inp_topology(path)
    ranks: list[int] = []
    top1 = top5 = near = n_top1 = n_top5 = n_near = 0
    secs: list[float] = []
    callers_n: list[int] = []
    for pipe, complaints in cases:
        callers_n.append(sum(k != "ok" for k in complaints.values()))
        t = time.perf_counter()
        out, _method = locate(path, model, complaints, top=10)
        secs.append(time.perf_counter() - t)
        ids = [c.pipe for c in out]
        rank = ids.index(pipe) + 1 if pipe in ids else 99
        ranks.append(rank)
        top1 += rank == 1
        top5 += rank <= 5
        near += pipe_distance(model, pipe, [ids[0]])[ids[0]] in (0, 1, 2)
        naive = naive_ranking(coords, pipes, [n for n, k in complaints.items() if k != "ok"])
        n_top1 += naive[0] == pipe
        n_top5 += pipe in naive[:5]
        n_near += pipe_distance(model, pipe, [naive[0]])[naive[0]] in (0, 1, 2)
    k = float(len(cases))
    s = np.array(secs)
    print(f"{name}: {len(pipes)} pipes; {len(cases)} bursts "
          f"({unnoticed} more unnoticed and redrawn), callers per burst median {int(np.median(callers_n))} "
          f"(min {min(callers_n)}, max {max(callers_n)})")
    print(f"  locate: top-1 {top1 / k:.0%}, top-5 {top5 / k:.0%}, top-1 within 2 pipes {near / k:.0%}; "
          f"median rank {int(np.median(ranks))} (99 = not in the top 10)")
    print(f"  naive (pipes nearest the callers' centroid): top-1 {n_top1 / k:.0%}, top-5 {n_top5 / k:.0%}, "
          f"top-1 within 2 pipes {n_near / k:.0%}")
    print(f"  seconds per locate: mean {s.mean():.3f}, max {s.max():.3f}")
    return {"top1": top1 / k, "top5": top5 / k, "near": near / k, "naive_top1": n_top1 / k,
            "naive_top5": n_top5 / k, "naive_near": n_near / k, "mean_s": float(s.mean()),
            "max_s": float(s.max()), "ranks": ranks}


def cli_time(name: str) -> None:
    """One end-to-end ``python -m network locate`` on ``name`` (interpreter start included)."""
    path = library_inp(name)
    model = read_inp_topology(path)
    junctions = [n for n in model.node_ids[~model.is_source].tolist()][:40]
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as fh:
        fh.write("node,report\n" + "".join(f"{n},{'no_water' if i % 2 else 'low_pressure'}\n"
                                           for i, n in enumerate(junctions)))
    t = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "network", "locate", "--inp", str(path), "--complaints",
                          fh.name, "--timings"], cwd=Path(__file__).resolve().parents[1],
                         capture_output=True, text=True)
    print(f"{name}: CLI end to end {time.perf_counter() - t:.2f} s (exit {res.returncode}); "
          f"stages {res.stderr.strip()}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nets", default="Net3,ky4,ky10")
    ap.add_argument("--bursts", type=int, default=100)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--share", type=float, default=0.3, help="share of the affected customers who call")
    ap.add_argument("--misreport", type=float, default=0.0, help="share of callers who give the other complaint")
    ap.add_argument("--unrelated", type=float, default=0.0, help="chance of one unrelated low-pressure call per burst")
    ap.add_argument("--ok", type=int, default=0, help="unaffected customers near the burst who report ok")
    args = ap.parse_args()
    print(f"calls: share {args.share}, misreport {args.misreport}, unrelated {args.unrelated}, ok {args.ok}")
    print("targets: burst pipe in the top 5 in >= 60 % of bursts, top-1 within 2 pipes in >= 80 %, <= 5 s on ky10")
    for i, name in enumerate(args.nets.split(",")):
        run_net(name, args.bursts, args.seed + i, args.share, args.misreport, args.unrelated, args.ok)
    cli_time("ky10")


if __name__ == "__main__":
    main()
