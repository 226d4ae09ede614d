"""Independent, slow reference implementation of docs/domain.md ("Valve isolation") with networkx (tests only)."""

from __future__ import annotations

from collections.abc import Iterable

import networkx as nx

from network.model import CLOSED, INOPERABLE, OPEN, NetworkModel


def _incidence_graph(model: NetworkModel, cut: set[tuple[int, int]]) -> nx.Graph:
    g = nx.Graph()
    g.add_nodes_from(("L", i) for i in range(model.n_links))
    g.add_nodes_from(("N", i) for i in range(model.n_nodes))
    for link in range(model.n_links):
        for node in (int(model.link_start[link]), int(model.link_end[link])):
            if (link, node) not in cut:
                g.add_edge(("L", link), ("N", node))
    return g


def naive_segments(model: NetworkModel) -> dict[tuple[str, int], int]:
    cut = {(int(l), int(n)) for l, n in zip(model.valve_link, model.valve_node)}
    g = _incidence_graph(model, cut)
    seg: dict[tuple[str, int], int] = {}
    for k, comp in enumerate(nx.connected_components(g)):
        for v in comp:
            seg[v] = k
    return seg


def naive_isolate(model: NetworkModel, pipes: Iterable[int], extra_inoperable: Iterable[int] = ()) -> dict[str, set[int]]:
    """Index-form plan: sets of valve / link / node indices."""
    status = [int(s) for s in model.valve_status]
    for v in extra_inoperable:
        status[v] = INOPERABLE
    seg = naive_segments(model)
    valves = [(v, int(model.valve_link[v]), int(model.valve_node[v])) for v in range(model.n_valves)]

    def sides(v: int) -> tuple[int, int]:
        _, l, n = valves[v]
        return seg[("L", l)], seg[("N", n)]

    region = {seg[("L", int(p))] for p in pipes}
    changed = True
    while changed:
        changed = False
        for v in range(len(valves)):
            a, b = sides(v)
            if (a in region) != (b in region) and status[v] == INOPERABLE:
                region |= {a, b}
                changed = True
    candidates = [v for v in range(len(valves)) if (sides(v)[0] in region) != (sides(v)[1] in region)
                  and status[v] == OPEN]
    closed = {(l, n) for v, l, n in valves if status[v] == CLOSED}
    g = _incidence_graph(model, closed)
    sources = [("N", i) for i in range(model.n_nodes) if model.is_source[i]]

    def reach(graph: nx.Graph) -> set[tuple[str, int]]:
        out: set[tuple[str, int]] = set()
        for s in sources:
            if s in graph and s not in out:
                out |= nx.node_connected_component(graph, s)
        return out

    before = reach(g)
    in_r = {v for v in g.nodes if seg[v] in region}
    g.remove_nodes_from(in_r)
    after = reach(g)
    to_close, optional = set(), set()
    for v in candidates:
        _, l, n = valves[v]
        outer = ("N", n) if seg[("L", l)] in region else ("L", l)
        (to_close if outer in after else optional).add(v)
    dead = before - after - in_r
    return {
        "valves_to_close": to_close,
        "optional_valves": optional,
        "isolated_links": {i for k, i in in_r if k == "L"},
        "isolated_nodes": {i for k, i in in_r if k == "N"},
        "unintended_links": {i for k, i in dead if k == "L"},
        "unintended_nodes": {i for k, i in dead if k == "N"},
    }
