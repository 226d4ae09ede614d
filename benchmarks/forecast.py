"""Time-split backtest of the break forecast on synthetic histories of different structure.

For every generator of ``forecast.synth.GENERATORS`` (the original city; age-dominated;
past-breaks-dominated with strong frailty; hidden covariates given as columns; left truncation)
and every seed: fit on the breaks before 1 Jan Y (Y = the generator's last year), score year Y, and
print side by side the project's forecast, "oldest first", "most past breaks first" (ties: older),
and the generator's own true rates (the ceiling), as

  share10%len - share of year-Y breaks on the riskiest pipes making up 10 % of the network length
                (the model ranks by expected breaks per km; the heuristics as named)
  calib       - predicted total / actual total of year Y (and / the generator's expected total:
                the generators draw a random calendar-year factor, log-sd 0.08-0.12, no forecast knows)

  expected    - the same shares weighted by the true expected breaks instead of the year's draw (no
                Poisson noise in the scoring: what the ranking is worth, not what one year showed)
  model - H   - the model's share minus the better heuristic's, +- its standard error from the
                year's Poisson noise (sqrt of the breaks on the pipes only one of the two picks)

then per generator the mean and the worst seed, and the WORST generator against the targets
(model >= the best heuristic, >= 95 % of the true rates' share, calibration within 0.8-1.25).

``--ceiling`` adds what the record can tell at best: a Poisson gradient boosting fitted to the
generator's TRUE rates (noise-free labels; cross-fitted on halves of this city plus a whole other
city of the same generator, seed + 1000) from the features a forecast can see (the record's breaks
per year, their count and recency, age, material, diameter, length, the columns). Its share is an
estimate of the best any forecast from this record can reach; the true rates also know what the
record does not show (the pipe's frailty, the breaks before the record began).

Run: ``.venv/bin/python benchmarks/forecast.py [--pipes 20000] [--seeds 3 11 29] [--generators ...] [--ceiling]``
Prints figures only (no assertions).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from forecast.model import score  # noqa: E402
from forecast.synth import GENERATORS, generate  # noqa: E402


def share_top_length(order: np.ndarray, length: np.ndarray, actual: np.ndarray, frac: float = 0.10) -> float:
    cum = np.cumsum(length[order])
    chosen = order[cum <= frac * length.sum()]
    return float(actual[chosen].sum() / max(actual.sum(), 1))


def _observable(pipes, breaks, year: int) -> tuple[np.ndarray, np.ndarray]:
    """The features a forecast as of 1 Jan ``year`` can see, one row per pipe, and the length."""
    from forecast import learn
    from forecast.model import Breaks, _effective_install, prepare_breaks, prepare_pipes

    inv = prepare_pipes(pipes)
    br = prepare_breaks(breaks, inv)
    hist = br.t < year
    p, t = br.pipe[hist], br.t[hist]
    start = float(t.min()) - 1e-6
    install = _effective_install(inv, Breaks(p, t))
    levels = sorted(set(inv.material.tolist()))
    code = np.array([levels.index(m) for m in inv.material], dtype=float)
    cov = learn.detect_covariates(inv.extra)
    feats = dict(learn.snapshot(code, install, inv.diameter_mm, inv.length_m, cov, p, t, start, float(year),
                                with_target=False).feats)
    for y in range(int(start), year):
        s = (t >= y) & (t < y + 1)
        feats[f"breaks_{y}"] = np.bincount(p[s], minlength=inv.n).astype(float)
    return np.column_stack(list(feats.values())), inv.length_m


def record_ceiling(name: str, n: int, seed: int, pipes, breaks, truth: np.ndarray, year: int) -> np.ndarray:
    """Rates per m: the best ranking the record supports, learnt from noise-free true rates."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    X, length = _observable(pipes, breaks, year)
    p2, b2, o2, y2 = generate(name, n, seed + 1000)
    X2, length2 = _observable(p2, b2, y2)
    half = np.random.default_rng(seed).random(length.size) < 0.5
    out = np.zeros(length.size)
    for part in (half, ~half):
        m = HistGradientBoostingRegressor(loss="poisson", max_iter=400, learning_rate=0.05, max_leaf_nodes=31,
                                          min_samples_leaf=40, random_state=0)
        fit_rows = ~part
        m.fit(np.r_[X[fit_rows], X2], np.r_[truth[fit_rows] / length[fit_rows], o2[y2] / length2],
              sample_weight=np.r_[length[fit_rows], length2])
        out[part] = m.predict(X[part])
    return out


def paired_se(a: np.ndarray, b: np.ndarray, length: np.ndarray, actual: np.ndarray, frac: float = 0.10) -> float:
    """Standard error of (share of ranking ``a``) - (share of ranking ``b``) from the year's Poisson
    noise alone: only the pipes one picks and the other does not count, sqrt(their breaks) / total."""
    def top(order: np.ndarray) -> np.ndarray:
        chosen = np.zeros(length.size, dtype=bool)
        chosen[order[np.cumsum(length[order]) <= frac * length.sum()]] = True
        return chosen
    differ = top(a) ^ top(b)
    return float(np.sqrt(actual[differ].sum()) / max(actual.sum(), 1))


def one_split(name: str, n: int, seed: int, ceiling: bool = False) -> dict:
    pipes, breaks, oracle, year = generate(name, n, seed)
    info: dict = {}
    t = time.perf_counter()
    s = score(pipes, breaks, f"{year}-01-01", 365, info=info)
    elapsed = time.perf_counter() - t
    nxt = breaks[(breaks["date"] >= f"{year}-01-01") & (breaks["date"] < f"{year + 1}-01-01")]
    actual = nxt["pipe"].value_counts().reindex(s["pipe"]).fillna(0).to_numpy()
    length = s["length_m"].to_numpy(dtype=float)
    age = year - s["install_year"].to_numpy()
    past = s["past_breaks"].to_numpy(dtype=float)
    truth = oracle[year]
    orders = {
        "model": np.argsort(-s["risk_per_km"].to_numpy(), kind="stable"),
        "oldest": np.lexsort((-length, -age)),
        "past": np.lexsort((-age, -past)),
        "true": np.argsort(-truth / np.maximum(length, 1e-9), kind="stable"),
    }
    if ceiling:
        orders["ceiling"] = np.argsort(-record_ceiling(name, n, seed, pipes, breaks, truth, year), kind="stable")
    out = {k: share_top_length(o, length, actual) for k, o in orders.items()}
    out.update({f"{k}_exp": share_top_length(o, length, truth) for k, o in orders.items()})
    best = "oldest" if out["oldest"] > out["past"] else "past"
    out["vs_best"] = (out["model"] - out[best], paired_se(orders["model"], orders[best], length, actual), best)
    out.update(calib=float(s["expected_breaks"].sum() / max(actual.sum(), 1)), actual=int(actual.sum()),
               calib_true=float(s["expected_breaks"].sum() / truth.sum()),
               recorded=len(breaks), fit_s=elapsed, candidate=info.get("candidate") or info.get("kind"),
               covariates=(info.get("backtest") or {}).get("covariates", []))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pipes", type=int, default=20000)
    ap.add_argument("--seeds", type=int, nargs="+", default=[3, 11, 29])
    ap.add_argument("--generators", nargs="+", default=list(GENERATORS), choices=list(GENERATORS))
    ap.add_argument("--ceiling", action="store_true", help="add the record's ceiling (slower: one more city per split)")
    args = ap.parse_args()
    results: dict[str, list[dict]] = {}
    for name in args.generators:
        for seed in args.seeds:
            r = one_split(name, args.pipes, seed, args.ceiling)
            results.setdefault(name, []).append(r)
            print(f"{name:10s} seed {seed:3d}: model {r['model']:.3f} | oldest {r['oldest']:.3f} | "
                  f"past {r['past']:.3f} | true {r['true']:.3f} | "
                  + (f"ceiling {r['ceiling']:.3f} | " if args.ceiling else "")
                  + f"model - {r['vs_best'][2]} {r['vs_best'][0]:+.3f} +- {r['vs_best'][1]:.3f} | "
                  + f"expected: model {r['model_exp']:.3f} / oldest {r['oldest_exp']:.3f} / past {r['past_exp']:.3f}"
                  + f" / true {r['true_exp']:.3f}"
                  + (f" / ceiling {r['ceiling_exp']:.3f}" if args.ceiling else "") + f" | calib {r['calib']:.2f} "
                  f"(vs the true expectation {r['calib_true']:.2f}) | "
                  f"{r['actual']} breaks scored, {r['recorded']} recorded | chose {r['candidate']} "
                  f"| fit {r['fit_s']:.1f} s" + (f" | covariates {', '.join(r['covariates'])}" if r['covariates'] else ""),
                  flush=True)
    print()
    print("| generator | model | oldest first | most past breaks first | true rates | model / best heuristic "
          "| model / best heuristic, expected | model / true | model / true, expected | " + ("ceiling / true, expected | " if args.ceiling else "")
          + "calibration (vs actual) | vs true expectation | chosen |")
    print("|---" * (13 if args.ceiling else 12) + "|")
    worst_name, worst_key = None, None
    for name, rs in results.items():
        m = np.array([r["model"] for r in rs])
        o = np.array([r["oldest"] for r in rs])
        p = np.array([r["past"] for r in rs])
        t = np.array([r["true"] for r in rs])
        c = np.array([r["calib"] for r in rs])
        ct = np.array([r["calib_true"] for r in rs])
        vs_h = m / np.maximum(o, p)
        vs_t = m / t
        vs_te = np.array([r["model_exp"] / r["true_exp"] for r in rs])
        vs_he = np.array([r["model_exp"] / max(r["oldest_exp"], r["past_exp"]) for r in rs])
        ceil = (f"{np.mean([r['ceiling_exp'] / r['true_exp'] for r in rs]):.3f} "
                f"(worst seed {np.min([r['ceiling_exp'] / r['true_exp'] for r in rs]):.3f}) | ") if args.ceiling else ""
        key = (min(vs_h.mean(), 1.0) + min(vs_t.mean() / 0.95, 1.0), vs_t.mean())
        if worst_key is None or key < worst_key:
            worst_name, worst_key = name, key
        chosen = ", ".join(sorted({r["candidate"] for r in rs}))
        results[name] = rs
        print(f"| {name} | {m.mean():.3f} | {o.mean():.3f} | {p.mean():.3f} | {t.mean():.3f} | "
              f"{vs_h.mean():.3f} (worst seed {vs_h.min():.3f}) | {vs_he.mean():.3f} (worst seed {vs_he.min():.3f}) | "
              f"{vs_t.mean():.3f} (worst seed {vs_t.min():.3f}) | "
              f"{vs_te.mean():.3f} (worst seed {vs_te.min():.3f}) | {ceil}"
              f"{c.min():.2f}-{c.max():.2f} | {ct.min():.2f}-{ct.max():.2f} | {chosen} |")
    print(f"\nworst generator: {worst_name} (means over {len(args.seeds)} seeds; targets: model / best heuristic "
          f">= 1, model / true >= 0.95, calibration 0.8-1.25)")


if __name__ == "__main__":
    main()
