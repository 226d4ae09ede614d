"""Criticality: known answers on a line, agreement with naive per-break / per-valve plans."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

from network import InvalidNetwork, criticality
from network.isolation import IsolationIndex
from network.model import NetworkModel
from tests.network.naive import naive_isolate
from tests.network.nets import net, random_networks


def test_line_segment_and_valve_costs() -> None:
    m = net("P1:S-J1 P2:J1-J2 P3:J2-J3 P4:J3-J4", "V1:P2@J1 V2:P3@J2 V3:P4@J3")
    c = criticality(m, weights={"residents": np.array([0.0, 10.0, 20.0, 30.0])})
    seg = IsolationIndex(m).segments
    row = c.segments.loc[seg.link_segment[1]]  # P2's segment
    assert row.isolated_links == 1 and row.unintended_links == 2
    assert row.isolated_residents == 10 and row.unintended_residents == 50 and row.shutoff_residents == 60
    assert row.shutoff_length_m == 30.0
    top = c.valves.iloc[0]
    # V1 stuck: a break on P2 now also shuts the source segment (S, P1, J1) — worst case for P2's
    # side is +1 link (P1); for the source side the whole line was cut anyway: 4 links vs 4.
    assert set(c.valves.valve) == {"V1", "V2", "V3"}
    assert top.shutoff_if_inoperable_links == 4
    assert c.valves.extra_links.is_monotonic_decreasing


def test_bad_weights_raise() -> None:
    m = net("P1:S-J1", "")
    with pytest.raises(InvalidNetwork, match="residents"):
        criticality(m, weights={"residents": np.ones(3)})
    with pytest.raises(InvalidNetwork, match="rank_by"):
        criticality(m, rank_by="nope")


def _cost(plan: dict[str, set[int]]) -> tuple[int, int]:
    return (len(plan["isolated_links"]) + len(plan["unintended_links"]),
            len(plan["isolated_nodes"]) + len(plan["unintended_nodes"]))


@settings(max_examples=80, deadline=None)
@given(random_networks(max_nodes=14, max_links=24))
def test_matches_naive_per_segment_and_per_valve(model: NetworkModel) -> None:
    index = IsolationIndex(model)
    c = criticality(index)
    seg = index.segments
    for p in range(model.n_links):
        row = c.segments.loc[seg.link_segment[p]]
        assert (row.shutoff_links, row.shutoff_nodes) == _cost(naive_isolate(model, [p]))
    area_links = index.area_of_segment[seg.link_segment]
    for r in c.valves.itertuples():
        v = int(np.flatnonzero(model.valve_ids == r.valve)[0])
        sides = {index.valve_area_link[v], index.valve_area_node[v]}
        links = np.flatnonzero(np.isin(area_links, list(sides)))
        if links.size == 0:
            continue
        merged = _cost(naive_isolate(model, [int(links[0])], [v]))
        assert (r.shutoff_if_inoperable_links, r.shutoff_if_inoperable_nodes) == merged
