"""Suspected bursts from residents' calls (ops/locate.py) on a small network with a known answer.

Layout (lon, lat; 0.001° lon ≈ 55 m, 0.001° lat ≈ 111 m at 60.17° N)::

    S(24.900,60.170)─P1─J1(24.910,60.170)─P2─J2(24.920,60.170)─P4─J4(24.925,60.170)
                         │                    └─P5─J5(24.920,60.175)
                         P3 (3.3 km north)
                         │
            J7(24.905,60.200)─P7─J3(24.910,60.200)─P6─J6(24.915,60.200)

A valve at both ends of every pipe (each pipe is its own segment). Buildings hang on P2, P4, P5
(near J2) and on P3, P6, P7 (near J3), one each.

The rankings asserted here are the topology method's (``method="topology"``, the panel's fallback);
the hydraulic one is tested in test_locate_hydraulic.py.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, text

from auth import permissions
from auth.errors import PermissionDenied
from auth.model import Actor
from ops import locate
from ops import network as net_ops

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)
NODES = {"S": (24.900, 60.170, "source"), "J1": (24.910, 60.170, "junction"), "J2": (24.920, 60.170, "junction"),
         "J4": (24.925, 60.170, "junction"), "J5": (24.920, 60.175, "junction"), "J3": (24.910, 60.200, "junction"),
         "J6": (24.915, 60.200, "junction"), "J7": (24.905, 60.200, "junction")}
PIPES = {"P1": ("S", "J1"), "P2": ("J1", "J2"), "P4": ("J2", "J4"), "P5": ("J2", "J5"), "P3": ("J1", "J3"),
         "P6": ("J3", "J6"), "P7": ("J3", "J7")}
# building -> (service pipe, lon, lat)
BUILDINGS = {"b2": ("P2", 24.918, 60.1702), "b4": ("P4", 24.922, 60.1702), "b5": ("P5", 24.9202, 60.1720),
             "b3": ("P3", 24.9102, 60.1980), "b6": ("P6", 24.9130, 60.2002), "b7": ("P7", 24.9070, 60.2002)}


@dataclass(frozen=True)
class Net:
    engine: Engine
    network_id: int
    pipes: dict[str, int]
    buildings: dict[str, int]


def _square(lon: float, lat: float, half: float = 0.0001) -> str:
    return (f"POLYGON(({lon-half} {lat-half/2}, {lon+half} {lat-half/2}, {lon+half} {lat+half/2}, "
            f"{lon-half} {lat+half/2}, {lon-half} {lat-half/2}))")


@pytest.fixture()
def net(clean_engine: Engine) -> Iterator[Net]:
    net_ops._indexes.clear()   # ids restart after the truncation: no stale graph of another test
    locate._results.clear()
    with clean_engine.begin() as conn:
        n = conn.execute(text("INSERT INTO networks (name, resource) VALUES ('cw', 'cold_water') RETURNING id")).scalar_one()
        nodes = {k: conn.execute(text(
            "INSERT INTO nodes (network_id, ext_id, kind, geom) VALUES (:n, :e, :k, ST_SetSRID(ST_MakePoint(:x, :y), 4326)) "
            "RETURNING id"), {"n": n, "e": k, "k": kind, "x": x, "y": y}).scalar_one() for k, (x, y, kind) in NODES.items()}
        pipes = {}
        for k, (a, b) in PIPES.items():
            pipes[k] = conn.execute(text(
                "INSERT INTO pipes (network_id, ext_id, from_node, to_node, diameter_mm, length_m, street, geom) VALUES "
                "(:n, :e, :a, :b, 150, 500, :s, ST_SetSRID(ST_MakeLine(ST_MakePoint(:x0, :y0), ST_MakePoint(:x1, :y1)), 4326)) "
                "RETURNING id"), {"n": n, "e": k, "a": nodes[a], "b": nodes[b], "s": f"street {k}",
                                  "x0": NODES[a][0], "y0": NODES[a][1], "x1": NODES[b][0], "y1": NODES[b][1]}).scalar_one()
            for end in (a, b):
                conn.execute(text(
                    "INSERT INTO valves (network_id, ext_id, pipe_id, node_id, geom) VALUES "
                    "(:n, :e, :p, :node, ST_SetSRID(ST_MakePoint(:x, :y), 4326))"),
                    {"n": n, "e": f"V{k}{end}", "p": pipes[k], "node": nodes[end], "x": NODES[end][0], "y": NODES[end][1]})
        buildings = {}
        for k, (p, x, y) in BUILDINGS.items():
            buildings[k] = conn.execute(text(
                "INSERT INTO buildings (address, kind, residents, geom) VALUES (:a, 'residential', 40, ST_GeomFromText(:g, 4326)) "
                "RETURNING id"), {"a": f"house {k}", "g": _square(x, y)}).scalar_one()
            conn.execute(text(
                "INSERT INTO service_connections (building_id, pipe_id, network_id, geom) VALUES (:b, :p, :n, "
                "ST_SetSRID(ST_MakeLine(ST_MakePoint(:x, :y), ST_MakePoint(:x, :y + 0.0001)), 4326))"),
                {"b": buildings[k], "p": pipes[p], "n": n, "x": x, "y": y})
    yield Net(clean_engine, int(n), pipes, buildings)


def call(net: Net, building: str, category: str = "no_water", *, ago_h: float = 1.0, status: str = "new",
         resource: str = "cold_water") -> int:
    _, x, y = BUILDINGS[building]
    with net.engine.begin() as conn:
        return int(conn.execute(text(
            "INSERT INTO incidents (category, resource, status, service_code, geom, address, building_id, created_at) "
            "VALUES (:c, :r, :s, 'x', ST_SetSRID(ST_MakePoint(:x, :y), 4326), :a, :b, :t) RETURNING id"),
            {"c": category, "r": resource, "s": status, "x": x, "y": y, "a": f"house {building}",
             "b": net.buildings[building], "t": NOW - timedelta(hours=ago_h)}).scalar_one())


def test_three_calls_downstream_of_one_pipe_rank_it_first(net: Net) -> None:
    ids = [call(net, "b2"), call(net, "b4", "low_pressure"), call(net, "b5")]
    found = locate.suspected_bursts(net.engine, net.network_id, NOW, method="topology")
    assert len(found) == 1
    burst = found[0]
    assert burst.method == "topology" and burst.fallback is None
    assert sorted(c.id for c in burst.calls) == ids
    assert burst.top is not None and burst.top["pipe"] == str(net.pipes["P2"])
    assert burst.top["ext_id"] == "P2" and burst.top["street"] == "street P2"
    assert burst.top["score"] == pytest.approx(1.0)
    assert all(c["score"] < burst.top["score"] for c in burst.candidates[1:])
    assert burst.top["geometry"]["type"] == "LineString"
    # the shutoff of the suspected pipe: its upstream valve (nothing feeds it from downstream), and
    # the three calling houses cut off
    assert [v["ext_id"] for v in burst.plan.valves_to_close] == ["VP2J1"]
    assert {b["address"] for b in burst.plan.affected} == {"house b2", "house b4", "house b5"}
    assert set(burst.segment) == {str(net.pipes[p]) for p in ("P2", "P4", "P5")}


def test_two_calls_are_no_cluster(net: Net) -> None:
    call(net, "b4")
    call(net, "b5")
    assert locate.suspected_bursts(net.engine, net.network_id, NOW) == []


def test_calls_that_do_not_count(net: Net) -> None:
    call(net, "b2")
    call(net, "b4")
    call(net, "b5", "sewer")                      # another category
    call(net, "b5", status="resolved")            # closed
    call(net, "b5", ago_h=7)                      # older than the window
    call(net, "b5", resource="hot_water")         # another utility's network
    assert locate.suspected_bursts(net.engine, net.network_id, NOW) == []
    call(net, "b5", "burst")                      # water on the street counts
    assert len(locate.suspected_bursts(net.engine, net.network_id, NOW)) == 1
    assert len(locate.suspected_bursts(net.engine, net.network_id, NOW, window_h=0.5)) == 0


def test_calls_far_apart_are_separate_clusters(net: Net) -> None:
    south = {call(net, b) for b in ("b2", "b4", "b5")}
    north = {call(net, b) for b in ("b3", "b6", "b7")}
    found = locate.suspected_bursts(net.engine, net.network_id, NOW, method="topology")
    assert len(found) == 2
    by_calls = {frozenset(c.id for c in f.calls): f for f in found}
    assert set(by_calls) == {frozenset(south), frozenset(north)}
    assert by_calls[frozenset(south)].top["pipe"] == str(net.pipes["P2"])
    assert by_calls[frozenset(north)].top["pipe"] == str(net.pipes["P3"])
    # one radius spanning both areas: a single cluster of six calls (P1 or P2 ... explains them all)
    one = locate.suspected_bursts(net.engine, net.network_id, NOW, radius_m=5000, method="topology")
    assert len(one) == 1 and len(one[0].calls) == 6
    assert one[0].top["pipe"] == str(net.pipes["P1"])


def test_rights(net: Net, monkeypatch: pytest.MonkeyPatch) -> None:
    """Suspected bursts need network.read and reports.read: every role of the service holds both, nobody else
    does (an organisation's staff do not read the network)."""
    for b in ("b2", "b4", "b5"):
        call(net, b)
    for role in permissions.ROLES:
        a = Actor(author="ivanova", role=role, display_name="ivanova")
        if role in permissions.ORG_ROLES:
            with pytest.raises(PermissionDenied):
                locate.bursts(a, net.network_id, now=NOW, bind=net.engine)
            continue
        assert len(locate.bursts(a, net.network_id, now=NOW, bind=net.engine)) == 1, role
    for role in ("", "resident", "chief"):   # no role, or one the matrix does not know
        with pytest.raises(PermissionDenied) as refused:
            locate.bursts(Actor(author="guest", role=role, display_name="guest"), net.network_id, now=NOW,
                          bind=net.engine)
        assert refused.value.permission == "network.read"
    # each of the two is checked: a dispatcher without reports.read is refused, naming it
    monkeypatch.setitem(permissions.MATRIX, "reports.read", frozenset({"admin"}))
    with pytest.raises(PermissionDenied) as refused:
        locate.bursts(Actor(author="ivanova", role="dispatcher", display_name="ivanova"), net.network_id, now=NOW,
                      bind=net.engine)
    assert refused.value.permission == "reports.read" and refused.value.role == "dispatcher"


def test_scattered_calls_do_not_chain_across_the_city() -> None:
    """Calls 300 m apart along a street (each within reach of the next): single linkage would make
    one 3 km "cluster"; seeded clusters stay at most 2 × the radius across."""
    calls = [locate.Call(i + 1, "no_water", "no_water", str(i), 24.90 + i * 0.0054, 60.17, None, NOW)
             for i in range(11)]   # 0.0054° lon ≈ 300 m at 60.17° N
    groups = locate.clusters(calls, 400)
    assert sum(len(g) for g in groups) == 11
    for g in groups:
        assert max(locate.distance_m(a, b) for a in g for b in g) <= 800
    assert max(len(g) for g in groups) == 3
    tight = [locate.Call(i + 1, "no_water", "no_water", str(i), 24.90 + i * 0.0005, 60.17, None, NOW) for i in range(3)]
    assert [len(g) for g in locate.clusters(tight + calls[5:6], 400)] == [3, 1]
