"""Tiny hand-built networks and a hypothesis strategy for random ones (tests only)."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from network.model import NetworkModel, network_from_arrays


def net(links: str, valves: str = "", sources: str = "S") -> NetworkModel:
    """``links``: "P1:S-J1 P2:J1-J2"; ``valves``: "V1:P2@J1 V2:P3@J2:closed"; ``sources``: "S S2"."""
    ids, a, b = [], [], []
    for item in links.split():
        lid, ends = item.split(":")
        x, y = ends.split("-")
        ids.append(lid), a.append(x), b.append(y)
    vids, vl, vn, vs = [], [], [], []
    for item in valves.split():
        parts = item.split(":")
        link, node = parts[1].split("@")
        vids.append(parts[0]), vl.append(link), vn.append(node)
        vs.append(parts[2] if len(parts) > 2 else "open")
    return network_from_arrays(ids, a, b, source_ids=sources.split(), valve_links=vl, valve_nodes=vn,
                               valve_ids=vids, valve_statuses=vs, length_m=np.full(len(ids), 10.0))


@st.composite
def random_networks(draw: st.DrawFn, max_nodes: int = 10, max_links: int = 16) -> NetworkModel:
    n = draw(st.integers(2, max_nodes))
    m = draw(st.integers(1, max_links))
    ends = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 2)), min_size=m, max_size=m))
    a = [x for x, _ in ends]
    b = [y if y < x else y + 1 for x, y in ends]  # never a self-loop
    incidences = [(l, a[l]) for l in range(m)] + [(l, b[l]) for l in range(m)]
    chosen = draw(st.lists(st.sampled_from(range(len(incidences))), unique=True, max_size=len(incidences)))
    statuses = draw(st.lists(st.sampled_from(["open", "open", "open", "closed", "inoperable"]),
                             min_size=len(chosen), max_size=len(chosen)))
    sources = draw(st.lists(st.integers(0, n - 1), unique=True, max_size=3))
    return network_from_arrays(
        [f"P{i}" for i in range(m)], [f"J{x}" for x in a], [f"J{y}" for y in b],
        node_ids=[f"J{i}" for i in range(n)], source_ids=[f"J{s}" for s in sources],
        valve_links=[f"P{incidences[c][0]}" for c in chosen], valve_nodes=[f"J{incidences[c][1]}" for c in chosen],
        valve_ids=[f"V{i}" for i in range(len(chosen))], valve_statuses=statuses,
        length_m=np.arange(1, m + 1, dtype=float),
    )
