"""Time-split backtest of the break forecast on a synthetic city (forecast/synth.py).

For each as-of year Y: fit on the breaks before 1 Jan Y, score year Y, and print side by side the
model, "oldest first", "most past breaks first" (ties: older first), past breaks per km, random, and
the generator's own true rates (the ceiling no forecast can pass):
  share10%len - share of year-Y breaks on the riskiest pipes making up 10 % of the network length
  prec1%      - share of the top 1 % of pipes that break in year Y (the Syracuse measure)
plus predicted total vs actual total (calibration) and fit time.

Run: ``.venv/bin/python benchmarks/forecast.py [--pipes 40000] [--seeds 3 11] [--years 2019 2021 2023]``
Prints figures only (no assertions); the targets are in docs/forecast.md.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from forecast.model import score  # noqa: E402
from forecast.synth import make_pipes, simulate_breaks  # noqa: E402


def share_top_length(order: np.ndarray, length: np.ndarray, actual: np.ndarray, frac: float = 0.10) -> float:
    cum = np.cumsum(length[order])
    chosen = order[cum <= frac * length.sum()]
    return float(actual[chosen].sum() / max(actual.sum(), 1))


def precision_top_pipes(order: np.ndarray, actual: np.ndarray, frac: float = 0.01) -> float:
    k = max(1, int(round(frac * actual.size)))
    return float((actual[order[:k]] > 0).mean())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pipes", type=int, default=40000)
    ap.add_argument("--seeds", type=int, nargs="+", default=[3, 11])
    ap.add_argument("--years", type=int, nargs="+", default=[2019, 2021, 2023])
    args = ap.parse_args()
    rows: dict[str, list[tuple[float, float]]] = {}
    calib: list[tuple[float, float, float]] = []
    for seed in args.seeds:
        pipes = make_pipes(args.pipes, seed=seed)
        oracle: dict[int, np.ndarray] = {}
        breaks = simulate_breaks(pipes, seed=seed, oracle=oracle)
        km = pipes["length_m"].sum() / 1000
        print(f"city seed {seed}: {len(pipes)} pipes, {km:.0f} km, {len(breaks)} recorded breaks 2005-2024")
        for year in args.years:
            info: dict = {}
            t = time.perf_counter()
            s = score(pipes, breaks, f"{year}-01-01", 365, info=info)
            elapsed = time.perf_counter() - t
            nxt = breaks[(breaks["date"] >= f"{year}-01-01") & (breaks["date"] < f"{year + 1}-01-01")]
            actual = nxt["pipe"].value_counts().reindex(s["pipe"]).fillna(0).to_numpy()
            length = s["length_m"].to_numpy(dtype=float)
            age = year - s["install_year"].to_numpy()
            past = s["past_breaks"].to_numpy(dtype=float)
            rng = np.random.default_rng(seed * 1000 + year)
            truth = oracle[year]
            by_length = {
                "model": np.argsort(-s["risk_per_km"].to_numpy(), kind="stable"),
                "oldest first": np.lexsort((-length, -age)),
                "most past breaks first": np.lexsort((-age, -past)),
                "past breaks per km": np.lexsort((-age, -past / np.maximum(length, 1.0))),
                "random": rng.permutation(length.size),
                "true rates (ceiling)": np.argsort(-truth / np.maximum(length, 1.0), kind="stable"),
            }
            by_pipe = dict(by_length)
            by_pipe["model"] = np.argsort(-s["expected_breaks"].to_numpy(), kind="stable")
            by_pipe["true rates (ceiling)"] = np.argsort(-truth, kind="stable")
            print(f"  as of {year}-01-01, scoring {year}: predicted {s['expected_breaks'].sum():.0f} breaks, "
                  f"actual {actual.sum():.0f} (ratio {s['expected_breaks'].sum() / actual.sum():.2f}; "
                  f"the generator's own expectation {truth.sum():.0f}), fit {elapsed:.1f} s, "
                  f"model {info['kind']}, frailty shape {info['frailty_shape']:.2f}")
            calib.append((s["expected_breaks"].sum(), actual.sum(), truth.sum()))
            for name in by_length:
                r = (share_top_length(by_length[name], length, actual), precision_top_pipes(by_pipe[name], actual))
                rows.setdefault(name, []).append(r)
                print(f"    {name:24s} share10%len {r[0]:.3f}  prec1% {r[1]:.3f}")
    print("\nmean over all splits:")
    print(f"  {'ranking':24s} {'share10%len':>12s} {'prec1%':>8s}")
    for name, values in rows.items():
        v = np.array(values)
        print(f"  {name:24s} {v[:, 0].mean():12.3f} {v[:, 1].mean():8.3f}")
    c = np.array(calib)
    print(f"calibration: predicted/actual {np.round(c[:, 0] / c[:, 1], 2).tolist()} "
          f"(mean {np.mean(c[:, 0] / c[:, 1]):.2f}); predicted/generator expectation "
          f"{np.round(c[:, 0] / c[:, 2], 2).tolist()}")
    best_h = max(("oldest first", "most past breaks first"), key=lambda n: np.mean([r[0] for r in rows[n]]))
    m, h = np.mean([r[0] for r in rows["model"]]), np.mean([r[0] for r in rows[best_h]])
    print(f"model vs best heuristic ({best_h}) on share10%len: {m:.3f} vs {h:.3f} (ratio {m / h:.3f})")


if __name__ == "__main__":
    main()
