"""A renewal list from risk scores: which pipes to replace in which year, km and cost by year. Pure."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from forecast.errors import ForecastError
from forecast.rules import ForecastRules, RenewalRules, default_rules

__all__ = ["unit_cost_per_m", "renewal_plan"]


def unit_cost_per_m(material: np.ndarray, diameter_mm: np.ndarray, rules: RenewalRules) -> np.ndarray:
    """Replacement cost per metre: the diameter band's cost times the material factor."""
    diameter = np.asarray(diameter_mm, dtype=float)
    bounds = np.array([b.max_mm for b in rules.cost_per_m[:-1]], dtype=float)
    costs = np.array([b.cost for b in rules.cost_per_m], dtype=float)
    band = np.searchsorted(bounds, diameter, side="left")   # first band with max_mm >= d
    factor = np.array([rules.material_factor.get(str(m), 1.0) for m in material], dtype=float)
    return costs[band] * factor


def renewal_plan(scores: pd.DataFrame, *, first_year: int, years: int = 5, km_per_year: float | None = None,
                 budget_per_year: float | None = None, rules: ForecastRules | None = None
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Replace the riskiest pipes first, year by year, within a length or money budget per year.

    ``scores``: the frame of :func:`forecast.model.score` (needs ``pipe, expected_breaks, material,
    diameter_mm, length_m``). Pipes are ranked by ``expected_breaks`` per km (the breaks avoided per
    km renewed), ties by more expected breaks, then input order; each year goes down that order and
    takes every pipe that still fits its budget (one that does not fit comes first the next year; a
    pipe larger than a whole year's budget gets a year of its own).
    Exactly one of ``km_per_year`` / ``budget_per_year`` must be given.

    Returns ``(pipes, years)``: ``pipes`` = the chosen pipes in order with ``year, length_m,
    unit_cost_per_m, cost, expected_breaks, cumulative_km, cumulative_cost``; ``years`` = one row per
    year ``year, pipes, km, cost, expected_breaks`` (years with nothing chosen included, as zeros).
    """
    rules = rules or default_rules()
    if (km_per_year is None) == (budget_per_year is None):
        raise ForecastError("give exactly one of km_per_year and budget_per_year")
    limit = km_per_year if km_per_year is not None else budget_per_year
    if not (isinstance(limit, (int, float)) and math.isfinite(limit) and limit > 0):
        raise ForecastError(f"yearly budget {limit!r} must be a number > 0")
    if not (isinstance(years, int) and years >= 1):
        raise ForecastError(f"years {years!r} must be an integer >= 1")
    missing = [c for c in ("pipe", "expected_breaks", "material", "diameter_mm", "length_m") if c not in scores.columns]
    if missing:
        raise ForecastError(f"scores lack columns {missing}")
    length = scores["length_m"].to_numpy(dtype=float)
    expected = scores["expected_breaks"].to_numpy(dtype=float)
    unit = unit_cost_per_m(scores["material"].to_numpy(), scores["diameter_mm"].to_numpy(), rules.renewal)
    cost = unit * length
    density = np.divide(expected, length, out=np.zeros_like(expected), where=length > 0)
    order = np.lexsort((np.arange(length.size), -expected, -density))
    order = order[expected[order] > 0]
    size = length / 1000.0 if km_per_year is not None else cost
    year_of = np.full(length.size, -1)
    remaining = order
    for k in range(years):
        if remaining.size == 0:
            break
        room = float(limit)
        take = np.zeros(remaining.size, dtype=bool)
        for j, i in enumerate(remaining):
            if size[i] <= room + 1e-9:
                take[j] = True
                room -= size[i]
                if room <= 1e-9:
                    break
        if not take.any():
            take[0] = True   # a single pipe larger than a whole year's budget gets a year of its own
        year_of[remaining[take]] = first_year + k
        remaining = remaining[~take]
    chosen = order[year_of[order] >= 0]
    chosen = chosen[np.argsort(year_of[chosen], kind="stable")]
    pipes = pd.DataFrame({
        "pipe": scores["pipe"].to_numpy()[chosen],
        "year": year_of[chosen],
        "length_m": length[chosen],
        "unit_cost_per_m": unit[chosen],
        "cost": cost[chosen],
        "expected_breaks": expected[chosen],
    })
    pipes["cumulative_km"] = pipes["length_m"].cumsum() / 1000.0
    pipes["cumulative_cost"] = pipes["cost"].cumsum()
    by = pipes.groupby("year").agg(pipes=("pipe", "size"), km=("length_m", "sum"), cost=("cost", "sum"),
                                   expected_breaks=("expected_breaks", "sum"))
    by["km"] = by["km"] / 1000.0
    all_years = pd.Index(range(first_year, first_year + years), name="year")
    by = by.reindex(all_years, fill_value=0).reset_index()
    by["pipes"] = by["pipes"].astype(int)
    return pipes.reset_index(drop=True), by
