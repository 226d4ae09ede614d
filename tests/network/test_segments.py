"""Segments: hand-built cases and agreement with WNTR's valve_segments on its shipped networks."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings

from network import compute_segments, network_from_wntr
from network.model import NetworkModel
from tests.network.naive import naive_segments
from tests.network.nets import net, random_networks

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import wntr

NETWORKS = Path(wntr.__file__).parent / "library" / "networks"
SMALL_LAYERS = [(s, n) for s in ("random", "strategic") for n in (0, 1, 2)]
CASES = [(name, s, n) for name in ("Net1", "Net2", "Net3") for s, n in SMALL_LAYERS] + [
    ("ky4", "random", 1), ("ky10", "strategic", 1), ("Net6", "random", 2)]  # WNTR: ~2 s, ~2 s, ~6 s


def _same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    pairs = set(zip(a.tolist(), b.tolist()))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


def test_line_segments() -> None:
    m = net("P1:S-J1 P2:J1-J2 P3:J2-J3", "V1:P2@J1 V2:P2@J2")
    s = compute_segments(m)
    link = dict(zip(m.link_ids, s.link_segment))
    node = dict(zip(m.node_ids, s.node_segment))
    assert s.n_segments == 3
    assert link["P1"] == node["S"] == node["J1"]
    assert link["P3"] == node["J2"] == node["J3"]
    assert len({link["P1"], link["P2"], link["P3"]}) == 3


def test_valve_round_a_loop_does_not_split() -> None:
    m = net("P1:A-B P2:B-C P3:C-A", "V1:P1@A", sources="A")
    assert compute_segments(m).n_segments == 1


def test_node_with_every_incidence_valved_is_its_own_segment() -> None:
    m = net("P1:A-B P2:B-C", "V1:P1@B V2:P2@B", sources="A")
    s = compute_segments(m)
    b = int(np.flatnonzero(m.node_ids == "B")[0])
    assert (s.node_segment == s.node_segment[b]).sum() == 1
    assert (s.link_segment == s.node_segment[b]).sum() == 0


@settings(max_examples=100, deadline=None)
@given(random_networks())
def test_segments_partition_like_naive(model: NetworkModel) -> None:
    s = compute_segments(model)
    ref = naive_segments(model)
    ours = np.concatenate([s.link_segment, s.node_segment])
    theirs = np.array([ref[("L", i)] for i in range(model.n_links)] + [ref[("N", i)] for i in range(model.n_nodes)])
    assert ours.size == model.n_links + model.n_nodes  # every link and node has exactly one segment
    assert ours.min() >= 0 and ours.max() == s.n_segments - 1
    assert _same_partition(ours, theirs)


@pytest.mark.parametrize(("name", "strategy", "n"), CASES)
def test_segments_match_wntr(name: str, strategy: str, n: int) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wn = wntr.network.WaterNetworkModel(str(NETWORKS / f"{name}.inp"))
        layer = wntr.network.generate_valve_layer(wn, strategy, n, seed=7)
        node_seg, link_seg, _ = wntr.metrics.topographic.valve_segments(wn.to_graph(), layer)
    model = network_from_wntr(wn, valve_links=layer["link"].to_numpy(), valve_nodes=layer["node"].to_numpy())
    s = compute_segments(model)
    theirs = np.concatenate([link_seg[model.link_ids].to_numpy(), node_seg[model.node_ids].to_numpy() + 10**6])
    ours = np.concatenate([s.link_segment, s.node_segment + 10**6])
    # same partition of links and of nodes, and the same link–node grouping
    assert _same_partition(np.concatenate([s.link_segment, s.node_segment]),
                           np.concatenate([link_seg[model.link_ids].to_numpy(), node_seg[model.node_ids].to_numpy()]))
    assert _same_partition(ours, theirs)
    assert s.n_segments == len(set(link_seg.tolist()) | set(node_seg.tolist()))
