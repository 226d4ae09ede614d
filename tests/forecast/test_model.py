"""The model on synthetic data: finite, monotone in past breaks, calibrated; the renewal list; rules."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecast import ForecastError, InvalidRules, load_rules, renewal_plan, score
from forecast.renewal import unit_cost_per_m
from forecast.synth import make_city


@pytest.fixture(scope="module")
def city() -> tuple[pd.DataFrame, pd.DataFrame]:
    return make_city(4000, seed=8)


@pytest.fixture(scope="module")
def scored(city) -> tuple[pd.DataFrame, dict]:
    pipes, breaks = city
    info: dict = {}
    return score(pipes, breaks, "2022-01-01", 365, info=info), info


def test_every_pipe_finite_non_negative_in_order(city, scored) -> None:
    pipes, _ = city
    s, info = scored
    assert info["kind"] == "selected"
    assert s["pipe"].tolist() == pipes["id"].tolist()
    e = s["expected_breaks"].to_numpy()
    assert np.all(np.isfinite(e)) and np.all(e >= 0)


def test_calibrated_within_a_quarter(city, scored) -> None:
    _, breaks = city
    s, _ = scored
    actual = int(((breaks["date"] >= "2022-01-01") & (breaks["date"] < "2023-01-01")).sum())
    predicted = float(s["expected_breaks"].sum())
    assert actual > 50
    assert abs(predicted - actual) <= 0.25 * actual, (predicted, actual)


def test_past_breaks_raise_the_risk_of_an_identical_pipe(city) -> None:
    pipes, breaks = city
    twins = pd.DataFrame({"id": ["TWIN-A", "TWIN-B"], "material": ["CI", "CI"], "diameter_mm": [150.0, 150.0],
                          "install_year": [1955, 1955], "length_m": [120.0, 120.0]})
    extra = pd.DataFrame({"pipe": ["TWIN-A"] * 4, "date": ["2012-02-01", "2015-07-10", "2018-11-20", "2020-03-03"]})
    s = score(pd.concat([pipes, twins], ignore_index=True), pd.concat([breaks, extra], ignore_index=True),
              "2022-01-01", 365)
    risk = dict(zip(s["pipe"], s["expected_breaks"]))
    assert risk["TWIN-A"] > 2 * risk["TWIN-B"] > 0


def test_recent_break_raises_risk_more_than_an_old_one(city) -> None:
    pipes, breaks = city
    twins = pd.DataFrame({"id": ["R", "O"], "material": ["PVC", "PVC"], "diameter_mm": [110.0, 110.0],
                          "install_year": [1985, 1985], "length_m": [90.0, 90.0]})
    extra = pd.DataFrame({"pipe": ["R", "O"], "date": ["2021-10-01", "2010-10-01"]})
    s = score(pd.concat([pipes, twins], ignore_index=True), pd.concat([breaks, extra], ignore_index=True),
              "2022-01-01", 365)
    risk = dict(zip(s["pipe"], s["expected_breaks"]))
    assert risk["R"] > risk["O"]


def test_horizon_scaling_and_bad_horizon(city, scored) -> None:
    pipes, breaks = city
    s1, _ = scored
    s3 = score(pipes, breaks, "2022-01-01", 3 * 365)
    assert np.all(s3["expected_breaks"].to_numpy() >= s1["expected_breaks"].to_numpy())
    assert 2.5 < s3["expected_breaks"].sum() / s1["expected_breaks"].sum() < 4.0
    for bad in (0, -1, math.nan, "x"):
        with pytest.raises(ForecastError):
            score(pipes, breaks, "2022-01-01", bad)


def test_few_breaks_fall_back_to_base_rates(city) -> None:
    pipes, breaks = city
    info: dict = {}
    few = breaks.head(5)
    s = score(pipes, few, "2022-01-01", 365, info=info)
    assert info["kind"] == "base_rate"
    e = s["expected_breaks"].to_numpy()
    assert np.all(np.isfinite(e)) and np.all(e >= 0) and e.sum() > 0
    hit = few["pipe"].iloc[0]
    row = s.set_index("pipe").loc[hit]
    twin = s[(s["material"] == row["material"]) & (s["past_breaks"] == 0)]
    # a broken pipe's rate per km is above every unbroken pipe of its material
    assert row["risk_per_km"] > twin["risk_per_km"].max()


def test_missing_diameter_and_unknown_material(city) -> None:
    pipes, breaks = city
    p = pipes.copy()
    p["diameter_mm"] = p["diameter_mm"].astype(object)
    p.loc[0, "diameter_mm"] = ""
    p.loc[1, "material"] = "bamboo"
    s = score(p, breaks, "2022-01-01", 365)
    assert s.loc[1, "material"] == "other"
    assert s.loc[0, "diameter_mm"] > 0
    assert np.isfinite(s["expected_breaks"]).all()


def test_renewal_plan_by_km_and_by_money(scored) -> None:
    s, _ = scored
    pipes, years = renewal_plan(s, first_year=2023, years=3, km_per_year=5.0)
    assert years["year"].tolist() == [2023, 2024, 2025]
    assert (years["km"] <= 5.0 + 1e-9).all() and (years["km"] > 4.9).all()
    assert pipes["year"].is_monotonic_increasing
    density = pipes["expected_breaks"] / pipes["length_m"]
    density = s["expected_breaks"] / s["length_m"]
    assert pipes["pipe"].iloc[0] == s["pipe"][density.idxmax()]          # the riskiest per km comes first
    assert years["expected_breaks"].is_monotonic_decreasing
    assert years["cost"].sum() == pytest.approx(pipes["cost"].sum())
    assert pipes["pipe"].is_unique
    # the chosen 15 km carry far more expected breaks than 15 km of the network on average
    total_rate = s["expected_breaks"].sum() / (s["length_m"].sum() / 1000)
    assert years["expected_breaks"].sum() > 3 * total_rate * years["km"].sum()
    _, money = renewal_plan(s, first_year=2023, years=2, budget_per_year=50_000_000)
    assert (money["cost"] <= 50_000_000).all() and (money["cost"] > 0).all()
    with pytest.raises(ForecastError):
        renewal_plan(s, first_year=2023, km_per_year=5, budget_per_year=1)
    with pytest.raises(ForecastError):
        renewal_plan(s, first_year=2023, km_per_year=0)


def test_unit_costs_by_band_and_material() -> None:
    rules = load_rules().renewal
    cost = unit_cost_per_m(np.array(["pvc", "pvc", "asbestos_cement", "pe"]),
                           np.array([100.0, 101.0, 150.0, 5000.0]), rules)
    assert cost.tolist() == [22000.0, 27000.0, 27000.0 * 1.25, 150000.0]


def test_region_rules_extend_default(tmp_path: Path) -> None:
    default = Path(__file__).resolve().parents[2] / "forecast" / "rules" / "default.yaml"
    region = tmp_path / "region.yaml"
    region.write_text(f"extends: {default}\nregion: north\nbase_rate_per_km_year:\n  pe: 0.02\n")
    rules = load_rules(region)
    assert rules.region == "north" and rules.base_rate_per_km_year["pe"] == 0.02
    assert rules.base_rate_per_km_year["cast_iron"] == 0.30
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"extends: {default}\nbase_rate_per_km_year:\n  pe: -1\n")
    with pytest.raises(InvalidRules):
        load_rules(bad)
