"""Isolation: hand-built networks with known answers, agreement with the naive reference,
and the invariants of docs/domain.md ("Valve isolation") as property tests."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from network import UnknownPipe, UnknownValve, isolate
from network.isolation import IsolationIndex
from network.model import CLOSED, OPEN, NetworkModel
from tests.network.naive import naive_isolate
from tests.network.nets import net, random_networks

LINE = "P1:S-J1 P2:J1-J2 P3:J2-J3 P4:J3-J4"


def test_line_break_closes_upstream_valve_and_dries_the_tail() -> None:
    m = net(LINE, "V1:P2@J1 V2:P3@J2")
    r = isolate(m, "P2")
    assert r.valves_to_close == ["V1"]
    assert r.optional_valves == ["V2"]
    assert r.isolated_links == ["P2"] and r.isolated_nodes == ["J2"]
    assert r.unintended_links == ["P3", "P4"] and r.unintended_nodes == ["J3", "J4"]


def test_loop_break_needs_both_valves_and_dries_nothing() -> None:
    m = net("P0:S-A P1:A-B P2:B-C P3:C-A", "V1:P1@A V2:P1@B")
    r = isolate(m, "P1")
    assert r.valves_to_close == ["V1", "V2"]
    assert r.optional_valves == []
    assert r.isolated_links == ["P1"] and r.isolated_nodes == []
    assert r.unintended_links == [] and r.unintended_nodes == []


def test_inoperable_valve_expands_the_region() -> None:
    m = net(LINE, "V1:P1@J1 V2:P2@J2:inoperable V3:P3@J3")
    r = isolate(m, "P3")
    assert r.isolated_links == ["P2", "P3"] and r.isolated_nodes == ["J1", "J2"]
    assert r.valves_to_close == ["V1"]
    assert r.optional_valves == ["V3"]
    assert r.unintended_links == ["P4"] and r.unintended_nodes == ["J3", "J4"]


def test_extra_inoperable_replans_in_one_step() -> None:
    m = net(LINE, "V1:P1@J1 V2:P2@J2 V3:P3@J3")
    assert isolate(m, "P3").isolated_links == ["P3"]
    r = isolate(m, "P3", extra_inoperable=["V2"])
    assert r.isolated_links == ["P2", "P3"]
    assert r.valves_to_close == ["V1"]


def test_normally_closed_valve_is_a_barrier_not_a_candidate() -> None:
    m = net("P1:S-A P2:A-B P3:B-S2", "V1:P2@A V2:P3@B:closed", sources="S S2")
    r = isolate(m, "P2")
    assert r.valves_to_close == ["V1"]
    assert r.optional_valves == []
    assert r.isolated_links == ["P2"] and r.isolated_nodes == ["B"]
    assert r.unintended_links == [] and r.unintended_nodes == []


def test_branch_dry_before_is_not_unintended() -> None:
    m = net("P1:S-A P2:A-B P3:B-C P4:C-D", "V1:P2@A:closed V2:P3@B V3:P4@C")
    r = isolate(m, "P3")
    assert r.valves_to_close == []
    assert r.optional_valves == ["V2", "V3"]  # both face parts that are dry anyway
    assert r.unintended_links == [] and r.unintended_nodes == []


def test_valve_with_both_sides_in_region_is_ignored() -> None:
    m = net("P0:S-A P1:A-B P2:B-C P3:C-A", "V0:P0@A V1:P1@A")
    r = isolate(m, "P2")
    assert r.valves_to_close == ["V0"]
    assert "V1" not in r.optional_valves
    assert r.isolated_links == ["P1", "P2", "P3"]


def test_source_inside_region_means_nothing_reaches_through_it() -> None:
    m = net(LINE, "V1:P2@J1")
    r = isolate(m, "P1")
    assert r.isolated_nodes == ["J1", "S"]
    assert r.valves_to_close == []
    assert r.optional_valves == ["V1"]
    assert r.unintended_links == ["P2", "P3", "P4"]


def test_multiple_breaks_are_isolated_together() -> None:
    m = net(LINE, "V1:P2@J1 V2:P3@J2 V3:P4@J3")
    r = isolate(m, ["P2", "P3"])
    assert r.pipes == ["P2", "P3"]
    assert r.isolated_links == ["P2", "P3"] and r.isolated_nodes == ["J2", "J3"]
    assert r.valves_to_close == ["V1"]
    assert r.optional_valves == ["V3"]
    assert r.unintended_links == ["P4"]
    assert r.to_dict()["pipes"] == ["P2", "P3"]


def test_unknown_ids_raise_naming_them() -> None:
    m = net(LINE, "V1:P2@J1")
    with pytest.raises(UnknownPipe, match="'P9'"):
        isolate(m, "P9")
    with pytest.raises(UnknownValve, match="'V9'"):
        isolate(m, "P2", extra_inoperable=["V9"])


def _as_sets(plan: object) -> dict[str, set[int]]:
    fields = ("valves_to_close", "optional_valves", "isolated_links", "isolated_nodes",
              "unintended_links", "unintended_nodes")
    return {f: set(getattr(plan, f).tolist()) for f in fields}


@settings(max_examples=150, deadline=None)
@given(random_networks(), st.data())
def test_matches_naive_reference(model: NetworkModel, data: st.DataObject) -> None:
    index = IsolationIndex(model)
    pipes = data.draw(st.lists(st.integers(0, model.n_links - 1), min_size=1, max_size=3, unique=True))
    extra = data.draw(st.lists(st.integers(0, max(model.n_valves - 1, 0)), max_size=min(2, model.n_valves)))
    got = index.plan(np.array(pipes), np.array(extra, dtype=np.int64))
    assert _as_sets(got) == naive_isolate(model, pipes, extra)
    got_one = index.plan(np.array(pipes[:1]))  # single-break fast path
    assert _as_sets(got_one) == naive_isolate(model, pipes[:1])
    assert _as_sets(got_one) == _as_sets(index._plan_general(np.array(pipes[:1]), np.zeros(0, np.int64)))


def _physical(model: NetworkModel, closed_valves: set[int]) -> nx.Graph:
    g = nx.Graph()
    g.add_nodes_from(("L", i) for i in range(model.n_links))
    g.add_nodes_from(("N", i) for i in range(model.n_nodes))
    cut = {(int(model.valve_link[v]), int(model.valve_node[v])) for v in closed_valves}
    for link in range(model.n_links):
        for node in (int(model.link_start[link]), int(model.link_end[link])):
            if (link, node) not in cut:
                g.add_edge(("L", link), ("N", node))
    return g


def _reaches_source(model: NetworkModel, g: nx.Graph, vertices: set[tuple[str, int]]) -> bool:
    sources = {("N", int(i)) for i in np.flatnonzero(model.is_source)}
    return any(sources & nx.node_connected_component(g, v) for v in vertices)


@settings(max_examples=150, deadline=None)
@given(random_networks(), st.data())
def test_domain_invariants(model: NetworkModel, data: st.DataObject) -> None:
    index = IsolationIndex(model)
    pipe = data.draw(st.integers(0, model.n_links - 1))
    plan = index.plan(np.array([pipe]))
    region = {("L", int(i)) for i in plan.isolated_links} | {("N", int(i)) for i in plan.isolated_nodes}
    closed = {int(v) for v in np.flatnonzero(model.valve_status == CLOSED)}
    to_close = {int(v) for v in plan.valves_to_close}
    if not model.is_source[plan.isolated_nodes].any():
        # After closing valves_to_close (+ normally-closed valves) R reaches no source ...
        assert not _reaches_source(model, _physical(model, closed | to_close), region)
        # ... and reopening any single one of them reconnects it.
        for v in to_close:
            assert _reaches_source(model, _physical(model, closed | to_close - {v}), region)
    # Marking one more (open) valve inoperable never shrinks isolated ∪ unintended.
    opened = np.flatnonzero(model.valve_status == OPEN)
    if opened.size:
        v = int(data.draw(st.sampled_from(opened.tolist())))
        worse = index.plan(np.array([pipe]), np.array([v]))
        for kind in ("links", "nodes"):
            before = set(getattr(plan, f"isolated_{kind}")) | set(getattr(plan, f"unintended_{kind}"))
            after = set(getattr(worse, f"isolated_{kind}")) | set(getattr(worse, f"unintended_{kind}"))
            assert before <= after
