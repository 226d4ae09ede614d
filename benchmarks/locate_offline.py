"""Score the locator's likelihood again on bursts saved by ``benchmarks/locate.py --save FILE``.

Run: ``.venv/bin/python benchmarks/locate_offline.py FILE [--set NAME=VALUE ...]``, e.g.
``--set DRY_M=4,10,18 --set STRAY_MAX=0.02 --set EXACT_BONUS=0``: each ``NAME`` is a constant of
``network.locate`` (a number or a comma-separated tuple), changed for this run only. The candidates'
pressures are not simulated again (the file holds them), so a variant costs seconds, and every
variant is scored on the very same bursts. Prints top-5 / within 2 per network and perception model.
"""

from __future__ import annotations

import argparse
import pickle
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import locate as bench  # noqa: E402  (benchmarks/locate.py)

from network import locate as loc  # noqa: E402
from network.inp import read_inp_topology  # noqa: E402


def _value(text: str) -> float | tuple[float, ...]:
    parts = [float(x) for x in text.split(",") if x.strip()]
    return parts[0] if len(parts) == 1 and "," not in text else tuple(parts)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    args = ap.parse_args()
    for item in args.set:
        name, _, value = item.partition("=")
        if not hasattr(loc, name) or not name.isupper():
            raise SystemExit(f"network.locate has no constant {name!r}")
        if name in ("LEAK_FRACTIONS", "SCREEN_K", "REQUIRED_PRESSURE_M", "DISCHARGE_COEFF"):
            raise SystemExit(f"{name} changes the simulation itself: run benchmarks/locate.py again")
        setattr(loc, name, _value(value))
    if any(s.partition("=")[0] in ("MIXUP", "OK_AT_FAULT", "UNRELATED") for s in args.set):
        u, f, m = loc.UNRELATED, loc.OK_AT_FAULT, loc.MIXUP
        loc.CONFUSION[:] = [[1 - 2 * u, u, u], [f, 1 - m - f, m], [f, m, 1 - m - f]]
    sys.modules["__main__"].Case = bench.Case  # the file was pickled by benchmarks/locate.py run as __main__
    with open(args.file, "rb") as fh:
        saved = pickle.load(fh)
    print(f"variant: {' '.join(args.set) or 'as shipped'}")
    print("| network | perception model | bursts | top-5 | within 2 |")
    print("|---|---|---|---|---|")
    for net, per_model in saved.items():
        model = read_inp_topology(bench.library_inp(net))
        for key, items in per_model.items():
            t5 = n2 = 0
            for case, sim in items:
                post = loc.posterior_of(sim)
                ids = [c.pipe for c in loc.rank_posterior(model, post, sim.pipes, top=10)] if post else []
                a, b = bench.hits(model, case.pipe, ids)
                t5, n2 = t5 + a, n2 + b
            k = max(len(items), 1)
            print(f"| {net} | {bench.MODELS[key].name} | {len(items)} | {t5 / k:.0%} | {n2 / k:.0%} |", flush=True)


if __name__ == "__main__":
    main()
