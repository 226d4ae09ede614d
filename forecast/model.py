"""Expected pipe breaks within a horizon: a recurrent-event survival model (docs/forecast.md).

* :func:`prepare_pipes` / :func:`prepare_breaks` validate the tables (``InputFileError`` naming
  the column, row and value) and put them on the decimal-year axis.
* :func:`fit` fits, on the history up to the as-of date, a Weibull intensity in pipe age with
  covariates (lifelines' ``WeibullAFTFitter`` on counting-process intervals: every pipe's observed
  life is cut at each break and where the time since its last break crosses 1 and 3 years, with
  delayed entry at the start of each interval). With too few breaks it falls back to a gamma-Poisson
  length x material base rate.
* :func:`predict` integrates the fitted intensity over ``[as_of, as_of + horizon]`` per pipe:
  the expected number of breaks (a rate, calibrated in sum; it is not a probability).
* :func:`score` = all of it on two DataFrames; the function the app and the CLI use.
"""
from __future__ import annotations

import math
import re
import time
import warnings
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from forecast.dates import decimal_years
from forecast.errors import ForecastError, InputFileError
from forecast.learn import MIN_RECORD_YEARS, detect_covariates, select_and_fit
from forecast.rules import ForecastRules, default_rules, normalise_material

__all__ = ["PIPE_COLUMNS", "BREAK_COLUMNS", "Inventory", "Breaks", "Fitted", "prepare_pipes", "prepare_breaks",
           "fit", "predict", "score", "as_of_year"]

PIPE_COLUMNS = ("id", "material", "diameter_mm", "install_year", "length_m")
BREAK_COLUMNS = ("pipe", "date")
RECENT_BINS = (1.0, 3.0)        # years since the last break: <1, 1-3, >=3 (or none)
DIAMETER_REF, LENGTH_REF = 150.0, 100.0
DEFAULT_DIAMETER = 150.0
WARM_UP_YEARS = 5.0   # first years of the record only feed the past-break counts (at most a third of it)
_DATE_RE = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})(?:[T ][0-9:.+\-Z]*)?\s*$")
_MISSING = {"", "na", "n/a", "nan", "null", "none"}


@dataclass(frozen=True)
class Inventory:
    """The pipes, validated: ids as strings in input order, numbers as floats, install as a decimal year."""

    ids: np.ndarray                 # object (str)
    material: np.ndarray            # object (canonical level)
    diameter_mm: np.ndarray         # float, imputed where missing
    diameter_imputed: np.ndarray    # bool
    install_year: np.ndarray        # float, imputed where missing
    length_m: np.ndarray            # float >= 0
    extra: dict[str, np.ndarray] = field(default_factory=dict)   # every other column, as stripped strings

    @property
    def n(self) -> int:
        return int(self.ids.size)

    @property
    def install(self) -> np.ndarray:
        """Decimal year the pipe went into service (mid-year of ``install_year``)."""
        return self.install_year + 0.5


@dataclass(frozen=True)
class Breaks:
    """Breaks on the inventory: pipe index and decimal-year time, sorted by (pipe, time)."""

    pipe: np.ndarray   # int
    t: np.ndarray      # float

    @property
    def n(self) -> int:
        return int(self.pipe.size)


@dataclass
class Fitted:
    kind: str                                  # "selected", "weibull" or "base_rate"
    as_of: float                               # decimal year
    history_start: float | None
    n_train_breaks: int
    columns: list[str] = field(default_factory=list)
    beta: np.ndarray | None = None             # log-scale coefficients (lambda_), aligned with columns
    rho: float = 1.0
    levels: list[str] = field(default_factory=list)       # material dummies
    level_map: dict[str, str] = field(default_factory=dict)  # material -> level used for the dummies
    rates: np.ndarray | None = None            # base_rate, selected: rate per km-year, per pipe
    candidate: str = ""                        # selected: the backtest's choice (forecast.learn.CANDIDATES)
    backtest: dict[str, Any] = field(default_factory=dict)   # selected: fold captures, calibration, covariates
    frailty_shape: float = math.inf            # weibull: gamma frailty shape (inf = none)
    frailty: np.ndarray | None = None          # weibull: posterior frailty per pipe (mean ~1)
    fit_seconds: float = 0.0
    note: str = ""


# ---------------------------------------------------------------- reading and validation


def _norm_columns(df: pd.DataFrame, required: tuple[str, ...], source: str) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise InputFileError(f"{source}: expected a table, got {type(df).__name__}")
    names = [str(c).strip().lower().lstrip("\ufeff") for c in df.columns]
    dup = sorted({c for c in names if names.count(c) > 1 and c in required})
    if dup:
        raise InputFileError(f"{source}: column {dup[0]!r} appears more than once")
    missing = [c for c in required if c not in names]
    if missing:
        what = "column" if len(missing) == 1 else "columns"
        raise InputFileError(f"{source}: missing {what} {', '.join(repr(m) for m in missing)} "
                             f"(need {','.join(required)})")
    out = df.copy()
    out.columns = names
    return out


def _strings(col: pd.Series) -> np.ndarray:
    return np.array(["" if (v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA) else str(v).strip()
                     for v in col.tolist()], dtype=object)


def _numbers(col: pd.Series, name: str, source: str, line0: int) -> np.ndarray:
    """Floats with NaN for missing cells; a cell that is not a finite number is an error."""
    text = _strings(col)
    out = np.full(text.size, np.nan)
    for i, s in enumerate(text):
        if s.lower() in _MISSING:
            continue
        try:
            v = float(s.replace(",", ".")) if s.count(",") == 1 and "." not in s else float(s)
        except ValueError:
            raise InputFileError(f"{source}:{i + line0}: {name} {s[:40]!r} is not a number") from None
        if not math.isfinite(v):
            raise InputFileError(f"{source}:{i + line0}: {name} {s[:40]!r} is not a finite number")
        out[i] = v
    return out


def _check_text(values: np.ndarray, name: str, source: str, line0: int) -> None:
    for i, s in enumerate(values):
        if "\x00" in s or "\n" in s or "\r" in s:
            raise InputFileError(f"{source}:{i + line0}: {name} contains a NUL byte or a line break")


def prepare_pipes(df: pd.DataFrame, rules: ForecastRules | None = None, *, source: str = "pipes",
                  line0: int = 2) -> Inventory:
    """Validate the pipes table (``line0``: the file line of the first row, for messages)."""
    rules = rules or default_rules()
    df = _norm_columns(df, PIPE_COLUMNS, source)
    ids = _strings(df["id"])
    _check_text(ids, "id", source, line0)
    empty = np.nonzero(ids == "")[0]
    if empty.size:
        raise InputFileError(f"{source}:{empty[0] + line0}: empty pipe id")
    seen: dict[str, int] = {}
    for i, pid in enumerate(ids):
        if pid in seen:
            raise InputFileError(f"{source}:{i + line0}: duplicate pipe id {pid[:60]!r} (first at line {seen[pid] + line0})")
        seen[pid] = i
    mat_raw = _strings(df["material"])
    _check_text(mat_raw, "material", source, line0)
    material = np.array(normalise_material(list(mat_raw), rules), dtype=object)
    diam = _numbers(df["diameter_mm"], "diameter_mm", source, line0)
    bad = np.nonzero(diam <= 0)[0]
    if bad.size:
        raise InputFileError(f"{source}:{bad[0] + line0}: diameter_mm {diam[bad[0]]:g} must be > 0")
    year = _numbers(df["install_year"], "install_year", source, line0)
    bad = np.nonzero((year < 1800) | (year > 2200))[0]
    if bad.size:
        raise InputFileError(f"{source}:{bad[0] + line0}: install_year {year[bad[0]]:g} is outside 1800-2200")
    length = _numbers(df["length_m"], "length_m", source, line0)
    miss = np.nonzero(np.isnan(length))[0]
    if miss.size:
        raise InputFileError(f"{source}:{miss[0] + line0}: length_m is missing")
    bad = np.nonzero(length < 0)[0]
    if bad.size:
        raise InputFileError(f"{source}:{bad[0] + line0}: length_m {length[bad[0]]:g} must be >= 0")
    imputed = np.isnan(diam)
    diam = _impute_by_material(diam, material, DEFAULT_DIAMETER)
    year = np.floor(_impute_by_material(year, material, 1970.0))
    extra: dict[str, np.ndarray] = {}
    for j, name in enumerate(df.columns):
        if name not in PIPE_COLUMNS and name and name not in extra:
            values = _strings(df.iloc[:, j])
            _check_text(values, name, source, line0)
            extra[name] = values
    return Inventory(ids=ids, material=material, diameter_mm=diam, diameter_imputed=imputed,
                     install_year=year, length_m=length, extra=extra)


def _impute_by_material(values: np.ndarray, material: np.ndarray, default: float) -> np.ndarray:
    """Missing values: the median of the same material, else of all pipes, else ``default``."""
    out = values.copy()
    miss = np.isnan(out)
    if not miss.any():
        return out
    known = ~miss
    overall = float(np.median(out[known])) if known.any() else default
    for level in np.unique(material[miss]):
        same = material == level
        pool = out[same & known]
        out[same & miss] = float(np.median(pool)) if pool.size else overall
    return out


def _parse_dates(text: np.ndarray, name: str, source: str, line0: int) -> np.ndarray:
    days = np.empty(text.size, dtype="datetime64[D]")
    cache: dict[str, np.datetime64] = {}
    for i, s in enumerate(text):
        d = cache.get(s)
        if d is None:
            m = _DATE_RE.match(s)
            if not m:
                raise InputFileError(f"{source}:{i + line0}: {name} {s[:40]!r} is not a date (YYYY-MM-DD)")
            try:
                d = np.datetime64(date.fromisoformat(m.group(1)), "D")
            except ValueError:
                raise InputFileError(f"{source}:{i + line0}: {name} {s[:40]!r} is not a valid date") from None
            cache[s] = d
        days[i] = d
    return days


def prepare_breaks(df: pd.DataFrame, inv: Inventory, *, source: str = "breaks", pipes_source: str = "pipes",
                   line0: int = 2) -> Breaks:
    """Validate the breaks table: every row needs a known pipe and a valid date (all rows are checked,
    also those after the as-of date, which :func:`fit` ignores)."""
    df = _norm_columns(df, BREAK_COLUMNS, source)
    pipes = _strings(df["pipe"])
    _check_text(pipes, "pipe", source, line0)
    index = {pid: i for i, pid in enumerate(inv.ids)}
    idx = np.empty(pipes.size, dtype=np.int64)
    for i, pid in enumerate(pipes):
        if pid == "":
            raise InputFileError(f"{source}:{i + line0}: empty pipe id")
        j = index.get(pid)
        if j is None:
            raise InputFileError(f"{source}:{i + line0}: pipe {pid[:60]!r} is not in {pipes_source}")
        idx[i] = j
    days = _parse_dates(_strings(df["date"]), "date", source, line0)
    t = decimal_years(days) + 0.5 / 366.0   # mid-day
    order = np.lexsort((t, idx))
    idx, t = idx[order], t[order]
    # several breaks of one pipe on one day: spread them by minutes so that each is its own event
    if t.size > 1:
        same = np.r_[False, (idx[1:] == idx[:-1]) & (t[1:] == t[:-1])]
        if same.any():
            run = np.zeros(t.size)
            for i in np.nonzero(same)[0]:
                run[i] = run[i - 1] + 1
            t = t + run * 1e-5
    return Breaks(pipe=idx, t=t)


def as_of_year(as_of: date | str | np.datetime64) -> float:
    """The as-of date on the decimal-year axis (start of that day)."""
    if isinstance(as_of, str):
        m = re.fullmatch(r"\d{4}-\d{2}-\d{2}", as_of.strip())
        if not m:
            raise InputFileError(f"--as-of {as_of[:40]!r} is not a date (YYYY-MM-DD)")
        try:
            as_of = date.fromisoformat(as_of.strip())
        except ValueError:
            raise InputFileError(f"--as-of {as_of[:40]!r} is not a valid date") from None
    return float(decimal_years(np.array([np.datetime64(as_of, "D")]))[0])


# ---------------------------------------------------------------- the model


def _keys(pipe: np.ndarray, t: np.ndarray, t0: float, span: float) -> np.ndarray:
    return pipe.astype(float) * span + (t - t0)


def _recent(tslb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r1 = (tslb >= 0) & (tslb < RECENT_BINS[0])
    r3 = (tslb >= RECENT_BINS[0]) & (tslb < RECENT_BINS[1])
    return r1.astype(float), r3.astype(float)


def _effective_install(inv: Inventory, br: Breaks) -> np.ndarray:
    """Install time, moved back to just before the pipe's first recorded break if that came earlier
    (install years in inventories are often approximate)."""
    install = inv.install.copy()
    if br.n:
        first = np.full(inv.n, np.inf)
        np.minimum.at(first, br.pipe, br.t)
        early = first < install
        install[early] = first[early] - 0.5
    return install


def _design(inv: Inventory, lv: list[str], level_map: dict[str, str], idx: np.ndarray, n_prev: np.ndarray,
            r1: np.ndarray, r3: np.ndarray) -> np.ndarray:
    mats = np.array([level_map.get(m, "") for m in inv.material], dtype=object)[idx]
    cols = [(mats == level).astype(float) for level in lv]
    cols += [np.log(inv.diameter_mm[idx] / DIAMETER_REF),
             np.log(np.maximum(inv.length_m[idx], 1.0) / LENGTH_REF),
             np.log1p(n_prev), r1, r3]

    return np.column_stack(cols) if cols else np.empty((idx.size, 0))


_BASE_COLUMNS = ["log_diameter", "log_length", "log1p_prev_breaks", "break_lt_1y", "break_1_3y"]


def _intervals(inv: Inventory, br: Breaks, install: np.ndarray, start: float, as_of: float
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Counting-process rows: (pipe, entry age, stop age, event, n_prev, time since last break)."""
    s = np.maximum(install, start)
    live = (s < as_of) & (inv.length_m > 0)
    hist = br.t <= as_of
    bp, bt = br.pipe[hist], br.t[hist]
    t0 = min(float(install.min()), start) - 10.0
    span = as_of - t0 + 10.0
    cut_p = [np.nonzero(live)[0], np.nonzero(live)[0]]
    cut_t = [s[live], np.full(int(live.sum()), as_of)]
    for shift in (0.0, *RECENT_BINS):
        c = bt + shift
        ok = live[bp] & (c > s[bp]) & (c < as_of)
        cut_p.append(bp[ok])
        cut_t.append(c[ok])
    cp = np.concatenate(cut_p)
    ct = np.concatenate(cut_t)
    order = np.lexsort((ct, cp))
    cp, ct = cp[order], ct[order]
    keep = np.r_[True, (cp[1:] != cp[:-1]) | (ct[1:] != ct[:-1])]
    cp, ct = cp[keep], ct[keep]
    same = cp[1:] == cp[:-1]
    p, u, v = cp[:-1][same], ct[:-1][same], ct[1:][same]
    bk = _keys(bp, bt, t0, span)
    uk, vk = _keys(p, u, t0, span), _keys(p, v, t0, span)
    lo = np.searchsorted(bk, p.astype(float) * span, side="left")
    upto = np.searchsorted(bk, uk, side="right")
    n_prev = (upto - lo).astype(float)
    last = np.where(n_prev > 0, bt[np.maximum(upto - 1, 0)], -np.inf)
    event = (np.searchsorted(bk, vk, side="right") - np.searchsorted(bk, vk, side="left")) > 0
    ins = install[p]
    return p, u - ins, v - ins, event.astype(float), n_prev, u - last


def fit(inv: Inventory, br: Breaks, as_of: float, *, rules: ForecastRules | None = None,
        history_start: float | None = None) -> Fitted:
    """Fit on the breaks up to ``as_of`` (decimal year). ``history_start``: when break records began
    (default: the first recorded break)."""
    rules = rules or default_rules()
    started = time.perf_counter()
    hist = br.t <= as_of
    n_hist = int(hist.sum())
    if history_start is None and n_hist:
        history_start = float(br.t[hist].min()) - 1e-6
    install = _effective_install(inv, Breaks(br.pipe[hist], br.t[hist]))
    n_train = int((br.t[hist] > history_start).sum()) if history_start is not None else 0
    fitted: Fitted | None = None
    note = ""
    if n_train >= rules.min_breaks_for_model and inv.n > 0 and as_of - history_start >= MIN_RECORD_YEARS:
        try:
            fitted = _fit_selected(inv, Breaks(br.pipe[hist], br.t[hist]), install, history_start, as_of)
        except Exception as exc:  # noqa: BLE001 - a failed fit falls back to the survival model
            fitted = None
            note = f"backtest selection failed ({type(exc).__name__}); survival model used"
    if fitted is None and n_train >= rules.min_breaks_for_model and inv.n > 0:
        try:
            fitted = _fit_weibull(inv, Breaks(br.pipe[hist], br.t[hist]), install, history_start, as_of)
        except Exception as exc:  # noqa: BLE001 - a failed optimisation falls back, it never crashes
            fitted = None
            note = f"survival model did not fit ({type(exc).__name__}); base rates used"
    elif fitted is None:
        note = f"{n_train} breaks before the as-of date (< {rules.min_breaks_for_model}); base rates used"
    if fitted is None:
        fitted = _fit_base_rate(inv, Breaks(br.pipe[hist], br.t[hist]), install, history_start, as_of, rules)
        fitted.note = note
    fitted.n_train_breaks = n_train
    fitted.fit_seconds = time.perf_counter() - started
    return fitted


def _fit_selected(inv: Inventory, br: Breaks, install: np.ndarray, start: float, as_of: float) -> Fitted | None:
    """The candidate that ranks best in a rolling-origin backtest on this record (forecast/learn.py)."""
    levels = sorted(set(inv.material.tolist()))
    code = np.array([levels.index(m) for m in inv.material], dtype=float)
    covariates = detect_covariates(inv.extra)
    sel = select_and_fit(code, install, inv.diameter_mm, inv.length_m, covariates, br.pipe, br.t, start, as_of)
    if sel is None:
        return None
    return Fitted(kind="selected", as_of=as_of, history_start=start, n_train_breaks=0, rates=sel.rates,
                  candidate=sel.candidate,
                  backtest={"candidate": sel.candidate, "fold_capture10": [round(x, 4) for x in sel.folds],
                            "mean_capture10": {k: round(v, 4) for k, v in sel.scores.items()},
                            "calibration_scale": round(sel.scale, 4), "covariates": sel.covariates})


def _fit_weibull(inv: Inventory, br: Breaks, install: np.ndarray, start: float, as_of: float) -> Fitted:
    from lifelines import WeibullAFTFitter  # heavy: loaded only when the survival model is fitted

    warm = min(WARM_UP_YEARS, max(as_of - start, 0.0) / 3.0)
    p, entry, stop, event, n_prev, tslb = _intervals(inv, br, install, start + warm, as_of)
    if not event.any():
        raise ForecastError("no break inside the fitting window")
    # material levels: the one with the most pipe rows is the reference; a level without any
    # training rows gets the dummies of "other" (if trained) or of the reference
    counts = pd.Series(inv.material[p]).value_counts()
    trained = list(counts.index)
    reference = trained[0]
    lv = [lvl for lvl in sorted(trained) if lvl != reference]
    level_map = {m: (m if m in trained else ("other" if "other" in trained else reference))
                 for m in np.unique(inv.material)}
    r1, r3 = _recent(tslb)
    X = _design(inv, lv, level_map, p, n_prev, r1, r3)
    columns = [f"material_{lvl}" for lvl in lv] + _BASE_COLUMNS
    keep = X.std(axis=0) > 0
    X, columns = X[:, keep], [c for c, k in zip(columns, keep) if k]
    frame = pd.DataFrame(X, columns=columns)
    frame["entry"] = np.maximum(entry, 0.0)
    frame["stop"] = np.maximum(stop, frame["entry"].to_numpy() + 1e-9)
    frame["event"] = event
    model = WeibullAFTFitter(penalizer=0.001)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(frame, duration_col="stop", event_col="event", entry_col="entry")
    params = model.params_
    beta = np.array([float(params.loc[("lambda_", c)]) for c in columns])
    intercept = float(params.loc[("lambda_", "Intercept")])
    rho = float(np.exp(params.loc[("rho_", "Intercept")]))
    if not (np.all(np.isfinite(beta)) and math.isfinite(intercept) and math.isfinite(rho)):
        raise ForecastError("non-finite coefficients")
    fitted = Fitted(kind="weibull", as_of=as_of, history_start=start, n_train_breaks=0,
                    columns=["Intercept", *columns], beta=np.r_[intercept, beta], rho=rho,
                    levels=lv, level_map=level_map)
    # gamma frailty: each pipe's own breaks against what the covariates expected over its record
    lam = np.exp(intercept + X @ beta)
    dH = (frame["stop"].to_numpy() / lam) ** rho - (frame["entry"].to_numpy() / lam) ** rho
    cum = np.bincount(p, weights=dH, minlength=inv.n)
    n_i = np.bincount(p, weights=event, minlength=inv.n)
    shape = _frailty_shape(n_i, cum)
    fitted.frailty_shape = shape
    fitted.frailty = (shape + n_i) / (shape + cum) if math.isfinite(shape) else np.ones(inv.n)
    return fitted


def _frailty_shape(n: np.ndarray, cum: np.ndarray) -> float:
    """Gamma frailty shape by maximum marginal (negative binomial) likelihood of each pipe's count
    of breaks given its fitted cumulative hazard; inf when the counts show no extra variation."""
    from scipy.optimize import minimize_scalar  # loaded only when a rate model is fitted
    from scipy.special import gammaln  # loaded only when a rate model is fitted

    use = cum > 0
    n, cum = n[use], cum[use]

    def nll(log_a: float) -> float:
        a = math.exp(log_a)
        return -float(np.sum(gammaln(n + a) - gammaln(a) + a * np.log(a / (a + cum)) + n * np.log(cum / (a + cum))))

    res = minimize_scalar(nll, bounds=(math.log(0.02), math.log(1000.0)), method="bounded")
    a = math.exp(res.x)
    return a if a < 500.0 else math.inf


def _fit_base_rate(inv: Inventory, br: Breaks, install: np.ndarray, start: float | None, as_of: float,
                   rules: ForecastRules) -> Fitted:
    """Gamma-Poisson: prior rate per km-year by material (rules, scaled to this network's record),
    updated by each pipe's own breaks over its observed km-years."""
    km = inv.length_m / 1000.0
    prior = np.array([rules.base_rate_per_km_year.get(m, rules.base_rate_per_km_year["other"])
                      for m in inv.material])
    if start is not None:
        years = np.clip(as_of - np.maximum(install, start), 0.0, None)
        exposure = km * years
        inside = br.t > start
        n_i = np.bincount(br.pipe[inside], minlength=inv.n).astype(float)
    else:
        exposure = np.zeros(inv.n)
        n_i = np.zeros(inv.n)
    k = 5.0   # pseudo-breaks: the network-wide scale moves off the rules' rates only with evidence
    scale = (n_i.sum() + k) / (float((prior * exposure).sum()) + k) if exposure.sum() > 0 else 1.0
    prior = prior * scale
    a = rules.prior_shape
    rates = (a + n_i) / (a / prior + exposure)
    return Fitted(kind="base_rate", as_of=as_of, history_start=start, n_train_breaks=0, rates=rates)


def predict(inv: Inventory, br: Breaks, fitted: Fitted, horizon_days: float) -> np.ndarray:
    """Expected breaks of every pipe in ``[as_of, as_of + horizon_days]`` (inventory order)."""
    if not horizon_days > 0:
        raise InputFileError(f"horizon {horizon_days!r} days must be > 0")
    if inv.n == 0:
        return np.zeros(0)
    a = fitted.as_of
    h = horizon_days / 365.25
    hist = br.t <= a
    bp, bt = br.pipe[hist], br.t[hist]
    install = _effective_install(inv, Breaks(bp, bt))
    begin = np.maximum(a, install)
    end = a + h
    alive_years = np.clip(end - begin, 0.0, None)
    if fitted.kind in ("base_rate", "selected"):
        out = fitted.rates * inv.length_m / 1000.0 * alive_years
        return np.where(inv.length_m > 0, out, 0.0)
    n_prev = np.bincount(bp, minlength=inv.n).astype(float)
    last = np.full(inv.n, -np.inf)
    np.maximum.at(last, bp, bt)
    edges = [begin]
    for b in RECENT_BINS:
        edges.append(np.clip(last + b, begin, np.maximum(begin, end)))
    edges.append(np.maximum(begin, end))
    edges = np.sort(np.column_stack(edges), axis=1)
    idx = np.arange(inv.n)
    total = np.zeros(inv.n)
    rho = fitted.rho
    for k in range(edges.shape[1] - 1):
        lo, hi = edges[:, k], edges[:, k + 1]
        seg = hi > lo
        if not seg.any():
            continue
        mid = (lo + hi) / 2
        r1, r3 = _recent(np.where(np.isfinite(last), mid - last, np.inf))
        X = _design(inv, fitted.levels, fitted.level_map, idx, n_prev, r1, r3)
        names = [f"material_{lvl}" for lvl in fitted.levels] + _BASE_COLUMNS
        pos = {c: i for i, c in enumerate(names)}
        lin = np.full(inv.n, fitted.beta[0])
        for c, b in zip(fitted.columns[1:], fitted.beta[1:]):
            lin = lin + b * X[:, pos[c]]
        lam = np.exp(lin)
        age_lo = np.maximum(lo - install, 0.0)
        age_hi = np.maximum(hi - install, 0.0)
        total += np.where(seg, (age_hi / lam) ** rho - (age_lo / lam) ** rho, 0.0)
    if fitted.frailty is not None:
        total = total * fitted.frailty
    return np.where(inv.length_m > 0, np.maximum(total, 0.0), 0.0)


def score(pipes_df: pd.DataFrame, breaks_df: pd.DataFrame, as_of: date | str, horizon_days: float = 365, *,
          rules: ForecastRules | None = None, history_start: date | str | None = None,
          info: dict[str, Any] | None = None) -> pd.DataFrame:
    """Expected breaks of every pipe of ``pipes_df`` (same order) within ``horizon_days`` after ``as_of``.

    Columns: ``pipe`` (str id), ``expected_breaks``, ``risk_per_km`` (expected breaks per km in the
    horizon), ``material`` (canonical level), ``diameter_mm`` (imputed where missing),
    ``install_year``, ``length_m``, ``past_breaks`` (up to ``as_of``), ``last_break`` (decimal year
    or NaN). ``info`` (a dict, optional) receives the model kind, coefficients and fit time.
    Raises :class:`~forecast.errors.ForecastError` on bad input.
    """
    rules = rules or default_rules()
    try:
        horizon = float(horizon_days)
    except (TypeError, ValueError):
        raise InputFileError(f"horizon {horizon_days!r} days is not a number") from None
    if not (math.isfinite(horizon) and horizon > 0):
        raise InputFileError(f"horizon {horizon_days!r} days must be > 0")
    a = as_of_year(as_of)
    inv = prepare_pipes(pipes_df, rules)
    br = prepare_breaks(breaks_df, inv)
    hs = as_of_year(history_start) if history_start is not None else None
    fitted = fit(inv, br, a, rules=rules, history_start=hs)
    expected = predict(inv, br, fitted, horizon)
    hist = br.t <= a
    past = np.bincount(br.pipe[hist], minlength=inv.n)
    last = np.full(inv.n, -np.inf)
    np.maximum.at(last, br.pipe[hist], br.t[hist])
    km = inv.length_m / 1000.0
    if info is not None:
        info.update(kind=fitted.kind, n_train_breaks=fitted.n_train_breaks, fit_seconds=fitted.fit_seconds,
                    note=fitted.note, rho=fitted.rho, frailty_shape=fitted.frailty_shape, history_start=fitted.history_start,
                    coefficients=dict(zip(fitted.columns, (fitted.beta.tolist() if fitted.beta is not None else []))),
                    ignored_after_as_of=int((~hist).sum()), candidate=fitted.candidate, backtest=fitted.backtest)
    return pd.DataFrame({
        "pipe": inv.ids.astype(str) if inv.n else np.array([], dtype=object),
        "expected_breaks": expected,
        "risk_per_km": np.divide(expected, km, out=np.zeros(inv.n), where=km > 0),
        "material": inv.material,
        "diameter_mm": inv.diameter_mm,
        "install_year": inv.install_year.astype(int) if inv.n else np.array([], dtype=int),
        "length_m": inv.length_m,
        "past_breaks": past,
        "last_break": np.where(np.isfinite(last), last, np.nan),
    })
