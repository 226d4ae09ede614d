"""Benchmark of the graph engine: segments vs WNTR on Net6, and a synthetic city network.

Run: ``.venv/bin/python benchmarks/network.py [--pipes 1000000] [--queries 500] [--skip-wntr]``
Prints figures only (no assertions); targets are in docs/network.md.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from network import compute_segments, criticality, network_from_arrays, network_from_wntr  # noqa: E402
from network.isolation import IsolationIndex  # noqa: E402


def net6_vs_wntr() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import wntr

        path = Path(wntr.__file__).parent / "library" / "networks" / "Net6.inp"
        wn = wntr.network.WaterNetworkModel(str(path))
        layer = wntr.network.generate_valve_layer(wn, "strategic", 1, seed=7)
        graph = wn.to_graph()
        t = time.perf_counter()
        wntr.metrics.topographic.valve_segments(graph, layer)
        t_wntr = time.perf_counter() - t
    model = network_from_wntr(wn, valve_links=layer["link"].to_numpy(), valve_nodes=layer["node"].to_numpy())
    reps = 50
    t = time.perf_counter()
    for _ in range(reps):
        seg = compute_segments(model)
    t_ours = (time.perf_counter() - t) / reps
    print(f"Net6 ({model.n_links} links, {model.n_valves} valves, {seg.n_segments} segments): "
          f"WNTR valve_segments {t_wntr:.2f} s, ours {t_ours * 1000:.2f} ms, ratio {t_wntr / t_ours:.0f}x")


def synthetic(n_pipes: int, seed: int = 1) -> dict[str, np.ndarray]:
    """Grid-like city: rows of street mains, ~half the cross links (loops), ~10 % dead-end branches;
    N-1 valves per junction (every incidence but one), 1 % closed, 2 % inoperable; 10 sources."""
    rng = np.random.default_rng(seed)
    side = int(np.sqrt(n_pipes / 1.6)) + 1
    n_grid = side * side
    ids = np.arange(n_grid).reshape(side, side)
    h_a, h_b = ids[:, :-1].ravel(), ids[:, 1:].ravel()
    v_a, v_b = ids[:-1, :].ravel(), ids[1:, :].ravel()
    keep_v = (rng.random(v_a.size) < 0.45) | (np.arange(v_a.size) % side == 0)
    a = np.concatenate([h_a, v_a[keep_v]])
    b = np.concatenate([h_b, v_b[keep_v]])
    n_branch = max(n_pipes - a.size, 0)
    attach = rng.integers(0, n_grid, n_branch)
    leaves = n_grid + np.arange(n_branch)
    a, b = np.concatenate([a, attach])[:n_pipes], np.concatenate([b, leaves])[:n_pipes]
    n_nodes = n_grid + n_branch
    # N-1 valves: every (link, node) incidence except one random incidence per node.
    inc_link = np.concatenate([np.arange(a.size), np.arange(a.size)])
    inc_node = np.concatenate([a, b])
    order = np.lexsort((rng.random(inc_node.size), inc_node))
    first = np.ones(order.size, dtype=bool)
    first[1:] = inc_node[order][1:] != inc_node[order][:-1]
    valved = order[~first]
    status = np.array(["open", "closed", "inoperable"], dtype=object)[
        np.digitize(rng.random(valved.size), [0.97, 0.98])]
    # One str object per id; the end-node and valve columns refer to those objects (as a parser
    # that interns ids would) instead of holding 4.5 M more strings.
    links = np.char.add("P", np.arange(a.size).astype(str)).astype(object)
    nodes = np.char.add("J", np.arange(n_nodes).astype(str)).astype(object)
    return {
        "links": links,
        "a": nodes[a],
        "b": nodes[b],
        "nodes": nodes,
        "sources": nodes[rng.choice(n_grid, 10, replace=False)],
        "valve_links": links[inc_link[valved]],
        "valve_nodes": nodes[inc_node[valved]],
        "status": status,
        "length_m": rng.uniform(20, 200, a.size),
        "residents": rng.poisson(15, a.size).astype(float),
    }


def city(n_pipes: int, n_queries: int) -> None:
    t = time.perf_counter()
    data = synthetic(n_pipes)
    t_gen = time.perf_counter() - t
    t = time.perf_counter()
    model = network_from_arrays(data["links"], data["a"], data["b"], node_ids=data["nodes"],
                                source_ids=data["sources"], valve_links=data["valve_links"],
                                valve_nodes=data["valve_nodes"], valve_statuses=data["status"],
                                length_m=data["length_m"])
    t_model = time.perf_counter() - t
    residents = data.pop("residents")
    del data  # the input columns; the model keeps the id strings it needs
    t = time.perf_counter()
    seg = compute_segments(model)
    t_seg = time.perf_counter() - t
    t = time.perf_counter()
    index = IsolationIndex(model, seg)
    t_index = time.perf_counter() - t
    _ = model.link_rank, model.node_rank, model.valve_rank  # sort orders for the id lists, once
    rng = np.random.default_rng(2)
    pipes = model.link_ids[rng.choice(model.n_links, n_queries, replace=False)]
    times, n_unintended = [], 0
    for p in pipes:
        t = time.perf_counter()
        r = index.isolate(p)
        times.append(time.perf_counter() - t)
        n_unintended += bool(r.unintended_links or r.unintended_nodes)
    t = time.perf_counter()
    r = index.isolate(pipes[:1], extra_inoperable=[model.valve_ids[0]])
    t_general = time.perf_counter() - t
    t = time.perf_counter()
    crit = criticality(index, weights={"residents": residents})
    t_crit = time.perf_counter() - t
    ms = np.array(times) * 1000
    print(f"synthetic city: {model.n_links} pipes, {model.n_nodes} nodes, {model.n_valves} valves "
          f"({(model.valve_status == 1).sum()} closed, {(model.valve_status == 2).sum()} inoperable), "
          f"{seg.n_segments} segments, {index.n_areas} break areas")
    print(f"  generate {t_gen:.2f} s, model from string ids {t_model:.2f} s")
    print(f"  segments {t_seg:.2f} s")
    print(f"  isolation index (areas + DFS) {t_index:.2f} s")
    print(f"  isolate x{n_queries} random pipes: p50 {np.percentile(ms, 50):.2f} ms, "
          f"p95 {np.percentile(ms, 95):.2f} ms, max {ms.max():.1f} ms; {n_unintended} with unintended isolation")
    print(f"  isolate with an extra inoperable valve (general path) {t_general * 1000:.0f} ms")
    print(f"  criticality (all segments + {len(crit.valves)} valves) {t_crit:.2f} s")
    print(f"  peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pipes", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--skip-wntr", action="store_true")
    args = parser.parse_args()
    if not args.skip_wntr:
        net6_vs_wntr()
    city(args.pipes, args.queries)


if __name__ == "__main__":
    main()
