"""network/hydraulic_model.py: a WNTR model from plain GIS attributes, every gap a stated default."""
from __future__ import annotations

import pytest

from network.errors import InvalidNetwork
from network.hydraulic_model import (
    DEFAULT_BUILDING_M3_DAY,
    NodeRows,
    PipeRows,
    build_hydraulic_model,
    building_demand_m3s,
    hazen_williams_c,
)
from network.locate import Hydraulics


def test_roughness_by_material_and_age() -> None:
    assert hazen_williams_c("pe", 0) == 150
    assert hazen_williams_c("cast_iron", 10) == pytest.approx(122)
    assert hazen_williams_c("cast_iron", 100) == 60            # the floor
    assert hazen_williams_c("ductile_iron", None) == pytest.approx(140 - 0.3 * 40)   # unknown age: 40 years
    assert hazen_williams_c(None, 0) == hazen_williams_c("other", 0) == 120
    assert hazen_williams_c("steel", -5) == 140                 # laid "in the future": new


def test_building_demand_prefers_the_meter_then_residents_then_flats() -> None:
    day = 86400
    assert building_demand_m3s(100, 40, 30.0) == pytest.approx(30.0 / day)
    assert building_demand_m3s(100, 40, None) == pytest.approx(20.0 / day)
    assert building_demand_m3s(0, 40, 0.0) == pytest.approx(40 * 2.5 * 0.2 / day)
    assert building_demand_m3s(0, 0, None) == pytest.approx(DEFAULT_BUILDING_M3_DAY / day)


def _pipes(rows: list[tuple]) -> PipeRows:
    cols = list(zip(*rows))
    return PipeRows(ids=cols[0], start=cols[1], end=cols[2], kinds=cols[3], length_m=cols[4], diameter_mm=cols[5],
                    material=cols[6], install_year=cols[7], closed=cols[8])


def test_a_model_with_gaps_solves_and_leaves_out_what_no_source_feeds(tmp_path) -> None:
    nodes = NodeRows(ids=["s", "a", "b", "c", "d", "e"],
                     kinds=["source", "junction", "junction", "hydrant", "junction", "junction"],
                     elevation_m=[None, 10.0, None, 12.0, 5.0, None])
    pipes = _pipes([
        ("1", "s", "a", "pipe", 300.0, 200.0, "ductile_iron", 1990, False),
        ("2", "a", "b", "pipe", None, None, None, None, False),       # every attribute unknown
        ("3", "b", "c", "pump", 5.0, 100.0, None, None, False),       # no curve: a wide open pipe
        ("4", "c", "d", "pipe", 200.0, 100.0, "cast_iron", 1950, True),   # a closed valve on it
        ("5", "d", "e", "pipe", 200.0, 100.0, "pe", 2010, False),     # d, e: fed by nothing open
        ("6", "a", "a", "pipe", 10.0, 100.0, "pe", 2010, False),      # a loop on one node
    ])
    hm = build_hydraulic_model(nodes, pipes, {"a": 0.002, "b": 0.001, "d": 0.001}, year=2026)
    assert sorted(hm.nodes) == ["a", "b", "c", "s"] and hm.pipes == ["1", "2"]
    assert hm.demand_m3s == {"a": 0.002, "b": 0.001}
    assert hm.assumed == {"elevation": 2, "unfed_nodes": 2, "source_head": 1, "length": 1, "diameter": 1,
                          "material": 1, "install_year": 1, "links_as_pipes": 1}
    assert hm.wn.get_node("b").elevation == pytest.approx(9.0)          # mean of the known 10, 12, 5
    assert hm.wn.get_node("s").base_head == pytest.approx(59.0)         # ground + 50 m
    assert hm.wn.get_link("2").diameter == pytest.approx(0.15) and hm.wn.get_link("2").length == 1.0
    with Hydraulics(hm.write_inp(tmp_path / "m.inp")) as hyd:
        p = hyd.pressure_m([hyd.node_index(n) for n in ("a", "b")])
    assert (p > 0).all()


def test_no_source_no_model() -> None:
    nodes = NodeRows(ids=["a", "b"], kinds=["junction", "junction"], elevation_m=[None, None])
    pipes = _pipes([("1", "a", "b", "pipe", 100.0, 100.0, "pe", 2000, False)])
    with pytest.raises(InvalidNetwork, match="no source"):
        build_hydraulic_model(nodes, pipes, {}, year=2026)
