"""The pure derivation: parts of a network cut at valves and meters, and the demo's zoning of a grid."""
from __future__ import annotations

from collections import defaultdict

from dma.derive import areas, plan_zones
from network.model import network_from_arrays


def test_areas_cut_only_the_named_incidences() -> None:
    pipes = [("a", "1", "2"), ("b", "2", "3"), ("c", "3", "4"), ("d", "2", "4")]
    assert areas(pipes, []) == [{"a", "b", "c", "d"}]
    # cutting b at node 3 alone leaves b joined through node 2
    assert areas(pipes, [("b", "3")]) == [{"a", "b", "c", "d"}]
    # cutting b at 3 and d at 4: {c} is alone (reached only through node 3 and 4)
    assert areas(pipes, [("b", "3"), ("d", "4")]) == [{"a", "b", "d"}, {"c"}]
    # a pipe cut at both ends is a part of its own
    assert areas(pipes, [("a", "1"), ("a", "2")]) == [{"b", "c", "d"}, {"a"}]


def _grid(n: int):
    """An n × n grid of junctions, a source at one corner, a valve at the start of every pipe (so every
    segment holds a junction, as N−1 valves per junction give)."""
    links, a, b, xy = [], [], [], {}
    for i in range(n):
        for j in range(n):
            xy[f"{i}-{j}"] = (float(i * 100), float(j * 100))
            if i + 1 < n:
                links.append(f"h{i}-{j}")
                a.append(f"{i}-{j}")
                b.append(f"{i + 1}-{j}")
            if j + 1 < n:
                links.append(f"v{i}-{j}")
                a.append(f"{i}-{j}")
                b.append(f"{i}-{j + 1}")
    links.append("src")
    a.append("S")
    b.append("0-0")
    xy["S"] = (-100.0, 0.0)
    vl = list(links)
    vn = list(a)
    model = network_from_arrays(links, a, b, source_ids=["S"], valve_links=vl, valve_nodes=vn,
                                valve_ids=[f"V{k}" for k in range(len(vl))])
    return model, xy, list(zip(links, a, b)), dict(zip([f"V{k}" for k in range(len(vl))], zip(vl, vn)))


def test_plan_zones_splits_a_grid_into_fed_zones_of_comparable_size() -> None:
    model, xy, pipes, valve_at = _grid(8)
    plan = plan_zones(model, xy, 4)
    sizes = sorted(len(z) for z in plan.zones)
    assert len(plan.zones) == 4 and sum(sizes) == len(pipes)
    assert sizes[-1] <= 3 * sizes[0]                          # comparable, not one giant and crumbs
    # cutting at the closed valves and at the inlets gives back exactly the zones
    cuts = [valve_at[v] for v in plan.close] + [(p, n) for _v, p, n, _z in plan.inlets] + \
           [(p, n) for p, n, _z in plan.source_inlets]
    assert sorted(map(sorted, areas(pipes, cuts))) == sorted(map(sorted, plan.zones))
    # every zone is fed: from the source, or through an inlet whose node lies in an already fed zone
    zone_of = {p: k for k, z in enumerate(plan.zones) for p in z}
    node_zones = defaultdict(set)
    for p, s, e in pipes:
        for x in (s, e):
            node_zones[x].add(zone_of[p])
    fed = {z for _p, _n, z in plan.source_inlets}
    changed = True
    while changed:
        changed = False
        for _v, p, n, z in plan.inlets:
            if z not in fed and node_zones[n] & fed:
                fed.add(z)
                changed = True
    assert fed == set(range(4))
    assert len(plan.inlets) == 3                              # one inlet per zone without the source
    again = plan_zones(model, xy, 4)
    assert again.zones == plan.zones and again.close == plan.close   # deterministic
