"""The valve-exercise ranking on a hand-made line with a known answer."""
from __future__ import annotations

import numpy as np
import pytest

from forecast.valves import expected_per_link, valve_exercise
from network import criticality
from network.isolation import IsolationIndex
from tests.network.nets import net

# S -P1- J1 |V1 -P2- J2 |V2 -P3- J3 |V3 -P4- J4   (residents on P1..P4: 0, 10, 20, 30)
# Shutoffs (residents) of a break:  area P1: 60 (all cut), P2: 60, P3: 50, P4: 30.
# V1 fails: P1+P2 shut as one -> 60 (no growth on either side). V2 fails: P2+P3 -> 60 (P3 side +10).
# V3 fails: P3+P4 -> 50 (P4 side +20).  priority = E_a*(merged-own_a) + E_b*(merged-own_b).
LINE = ("P1:S-J1 P2:J1-J2 P3:J2-J3 P4:J3-J4", "V1:P2@J1 V2:P3@J2 V3:P4@J3")
RESIDENTS = np.array([0.0, 10.0, 20.0, 30.0])


def _rank(risk: dict[str, float]):
    m = net(*LINE)
    ix = IsolationIndex(m)
    crit = criticality(ix, weights={"residents": RESIDENTS}, rank_by="residents")
    return valve_exercise(ix, crit, expected_per_link(ix, risk)).set_index("valve")


def test_known_priorities_on_a_line() -> None:
    out = _rank({"P1": 0.1, "P2": 0.2, "P3": 0.3, "P4": 0.4})
    assert list(out.index) == ["V3", "V2", "V1"]
    assert out.loc["V3", "priority"] == pytest.approx(0.4 * 20)
    assert out.loc["V2", "priority"] == pytest.approx(0.3 * 10)
    assert out.loc["V1", "priority"] == pytest.approx(0.0)
    assert out.loc["V3", "expected_breaks"] == pytest.approx(0.7)
    assert out.loc["V3", "customers_if_fails"] == 20


def test_risk_reorders_valves_of_equal_criticality_weight() -> None:
    # no risk beyond P3: V3 protects nothing that breaks, V2 comes first
    out = _rank({"P3": 0.5})
    assert list(out.index)[0] == "V2" and out.loc["V2", "priority"] == pytest.approx(5.0)
    assert out.loc["V3", "priority"] == pytest.approx(0.0)   # P3's breaks do not need V3 to hold more


def test_mismatched_risk_array_is_refused() -> None:
    m = net(*LINE)
    ix = IsolationIndex(m)
    crit = criticality(ix, weights={"residents": RESIDENTS}, rank_by="residents")
    with pytest.raises(ValueError, match="4 links"):
        valve_exercise(ix, crit, np.ones(3))
