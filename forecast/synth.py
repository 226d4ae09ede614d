"""A synthetic city: a pipe inventory and a break history with a known (hidden) break process.

Used by the backtest (``benchmarks/forecast.py``) and the tests. The generator deliberately does
NOT share the forecasting model's functional form:

* the age effect is a Weibull hazard in age with a *material-specific* shape and scale (the model
  fits one shape for all materials);
* an unobserved per-pipe frailty (gamma, mean 1: soil, workmanship, traffic) multiplies the rate —
  this is what makes past breaks predictive in real networks;
* breaks excite later breaks: a permanent step per break (``+perm`` each) and a transient part
  that decays exponentially (``+burst * exp(-dt / tau)``), capped;
* small diameters break more, following a power law; a random calendar-year effect (harsh winters)
  multiplies every pipe's rate in a year, so no model can be exactly calibrated;
* breaks are simulated from ``burn_in_from`` on, but only those from ``record_from`` on are
  returned (records began later than the pipes broke).

The rate is per km of pipe per year; the simulation steps month by month (Poisson per step).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forecast.dates import dates_of_decimal_years

__all__ = ["Truth", "make_pipes", "simulate_breaks", "make_city", "GENERATORS", "generate"]

# material: (share by era is in _era_material), Weibull shape, scale (years), rate multiplier
_MATERIALS: dict[str, tuple[float, float, float]] = {
    "cast_iron": (2.4, 95.0, 1.0),
    "steel": (1.9, 55.0, 0.9),
    "asbestos_cement": (2.8, 70.0, 0.8),
    "ductile_iron": (1.6, 90.0, 0.45),
    "pvc": (1.3, 120.0, 0.35),
    "pe": (1.2, 140.0, 0.25),
}
# how the material names appear in the file (exercises the model's aliases)
_LABELS = {"cast_iron": "CI", "steel": "Steel", "asbestos_cement": "AC", "ductile_iron": "DI",
           "pvc": "PVC", "pe": "PE"}


@dataclass(frozen=True)
class Truth:
    """Parameters of the hidden break process."""

    base_per_km_year: float = 0.06     # breaks per km per year of a cast-iron pipe at its Weibull scale age
    frailty_shape: float = 0.9         # gamma shape (mean 1); smaller = more heterogeneity
    perm: float = 0.25                 # permanent multiplier step per earlier break
    burst: float = 2.5                 # transient excitation right after a break ...
    tau_years: float = 1.2             # ... decaying with this time constant
    cap: float = 8.0                   # the excitation multiplier never exceeds this
    diameter_power: float = 0.7        # rate ~ (150 / d) ** power
    year_sigma: float = 0.12           # log-sd of the calendar-year multiplier
    age_curve: str = "weibull"         # or "gompertz": rate ~ exp(gompertz_k * (age - scale))
    gompertz_k: float = 0.07
    materials: dict[str, tuple[float, float, float]] = field(default_factory=lambda: dict(_MATERIALS))


def _era_material(years: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Material by install era (what utilities laid when)."""
    out = np.empty(years.size, dtype=object)
    eras = [
        (1800, 1930, {"cast_iron": 0.85, "steel": 0.15}),
        (1930, 1955, {"cast_iron": 0.6, "steel": 0.3, "asbestos_cement": 0.1}),
        (1955, 1975, {"cast_iron": 0.25, "steel": 0.25, "asbestos_cement": 0.35, "ductile_iron": 0.15}),
        (1975, 1995, {"steel": 0.15, "asbestos_cement": 0.1, "ductile_iron": 0.4, "pvc": 0.25, "pe": 0.1}),
        (1995, 2100, {"ductile_iron": 0.35, "pvc": 0.3, "pe": 0.35}),
    ]
    for lo, hi, mix in eras:
        sel = (years >= lo) & (years < hi)
        names = list(mix)
        p = np.array([mix[n] for n in names])
        out[sel] = rng.choice(names, size=int(sel.sum()), p=p / p.sum())
    return out


def make_pipes(n: int, *, seed: int = 0, last_install_year: int = 2020) -> pd.DataFrame:
    """Inventory ``id,material,diameter_mm,install_year,length_m`` (ids ``P000001``…)."""
    rng = np.random.default_rng(seed)
    # install years: a mixture of growth waves 1900-2020
    wave = rng.choice(3, size=n, p=[0.25, 0.45, 0.30])
    centre = np.array([1925.0, 1965.0, 1998.0])[wave]
    spread = np.array([15.0, 12.0, 12.0])[wave]
    years = np.clip(np.round(rng.normal(centre, spread)), 1900, last_install_year).astype(int)
    material = _era_material(years, rng)
    diam = rng.choice([80, 100, 125, 150, 200, 250, 300, 400, 500, 600, 800],
                      size=n, p=[0.08, 0.2, 0.08, 0.22, 0.16, 0.08, 0.08, 0.05, 0.03, 0.015, 0.005])
    length = np.round(np.clip(rng.lognormal(np.log(90.0), 0.8, n), 3.0, 1500.0), 1)
    return pd.DataFrame({
        "id": [f"P{i:06d}" for i in range(1, n + 1)],
        "material": [_LABELS[m] for m in material],
        "diameter_mm": diam.astype(float),
        "install_year": years,
        "length_m": length,
    })


def simulate_breaks(pipes: pd.DataFrame, *, record_from: int = 2005, until: int = 2025,
                    burn_in_from: int = 1995, seed: int = 0, truth: Truth | None = None,
                    oracle: dict[int, np.ndarray] | None = None, multiplier: np.ndarray | None = None) -> pd.DataFrame:
    """Breaks ``pipe,date`` from 1 Jan ``record_from`` to 31 Dec ``until - 1`` (sorted by date).

    ``multiplier`` (optional): a fixed per-pipe factor on the rate (covariates the generator knows).
    ``oracle`` (a dict, optional) receives, for every year Y simulated, the true break rate per year
    of every pipe on 1 Jan Y without the calendar-year effect: the ceiling a forecast could reach.
    """
    truth = truth or Truth()
    rng = np.random.default_rng(seed + 7919)
    labels = {v: k for k, v in _LABELS.items()}
    mat = pipes["material"].map(lambda m: labels.get(m, m)).to_numpy()
    shape = np.array([truth.materials[m][0] for m in mat])
    scale = np.array([truth.materials[m][1] for m in mat])
    mult = np.array([truth.materials[m][2] for m in mat])
    install = pipes["install_year"].to_numpy(dtype=float) + 0.5
    km = pipes["length_m"].to_numpy(dtype=float) / 1000.0
    dfac = (150.0 / pipes["diameter_mm"].to_numpy(dtype=float)) ** truth.diameter_power
    frailty = rng.gamma(truth.frailty_shape, 1.0 / truth.frailty_shape, size=len(pipes))
    static = truth.base_per_km_year * mult * km * dfac * frailty
    if multiplier is not None:
        static = static * np.asarray(multiplier, dtype=float)
    n_prev = np.zeros(len(pipes))
    last = np.full(len(pipes), -1e9)
    out_pipe: list[np.ndarray] = []
    out_t: list[np.ndarray] = []
    dt = 1.0 / 12.0
    year_mult = 1.0
    for step in range(int((until - burn_in_from) * 12)):
        t = burn_in_from + step * dt
        if step % 12 == 0:
            year_mult = float(np.exp(rng.normal(-truth.year_sigma ** 2 / 2, truth.year_sigma)))
        age = t + dt / 2 - install
        alive = age > 0
        a = np.where(alive, age, 1.0)
        if truth.age_curve == "gompertz":
            weib = np.exp(np.minimum(truth.gompertz_k * (a - scale), 6.0))
        else:
            weib = (shape / scale) * (a / scale) ** (shape - 1) * scale  # Weibull hazard, scaled to 1 at age=scale
        excite = np.minimum(1.0 + truth.perm * n_prev + truth.burst * np.exp(-(t - last) / truth.tau_years),
                            truth.cap)
        rate = np.where(alive, static * weib * excite * year_mult, 0.0)
        if oracle is not None and step % 12 == 0:
            oracle[int(round(t))] = rate / year_mult
        k = rng.poisson(rate * dt)
        hit = np.nonzero(k)[0]
        if hit.size:
            times = t + rng.random(hit.size) * dt
            n_prev[hit] += k[hit]
            last[hit] = times
            if t >= record_from:
                reps = k[hit]
                out_pipe.append(np.repeat(hit, reps))
                out_t.append(np.repeat(times, reps) + rng.random(int(reps.sum())) * 1e-3)
    if not out_pipe:
        return pd.DataFrame({"pipe": pd.Series(dtype=str), "date": pd.Series(dtype=str)})
    idx = np.concatenate(out_pipe)
    tt = np.concatenate(out_t)
    keep = tt < until
    idx, tt = idx[keep], tt[keep]
    order = np.argsort(tt, kind="stable")
    idx, tt = idx[order], tt[order]
    dates = dates_of_decimal_years(tt).astype(str)
    return pd.DataFrame({"pipe": pipes["id"].to_numpy()[idx], "date": dates})


def make_city(n: int, *, seed: int = 0, record_from: int = 2005, until: int = 2025) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(pipes, breaks)`` of a synthetic city of ``n`` pipes."""
    pipes = make_pipes(n, seed=seed)
    return pipes, simulate_breaks(pipes, record_from=record_from, until=until, seed=seed)


# ---------------------------------------------------------------- generators of different structure
# Each returns (pipes, breaks, oracle, year): breaks recorded up to the end of ``year``; the forecast
# is made as of 1 Jan ``year`` and scored on that year; ``oracle[year]`` = the true rates then.

_FLAT = {m: (1.0, v[1], v[2]) for m, v in _MATERIALS.items()}           # no ageing at all
_GOMPERTZ_SCALE = {"cast_iron": (1.0, 70.0, 1.0), "steel": (1.0, 50.0, 1.0), "asbestos_cement": (1.0, 60.0, 0.8),
                   "ductile_iron": (1.0, 80.0, 0.6), "pvc": (1.0, 90.0, 0.5), "pe": (1.0, 100.0, 0.4)}


def _gen_city(n: int, seed: int):
    """The project's original city: Weibull ageing per material, gamma frailty 0.9, self-excitation."""
    pipes = make_pipes(n, seed=seed)
    oracle: dict[int, np.ndarray] = {}
    br = simulate_breaks(pipes, seed=seed, oracle=oracle)
    return pipes, br, oracle, 2024


def _gen_age(n: int, seed: int):
    """Age-dominated: a steep Gompertz ageing (x2 every 10 years), almost no frailty, no excitation."""
    pipes = make_pipes(n, seed=seed)
    truth = Truth(base_per_km_year=0.05, frailty_shape=50.0, perm=0.0, burst=0.0, age_curve="gompertz",
                  gompertz_k=0.07, materials=dict(_GOMPERTZ_SCALE), year_sigma=0.08)
    oracle: dict[int, np.ndarray] = {}
    br = simulate_breaks(pipes, seed=seed, oracle=oracle, truth=truth)
    return pipes, br, oracle, 2024


def _gen_frailty(n: int, seed: int):
    """Past breaks dominate: strong frailty (gamma shape 0.25), strong self-excitation, no ageing."""
    pipes = make_pipes(n, seed=seed)
    truth = Truth(base_per_km_year=0.05, frailty_shape=0.25, perm=0.6, burst=3.0, tau_years=0.8, cap=12.0,
                  materials=dict(_FLAT))
    oracle: dict[int, np.ndarray] = {}
    br = simulate_breaks(pipes, seed=seed, oracle=oracle, truth=truth)
    return pipes, br, oracle, 2024


def _gen_hidden(n: int, seed: int):
    """Covariates the forecast is given only as columns: soil (x0.6-3), pressure zone (x0.7-1.6), a
    traffic load (numeric, power 0.6), plus a district and a survey number that mean nothing."""
    pipes = make_pipes(n, seed=seed)
    rng = np.random.default_rng(seed + 101)
    soils = np.array(["clay", "sand", "rock", "peat", "loam"])
    soil_mult = np.array([3.0, 1.0, 0.6, 2.0, 1.0])
    soil = rng.choice(5, size=n, p=[0.25, 0.3, 0.15, 0.1, 0.2])
    zone = rng.integers(0, 6, size=n)
    zone_mult = np.array([0.7, 0.9, 1.0, 1.1, 1.3, 1.6])
    traffic = np.round(rng.lognormal(0.0, 0.8, size=n), 3)
    pipes = pipes.assign(soil=soils[soil], pressure_zone=[f"Z{z + 1}" for z in zone], traffic=traffic,
                         district=rng.choice(["north", "south", "east", "west"], size=n),
                         survey=rng.integers(1000, 9999, size=n))
    mult = soil_mult[soil] * zone_mult[zone] * traffic ** 0.6
    oracle: dict[int, np.ndarray] = {}
    br = simulate_breaks(pipes, seed=seed, oracle=oracle, multiplier=mult / mult.mean())
    return pipes, br, oracle, 2024


def _gen_truncated(n: int, seed: int):
    """Left truncation: pipes laid 1958-1970 (about 60 years old), breaking since they were laid, but
    only the last 10 years of breaks are on record."""
    rng = np.random.default_rng(seed + 202)
    pipes = make_pipes(n, seed=seed)
    pipes["install_year"] = np.clip(np.round(rng.normal(1964, 3.0, size=n)), 1958, 1970).astype(int)
    pipes["material"] = [_LABELS[m] for m in _era_material(pipes["install_year"].to_numpy(), rng)]
    oracle: dict[int, np.ndarray] = {}
    br = simulate_breaks(pipes, seed=seed, oracle=oracle, record_from=2014, burn_in_from=1958)
    return pipes, br, oracle, 2024


GENERATORS = {"city": _gen_city, "age": _gen_age, "frailty": _gen_frailty, "hidden": _gen_hidden,
              "truncated": _gen_truncated}


def generate(name: str, n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, dict[int, np.ndarray], int]:
    """``(pipes, breaks, oracle, year)`` of generator ``name`` (see :data:`GENERATORS`)."""
    return GENERATORS[name](n, seed)
