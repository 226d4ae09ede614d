"""The backtest-selected forecast (forecast/learn.py): covariate detection, the selection, calibration."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecast import score
from forecast.learn import CANDIDATES, capture, choose, detect_covariates, select_and_fit
from forecast.synth import generate


def test_covariates_detected_numeric_or_categorical_and_identifiers_left_out() -> None:
    n = 200
    rng = np.random.default_rng(0)
    extra = {
        "soil": np.array(rng.choice(["Clay", "clay ", "sand", "", "NaN"], size=n), dtype=object),
        "pressure_m": np.array([f"{v:.1f}" for v in rng.normal(40, 5, n)], dtype=object),
        "comma_decimal": np.array(["1,5", "2,25", "", "inf"] * (n // 4), dtype=object),
        "address": np.array([f"{i} Main street" for i in range(n)], dtype=object),   # one level per pipe
        "constant": np.array(["A"] * n, dtype=object),
        "empty": np.array([""] * n, dtype=object),
    }
    cov = {c.name: c for c in detect_covariates(extra)}
    assert set(cov) == {"soil", "pressure_m", "comma_decimal"}
    assert cov["soil"].kind == "categorical" and set(cov["soil"].levels) == {"clay", "sand"}   # case, spaces
    soil = cov["soil"].values
    missing = np.isin(extra["soil"], ["", "NaN"])
    assert np.all(soil[missing] == len(cov["soil"].levels))            # missing: the "other" code
    assert cov["pressure_m"].kind == "numeric" and np.isfinite(cov["pressure_m"].values).all()
    c = cov["comma_decimal"]
    assert c.kind == "numeric" and c.values[:4].tolist()[:2] == [1.5, 2.25]
    assert np.isnan(c.values[2]) and np.isnan(c.values[3])            # empty and a non-finite number: missing


def _pure_past_breaks(n: int = 1500, seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A network where only a pipe's own past says anything: equal pipes, random attributes, a
    fixed set of bad pipes (8 %) that break about twice a year, the rest never: no model can rank
    better than "most past breaks first", and on a tie the selection takes the simplest."""
    rng = np.random.default_rng(seed)
    pipes = pd.DataFrame({"id": [f"P{i}" for i in range(n)],
                          "material": rng.choice(["CI", "PE", "Steel"], size=n),
                          "diameter_mm": rng.choice([100.0, 150.0, 200.0], size=n),
                          "install_year": rng.integers(1930, 2000, size=n),
                          "length_m": np.full(n, 100.0),
                          "zone": rng.choice(["a", "b", "c"], size=n)})
    bad = rng.permutation(n) < int(0.08 * n)
    rate = np.where(bad, 2.0, 0.0)
    rows = []
    for year in range(2010, 2025):
        k = rng.poisson(rate)
        for i in np.nonzero(k)[0]:
            for _ in range(k[i]):
                rows.append((pipes["id"].iat[i], f"{year}-{rng.integers(1, 13):02d}-{rng.integers(1, 29):02d}"))
    return pipes, pd.DataFrame(rows, columns=["pipe", "date"])


def test_selection_picks_the_past_breaks_heuristic_when_only_past_breaks_matter() -> None:
    pipes, breaks = _pure_past_breaks()
    info: dict = {}
    s = score(pipes, breaks, "2024-01-01", 365, info=info)
    bt = info["backtest"]
    assert info["kind"] == "selected" and info["candidate"] == "past", bt
    assert bt["mean_capture10"]["past"] == max(bt["mean_capture10"].values())
    assert bt["mean_capture10"]["oldest"] < bt["mean_capture10"]["past"] - 0.3
    # and its forecast ranks the pipes exactly as "most past breaks first (ties: older)"
    order = np.lexsort((-(2024 - s["install_year"].to_numpy()), -s["past_breaks"].to_numpy()))
    assert np.array_equal(np.argsort(-s["risk_per_km"].to_numpy(), kind="stable"), order)
    assert len(bt["fold_capture10"]) == 5        # five yearly origins inside the history


@pytest.fixture(scope="module")
def hidden() -> tuple[pd.DataFrame, pd.DataFrame, dict, int]:
    return generate("hidden", 4000, 5)


def test_hidden_covariates_are_used_and_help(hidden) -> None:
    pipes, breaks, oracle, year = hidden
    info: dict = {}
    with_cols = score(pipes, breaks, f"{year}-01-01", 365, info=info)
    assert {"soil (categorical)", "pressure_zone (categorical)", "traffic (numeric)"} <= set(info["backtest"]["covariates"])
    without = score(pipes[["id", "material", "diameter_mm", "install_year", "length_m"]], breaks,
                    f"{year}-01-01", 365)
    truth = oracle[year] / pipes["length_m"].to_numpy()
    corr_with = pd.Series(with_cols["risk_per_km"]).corr(pd.Series(truth), method="spearman")
    corr_without = pd.Series(without["risk_per_km"]).corr(pd.Series(truth), method="spearman")
    assert corr_with > corr_without + 0.05, (corr_with, corr_without)


def test_calibrated_against_the_generators_expectation(hidden) -> None:
    pipes, breaks, oracle, year = hidden
    s = score(pipes, breaks, f"{year}-01-01", 365)
    ratio = s["expected_breaks"].sum() / oracle[year].sum()
    assert 0.8 <= ratio <= 1.25, ratio


def test_calibration_scale_follows_the_record_out_of_sample() -> None:
    """A network whose breaks doubled in the last two years: the fold-scaled forecast follows the recent
    level instead of the long-run mean of its training years."""
    rng = np.random.default_rng(3)
    n = 2000
    install = rng.integers(1940, 2000, size=n).astype(float) + 0.5
    length = rng.uniform(50, 150, size=n)
    code = np.zeros(n)
    rows_p, rows_t = [], []
    for year in range(2008, 2024):
        mult = 1.0 if year < 2018 else 2.0
        k = rng.poisson(0.15 * length / 1000 * mult * np.ones(n))
        for i in np.nonzero(k)[0]:
            rows_p += [i] * int(k[i])
            rows_t += list(year + rng.random(int(k[i])))
    bp, bt = np.array(rows_p), np.array(rows_t)
    order = np.lexsort((bt, bp))
    sel = select_and_fit(code, install, np.full(n, 150.0), length, [], bp[order], bt[order], 2008.0, 2024.0,
                         names=("past", "glm"))
    level = 0.15 * 2.0 * length.sum() / 1000
    assert sel is not None and sel.scale > 1.0
    assert 0.8 <= (sel.rates * length / 1000).sum() / level <= 1.25


def test_capture_measure() -> None:
    rate = np.array([5.0, 4.0, 3.0, 1.0])
    length = np.array([5.0, 5.0, 40.0, 50.0])
    actual = np.array([1.0, 2.0, 3.0, 4.0])
    assert capture(rate, length, actual, share=0.10) == pytest.approx(0.3)
    assert set(CANDIDATES) >= {"past", "oldest", "gbm", "glm"}


def test_selection_keeps_the_simpler_candidate_when_the_gain_is_within_the_noise_of_the_folds() -> None:
    """One standard error of the paired fold differences: a model that wins on the mean by less than
    that is not taken over the heuristic; one that wins on every fold by a clear margin is."""
    past = [0.60, 0.64, 0.57, 0.62, 0.59]
    noisy = [0.63, 0.60, 0.61, 0.60, 0.63]          # mean +0.006, differences -0.04..+0.04
    assert np.mean(noisy) > np.mean(past)
    assert choose({"past": past, "oldest": [0.2] * 5, "glm": noisy}) == "past"
    clear = [v + 0.03 + 0.002 * i for i, v in enumerate(past)]
    assert choose({"past": past, "oldest": [0.2] * 5, "glm": clear}) == "glm"
    # the simplest of those within the noise: "past" before "glm" even when "glm" is also close
    assert choose({"past": past, "glm": noisy, "gbm": [v + 0.001 for v in noisy]}) == "past"


def test_past_break_features_do_not_grow_with_the_length_of_the_record() -> None:
    """A pipe breaking once a year shows the same yearly rate and recency-weighted count with 4 or 9
    years of record (the raw count doubles): a fit on early origins does not read a longer record as
    a riskier pipe. A recent break weighs more than an old one."""
    from forecast.learn import snapshot

    bp = np.array([0] * 10 + [1, 2])
    bt = np.r_[np.arange(2010, 2020) + 0.5, 2018.9, 2012.1]
    args = (np.zeros(3), np.full(3, 1950.5), np.full(3, 150.0), np.full(3, 100.0), [], bp, bt, 2010.0)
    early = snapshot(*args, 2014.0, with_target=False).feats
    late = snapshot(*args, 2019.0, with_target=False).feats
    assert late["n_all"][0] > 2 * early["n_all"][0] - 1
    assert late["n_rate"][0] == pytest.approx(early["n_rate"][0], rel=0.15)
    assert late["n_recent"][0] == pytest.approx(early["n_recent"][0], rel=0.15)
    assert late["n_recent"][1] > late["n_recent"][2] > 0


def test_boosting_never_ranks_an_older_or_more_often_broken_pipe_as_safer() -> None:
    """Even on a record where young pipes broke more (a bad batch laid recently), the boosting's
    rate does not fall with age or with the past-break rate, all else equal: with a few hundred
    breaks a dip is far more often noise than a real 'older is safer'."""
    from forecast.learn import _Data, _gbm

    rng = np.random.default_rng(7)
    n = 6000
    age = rng.uniform(0, 80, n)
    n_rate = rng.poisson(0.3, n) / 5.0
    X = {"material": rng.integers(0, 3, n).astype(float), "age": age, "log_diameter": np.full(n, np.log(150.0)),
         "log_km": np.full(n, np.log(0.1)), "n_all": n_rate * 5, "n1": np.zeros(n), "n3": np.zeros(n),
         "tslb": np.where(n_rate > 0, rng.uniform(0, 5, n), np.nan), "n_rate": n_rate, "n_recent": n_rate, "observed": np.full(n, 5.0),
         "log_eb": np.zeros(n), "log_class": np.zeros(n)}
    rate = np.where(age < 20, 3.0, 0.5) * (1.0 + age / 80.0) * np.where(n_rate > 0.3, 0.5, 1.0)
    e = np.full(n, 0.1)
    train = _Data(X, e, rng.poisson(rate * e).astype(float))
    grid = np.linspace(0, 80, 41)
    test = _Data({k: np.full(grid.size, np.median(v)) if k != "age" else grid for k, v in X.items()},
                 np.full(grid.size, 0.1), None)
    r = _gbm(train, test, ["material"])
    assert np.all(np.diff(r) >= -1e-12), r
    test_b = _Data({k: np.full(grid.size, np.median(v)) for k, v in X.items()}, np.full(grid.size, 0.1), None)
    test_b.X["n_rate"] = np.linspace(0, 1.4, grid.size)
    assert np.all(np.diff(_gbm(train, test_b, ["material"])) >= -1e-12)
