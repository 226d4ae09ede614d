"""Break rates chosen by a rolling-origin backtest inside the given history (docs/forecast.md, "The model").

The network's own record decides which ranking works on it. For an as-of date ``T``:

* **Snapshots.** For an origin ``o`` (``T - 1``, ``T - 2``, ...) every pipe gets the features it had on
  ``o`` — age, material, diameter, length, every extra column of the inventory (numeric or
  categorical, detected), its breaks in the record before ``o`` (count, in the last 1 and 3 years,
  time since the last one, years observed, the count per year of record, a recency-weighted count)
  and an empirical-Bayes rate that shrinks its own breaks towards its class (material x age decade) — and the target: its breaks in ``[o, o + 1)`` per km of
  pipe in service then.
* **Candidates.** Poisson gradient boosting (scikit-learn ``HistGradientBoostingRegressor(loss=
  "poisson")``), a Poisson GLM (``PoissonRegressor``; length as exposure: breaks per km weighted by
  km), the naive "most past breaks first" and "oldest first" as rate models (the breaks per km of
  each past-break count / age band, isotonic, ties as the heuristics break them), and blends.
* **Selection.** For each fold ``v`` in ``T - 1`` ... ``T - 5`` (those the record allows): fit every candidate on the
  snapshots before ``v`` (origins ``v - 1``, ``v - 2``, ...; their targets end by ``v``), rank the
  pipes on ``v``, and measure the share of year ``v``'s breaks on the riskiest pipes making up 10 %
  of the length. The candidate with the best mean share is refitted on the snapshots before ``T`` —
  unless a simpler one (the heuristics first) trails it by less than one standard error of the
  paired fold differences (:func:`choose`): a gain within the noise of the folds is not taken.
* **Calibration.** Its forecast is multiplied by the geometric mean over the last three folds of
  (breaks observed) / (breaks it predicted), each held within 0.5-2, so the network total follows
  what the record shows out of sample.

Pure numpy / pandas / scikit-learn; no database.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Covariate", "detect_covariates", "Selection", "select_and_fit", "choose", "MIN_RECORD_YEARS", "CANDIDATES"]

MIN_RECORD_YEARS = 4.0      # one fold needs two training origins, each with a year of record before it
FOLDS = 5
GBM_ROWS = 40000           # gradient boosting rows per fit (zero rows subsampled above that)
MAX_ORIGINS = 5             # training snapshots per fit (the most recent)
SMALL_RECORD_BREAKS = 100   # fewer breaks in all folds together: the selection is among these only
SMALL_RECORD_CANDIDATES = ("eb",)   # each pipe's gamma-Poisson posterior rate around its class
RECENCY_YEARS = 2.0         # a past break's weight in the recency-weighted count: exp(-its age / this)
TOP_SHARE = 0.10            # the selection measure: breaks on the riskiest 10 % of length
MAX_LEVELS = 30             # categorical covariate: the most frequent levels; the rest are one level
_MISSING = {"", "na", "n/a", "nan", "null", "none", "-"}
CANDIDATES = ("past", "oldest", "glm", "gbm", "gbm+glm", "glm+past", "gbm+past", "past>gbm")   # a tie goes to the first (simplest)


# ---------------------------------------------------------------- covariates


@dataclass(frozen=True)
class Covariate:
    """An extra inventory column used as a feature: ``numeric`` (floats, NaN where missing) or
    ``categorical`` (codes into ``levels``; the last code is every other level and missing)."""

    name: str
    kind: str
    values: np.ndarray
    levels: tuple[str, ...] = ()


def _parse_float(s: str) -> float | None:
    try:
        v = float(s.replace(",", ".")) if s.count(",") == 1 and "." not in s else float(s)
    except ValueError:
        return None
    return v


def detect_covariates(extra: dict[str, np.ndarray]) -> list[Covariate]:
    """Every extra column that can carry information: a column whose filled cells are all numbers
    is numeric (a non-finite number counts as missing); any other is categorical (case and spaces
    ignored) unless it is constant or looks like an identifier or a free text (more than half of its
    filled cells distinct, and over 50 levels). Columns empty or constant are left out."""
    out: list[Covariate] = []
    for name, raw in extra.items():
        text = np.array([str(v).strip() for v in raw], dtype=object)
        filled = np.array([s.lower() not in _MISSING for s in text], dtype=bool)
        if not filled.any():
            continue
        nums = [(_parse_float(s) if f else math.nan) for s, f in zip(text, filled)]
        if all(v is not None for v in nums):
            values = np.array(nums, dtype=float)
            values[~np.isfinite(values)] = np.nan
            if np.unique(values[np.isfinite(values)]).size > 1:
                out.append(Covariate(name=name, kind="numeric", values=values))
            continue
        low = np.array([" ".join(s.lower().split()) for s in text], dtype=object)
        levels, counts = np.unique(low[filled], return_counts=True)
        if levels.size <= 1 or (levels.size > 50 and levels.size > 0.5 * filled.sum()):
            continue
        keep = [str(lv) for lv in levels[np.argsort(-counts, kind="stable")][:MAX_LEVELS]]
        index = {lv: i for i, lv in enumerate(keep)}
        codes = np.array([index.get(s, len(keep)) if f else len(keep) for s, f in zip(low, filled)], dtype=float)
        out.append(Covariate(name=name, kind="categorical", values=codes, levels=tuple(keep)))
    return out


# ---------------------------------------------------------------- snapshots


@dataclass
class Snapshot:
    """The pipes as seen on one origin ``o``: features, exposure in ``[o, o + 1)`` and (if known) breaks there."""

    origin: float
    feats: dict[str, np.ndarray]
    exposure_km_years: np.ndarray
    km: np.ndarray
    y: np.ndarray | None


def _eb_shape(n: np.ndarray, expected: np.ndarray) -> float:
    """Gamma shape of the per-pipe heterogeneity around the class rate (negative binomial marginal
    likelihood); 500 when the counts show no extra variation."""
    from scipy.optimize import minimize_scalar  # loaded only when a rate model is fitted
    from scipy.special import gammaln  # loaded only when a rate model is fitted

    use = expected > 0
    n, mu = n[use], expected[use]
    if n.sum() == 0:
        return 500.0

    def nll(log_a: float) -> float:
        a = math.exp(log_a)
        return -float(np.sum(gammaln(n + a) - gammaln(a) + a * np.log(a / (a + mu)) + n * np.log(mu / (a + mu))))

    res = minimize_scalar(nll, bounds=(math.log(0.02), math.log(500.0)), method="bounded")
    return float(math.exp(res.x))


def snapshot(material_code: np.ndarray, install: np.ndarray, diameter: np.ndarray, length_m: np.ndarray,
             covariates: list[Covariate], bp: np.ndarray, bt: np.ndarray, start: float, origin: float,
             *, with_target: bool) -> Snapshot:
    """Features on ``origin`` from the breaks recorded in ``[start, origin)``; target = breaks in
    ``[origin, origin + 1)`` when ``with_target``."""
    n = install.size
    km = length_m / 1000.0
    age = origin - install
    rec = (bt >= start) & (bt < origin)
    p, t = bp[rec], bt[rec]
    n_all = np.bincount(p, minlength=n).astype(float)
    n1 = np.bincount(p[t >= origin - 1.0], minlength=n).astype(float)
    n3 = np.bincount(p[t >= origin - 3.0], minlength=n).astype(float)
    last = np.full(n, -np.inf)
    np.maximum.at(last, p, t)
    tslb = np.where(np.isfinite(last), origin - last, np.nan)
    observed = np.clip(origin - np.maximum(install, start), 0.0, None)
    expo = km * observed
    # the count grows with the record's length (a fit on origins with 5 years of record would read
    # a count over 10 years as twice the risk): its yearly rate and a recency-weighted sum (a break
    # counts exp(-age / 2 years)) do not drift with the origin; under left truncation they are what
    # is left of the pipe's past
    n_rate = n_all / np.maximum(observed, 1.0)
    ew = np.zeros(n)
    np.add.at(ew, p, np.exp(-(origin - t) / RECENCY_YEARS))
    # class rate (material x age decade), shrunk towards the network's; then each pipe's own
    # record shrunk towards its class (gamma-Poisson posterior mean)
    decade = np.clip(np.floor(np.maximum(age, 0.0) / 10.0), 0, 15).astype(int)
    cls = material_code.astype(int) * 16 + decade
    total_n, total_e = n_all.sum(), expo.sum()
    g = total_n / total_e if total_e > 0 and total_n > 0 else 1e-3
    size = int(cls.max()) + 1 if n else 1
    prior_e = 50.0     # km-years at the network's rate
    rate_c = (np.bincount(cls, n_all, size) + prior_e * g) / (np.bincount(cls, expo, size) + prior_e)
    rc = rate_c[cls] if n else np.zeros(0)
    a = _eb_shape(n_all, rc * expo) if n and expo.sum() > 0 else 500.0
    eb = (a + n_all) / (a / np.maximum(rc, 1e-9) + expo)
    feats = {
        "material": material_code.astype(float), "age": age, "log_diameter": np.log(diameter),
        "log_km": np.log(np.maximum(km, 1e-3)), "n_all": n_all, "n1": n1, "n3": n3, "tslb": tslb,
        "n_rate": n_rate, "n_recent": ew, "observed": observed, "log_eb": np.log(np.maximum(eb, 1e-9)), "log_class": np.log(np.maximum(rc, 1e-9)),
    }
    for c in covariates:
        feats[f"x:{c.name}"] = c.values
    alive = np.clip(origin + 1.0 - np.maximum(origin, install), 0.0, 1.0)
    y = None
    if with_target:
        nxt = (bt >= origin) & (bt < origin + 1.0)
        y = np.bincount(bp[nxt], minlength=n).astype(float)
    return Snapshot(origin=origin, feats=feats, exposure_km_years=km * alive, km=km, y=y)


# ---------------------------------------------------------------- candidates


@dataclass
class _Data:
    X: dict[str, np.ndarray]
    e: np.ndarray
    y: np.ndarray | None

    @staticmethod
    def of(snaps: list[Snapshot]) -> "_Data":
        keys = list(snaps[0].feats)
        X = {k: np.concatenate([s.feats[k] for s in snaps]) for k in keys}
        e = np.concatenate([s.exposure_km_years for s in snaps])
        y = np.concatenate([s.y for s in snaps]) if all(s.y is not None for s in snaps) else None
        return _Data(X, e, y)

    def rows(self, keep: np.ndarray) -> "_Data":
        return _Data({k: v[keep] for k, v in self.X.items()}, self.e[keep], None if self.y is None else self.y[keep])


_MONOTONE = ("age", "n_rate", "n_recent", "n1", "n3", "log_eb")


def _gbm(train: _Data, test: _Data, cat_names: list[str]) -> np.ndarray:
    from sklearn.ensemble import HistGradientBoostingRegressor  # heavy: loaded only when the forecast models are fitted

    # the raw count and the record's length grow with the origin: a tree would read the as-of
    # date's longer record as beyond its training range (their stationary forms stay)
    names = [k for k in train.X if k not in ("n_all", "observed")]
    Xtr = np.column_stack([train.X[k] for k in names])
    Xte = np.column_stack([test.X[k] for k in names])
    cats = np.array([k in cat_names for k in names])
    # older and more often broken never means safer: monotone in age and the past-break rates
    mono = [1 if k in _MONOTONE else 0 for k in names]
    model = HistGradientBoostingRegressor(loss="poisson", learning_rate=0.1, max_iter=100, max_leaf_nodes=15,
                                          min_samples_leaf=200, l2_regularization=1.0, max_bins=64,
                                          monotonic_cst=mono,
                                          categorical_features=cats if cats.any() else None,
                                          early_stopping=False, random_state=0)
    w = train.e.copy()
    if train.y.size > GBM_ROWS:
        # most rows are pipes without a break that year: keep every row with breaks and a random
        # share of the others, reweighted (the Poisson score equations stay unbiased)
        zero = train.y == 0
        keep_p = min(1.0, max(GBM_ROWS - int((~zero).sum()), 1000) / max(int(zero.sum()), 1))
        pick = ~zero | (np.random.default_rng(0).random(train.y.size) < keep_p)
        w = np.where(zero, w / keep_p, w)
        Xtr, w, yy, ee = Xtr[pick], w[pick], train.y[pick], train.e[pick]
    else:
        yy, ee = train.y, train.e
    model.fit(Xtr, yy / ee, sample_weight=w)
    return np.maximum(model.predict(Xte), 1e-9)


def _glm_design(d: _Data, cat_names: list[str], ref: "_Data") -> np.ndarray:
    cols: list[np.ndarray] = []
    for k in ref.X:
        if k in ("observed", "n_all"):   # grow with the record: a term would extrapolate a drift (n_rate instead)
            continue
        v, r = d.X[k], ref.X[k]
        if k in cat_names:
            for level in np.unique(r):
                cols.append((v == level).astype(float))
            continue
        if k == "tslb":
            cols += [np.isnan(v).astype(float), np.where(np.isnan(v), 0.0, np.exp(-np.nan_to_num(v) / 1.5))]
            continue
        if k in ("n1", "n3", "n_rate", "n_recent"):
            cols.append(np.log1p(v))
            continue
        miss = np.isnan(v)
        med = float(np.nanmedian(r)) if np.isfinite(r).any() else 0.0
        cols.append(np.where(miss, med, v))
        if np.isnan(r).any():
            cols.append(miss.astype(float))
        if k == "age":
            a = np.maximum(np.where(miss, med, v), 0.0)
            cols += [np.log1p(a), (a / 50.0) ** 2]
    return np.column_stack(cols)


def _glm(train: _Data, test: _Data, cat_names: list[str]) -> np.ndarray:
    from sklearn.linear_model import PoissonRegressor  # heavy: loaded only when the forecast models are fitted

    Xtr = _glm_design(train, cat_names, train)
    Xte = _glm_design(test, cat_names, train)
    mu, sd = Xtr.mean(axis=0), Xtr.std(axis=0)
    sd[sd == 0] = 1.0
    model = PoissonRegressor(alpha=1e-4, max_iter=300, solver="newton-cholesky")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit((Xtr - mu) / sd, train.y / train.e, sample_weight=train.e)
    return np.maximum(model.predict(np.clip((Xte - mu) / sd, -20, 20)), 1e-9)


def _grouped_rate(train_group: np.ndarray, test_group: np.ndarray, train: _Data, size: int) -> np.ndarray:
    """Breaks per km-year of each group of an ordered key, made non-decreasing (isotonic)."""
    from sklearn.isotonic import IsotonicRegression  # heavy: loaded only when the forecast models are fitted

    n = np.bincount(train_group, train.y, size)
    e = np.bincount(train_group, train.e, size)
    g = (n.sum() + 1.0) / (e.sum() + 1.0)
    rate = (n + 2.0 * g) / (e + 2.0)   # two pseudo km-years at the overall rate
    iso = IsotonicRegression(increasing=True).fit(np.arange(size), rate, sample_weight=e + 1e-6)
    fitted = np.maximum(iso.predict(np.arange(size)), 1e-6 * g)
    return fitted[test_group]


def _rank01(v: np.ndarray) -> np.ndarray:
    """Ranks scaled to [0, 1) (ties share a rank)."""
    if v.size == 0:
        return v
    _, inv = np.unique(v, return_inverse=True)
    return inv / max(int(inv.max()) + 1, 1)


def _past(train: _Data, test: _Data) -> np.ndarray:
    cap = 8
    tr = np.minimum(train.X["n_all"], cap).astype(int)
    te = np.minimum(test.X["n_all"], cap).astype(int)
    base = _grouped_rate(tr, te, train, cap + 1)
    # exactly the heuristic's order: more past breaks first, ties: older first
    return base * (1.0 + 1e-4 * _rank01(test.X["n_all"]) + 1e-7 * _rank01(test.X["age"]))


def _oldest(train: _Data, test: _Data) -> np.ndarray:
    def band(a: np.ndarray) -> np.ndarray:
        return np.clip(np.floor(np.maximum(a, 0.0) / 5.0), 0, 39).astype(int)

    base = _grouped_rate(band(train.X["age"]), band(test.X["age"]), train, 40)
    return base * (1.0 + 1e-4 * _rank01(test.X["age"]))


def _rescale(rate: np.ndarray, train_rate: np.ndarray, train: _Data) -> np.ndarray:
    """A blend's rates scaled so that they add up to the training breaks (calibrated in sample)."""
    s = train.y.sum() / max(float((train_rate * train.e).sum()), 1e-12)
    return rate * s


def _candidates(train: _Data, test: _Data, cat_names: list[str], names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Rates per km-year on ``test`` of every candidate in ``names`` fitted on ``train``."""
    both = _Data({k: np.r_[train.X[k], test.X[k]] for k in train.X}, np.r_[train.e, test.e], None)
    ntr = train.e.size
    base: dict[str, np.ndarray] = {}
    need = {part for nm in names for part in nm.replace(">", "+").split("+")}
    if "gbm" in need:
        base["gbm"] = _gbm(train, both, cat_names)
    if "glm" in need:
        base["glm"] = _glm(train, both, cat_names)
    if "past" in need:
        base["past"] = _past(train, both)
    if "oldest" in need:
        base["oldest"] = _oldest(train, both)
    if "eb" in need:
        r = np.exp(both.X["log_eb"])
        base["eb"] = _rescale(r, r[:ntr], train)
    out: dict[str, np.ndarray] = {}
    for nm in names:
        if nm in base:
            out[nm] = base[nm][ntr:]
        elif ">" in nm:
            first, then = nm.split(">")
            r = base[first] * (1.0 + 1e-3 * _rank01(base[then]))
            out[nm] = r[ntr:]
        else:
            a, b = nm.split("+")
            r = np.sqrt(base[a] * base[b])
            out[nm] = _rescale(r, r[:ntr], train)[ntr:]
    return out


# ---------------------------------------------------------------- selection


def capture(rate_per_km: np.ndarray, length: np.ndarray, actual: np.ndarray, share: float = TOP_SHARE) -> float:
    """Share of ``actual`` breaks on the pipes with the highest rates making up ``share`` of the length."""
    order = np.argsort(-rate_per_km, kind="stable")
    cum = np.cumsum(length[order])
    chosen = order[cum <= share * length.sum()]
    return float(actual[chosen].sum() / max(actual.sum(), 1.0))


@dataclass
class Selection:
    candidate: str
    rates: np.ndarray                     # per km-year, per pipe, on the as-of date (calibrated)
    scale: float
    folds: list[float] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict)    # mean fold capture per candidate
    covariates: list[str] = field(default_factory=list)       # "name (numeric|categorical)"


def choose(folds: dict[str, list[float]]) -> str:
    """The candidate to refit, from each one's captures on the same folds (``folds`` in order of
    simplicity, the heuristics first): the best mean, unless a simpler candidate trails it by no
    more than the noise of the folds — one standard error of the paired differences (the one-
    standard-error rule). A few hundred breaks a year move a capture by 0.02-0.03, so a gain of that
    size seen in the backtest is as likely to be a fold's luck as the model's skill, and the
    simpler ranking is the one that does not lose it on the next year."""
    names = list(folds)
    means = {nm: float(np.mean(v)) for nm, v in folds.items()}
    best = max(names, key=lambda nm: (means[nm], -names.index(nm)))
    for nm in names[:names.index(best)]:
        d = np.asarray(folds[best]) - np.asarray(folds[nm])
        se = float(d.std(ddof=1) / math.sqrt(d.size)) if d.size > 1 else 0.0
        if d.mean() <= se:
            return nm
    return best


def _origins(before: float, start: float) -> list[float]:
    out = []
    o = before - 1.0
    while o - start >= 1.0 - 1e-9 and len(out) < MAX_ORIGINS:
        out.append(o)
        o -= 1.0
    return out


def select_and_fit(material_code: np.ndarray, install: np.ndarray, diameter: np.ndarray, length_m: np.ndarray,
                   covariates: list[Covariate], bp: np.ndarray, bt: np.ndarray, start: float, as_of: float,
                   *, names: tuple[str, ...] = CANDIDATES) -> Selection | None:
    """Backtest every candidate on the folds ``as_of - 1 .. as_of - 3``, refit the best on the
    snapshots before ``as_of`` and return its calibrated rates; ``None`` when the record is too
    short for one fold."""
    import sklearn.ensemble  # noqa: F401 - loads the OpenMP runtime, so that the limit below reaches it
    import sklearn.linear_model  # noqa: F401
    from threadpoolctl import threadpool_limits  # only the model fit limits the BLAS/OpenMP threads

    with threadpool_limits(limits=1):   # 2 shared cores: one thread is faster than two fighting
        return _select_and_fit(material_code, install, diameter, length_m, covariates, bp, bt, start, as_of, names)


def _select_and_fit(material_code, install, diameter, length_m, covariates, bp, bt, start, as_of, names):
    hist = bt < as_of
    bp, bt = bp[hist], bt[hist]
    pool = tuple(names)
    names = pool + tuple(nm for nm in SMALL_RECORD_CANDIDATES if nm not in pool)
    cat_names = ["material"] + [f"x:{c.name}" for c in covariates if c.kind == "categorical"]
    cache: dict[float, Snapshot] = {}

    def snap(o: float, target: bool) -> Snapshot:
        key = (o, target)
        if key not in cache:
            cache[key] = snapshot(material_code, install, diameter, length_m, covariates, bp, bt, start, o,
                                  with_target=target)
        return cache[key]

    sums: dict[str, list[float]] = {nm: [] for nm in names}
    ratios: dict[str, list[float]] = {nm: [] for nm in names}   # actual / predicted total, per fold
    n_folds = 0
    scored = 0.0
    for f in range(1, FOLDS + 1):
        v = as_of - f
        origins = _origins(v, start)
        if len(origins) < 2 or v - start < 1.0:
            continue
        train = _Data.of([snap(o, True) for o in origins])
        keep = train.e > 0
        if train.y[keep].sum() < 5:
            continue
        test_snap = snap(v, True)
        test = _Data.of([test_snap])
        rates = _candidates(train.rows(keep), test, cat_names, names)
        for nm, r in rates.items():
            sums[nm].append(capture(r, length_m, test_snap.y))
            pred = float((r * test.e).sum())
            ratios[nm].append(float(test_snap.y.sum()) / pred if pred > 0 else 1.0)
        scored += float(test_snap.y.sum())
        n_folds += 1
    if n_folds == 0:
        return None
    scores = {nm: float(np.mean(v)) for nm, v in sums.items()}
    if scored < SMALL_RECORD_BREAKS:
        # a few dozen breaks cannot tell eight rankings apart: each pipe's gamma-Poisson posterior
        # rate around its class (material x age decade) is taken; a fresh break raises it
        pool = tuple(nm for nm in names if nm in SMALL_RECORD_CANDIDATES)
    best = choose({nm: sums[nm] for nm in pool})
    origins = _origins(as_of, start)
    train = _Data.of([snap(o, True) for o in origins])
    keep = train.e > 0
    now = snap(as_of, False)
    rate = _candidates(train.rows(keep), _Data.of([now]), cat_names, (best,))[best]
    # calibration: the geometric mean of the last three folds' actual / predicted totals, each held
    # within 0.5-2 (one fold whose fit extrapolated badly cannot dominate); every fold carries its
    # calendar year's luck (a harsh winter: +-12 %), and three averaged vary less than their median
    logs = np.log(np.clip(np.asarray(ratios[best][:3], dtype=float), 0.5, 2.0))
    scale = float(np.exp(logs.mean()))
    return Selection(candidate=best, rates=rate * scale, scale=scale, folds=sums[best], scores=scores,
                     covariates=[f"{c.name} ({c.kind})" for c in covariates])
