"""Benchmark of ``network locate`` over several perception models: simulated bursts on WNTR's networks.

Run: ``.venv/bin/python benchmarks/locate.py [--nets Net3,ky4,ky10] [--bursts 40] [--seed 7]
[--models A,B,C,D,E] [--prior-bursts 40] [--no-cli] [--ceiling [--true-hydraulics] [--oracle-ok-anywhere]]
[--save FILE]``; experiments beside the shipped locator: ``--at-hour`` (the candidates solved at the calls'
hour), ``--req-grid 12,20,30`` (marginalised over the PDD required pressure), ``--prior-powers 0.25,0.5,1
[--prior-floors 0.05,0.3]`` (the prior's exponent and floor, in the prior table)
Prints figures only (no assertions); targets and the last run are in docs/network.md.

The world (the truth) is built differently from the locator's own model:
- a random pipe (uniform, or drawn from a hazard for the prior check) is split in the middle
  (``wntr.morph.split_pipe``) and the new junction gets an orifice leak ``Cd·A·sqrt(2g)``, ``A`` =
  U(0.3, 1.0) x the pipe's cross-section;
- **time of day**: the burst happens at an hour drawn from the perception model's hours; the
  network is first run as an extended period simulation (the .inp's patterns, controls, tanks) to
  that hour, then the burst is a steady state at that hour (demand patterns at that hour, the tanks
  at their levels then) — the locator simulates the .inp's time 0;
- **pressure-driven demand** with a required pressure drawn per burst, U(12, 30) m (the locator
  assumes 20 m), solved by ``wntr.sim.EpanetSimulator`` (a separate model build).

Perception models (how customers turn a pressure into a call; the locator knows none of them):

=====  ==============================================================================================
A      the old benchmark: 30 % of the affected call; no water < 10 m, low pressure: fall >= 30 % and
       >= 7 m; daytime (9-17 h)
B      few, hardy callers: 20 % call; no water < 5 m; low pressure: fall >= 40 % and >= 10 m; morning
       peak (6-9 h); one unrelated low-pressure call
C      many, sensitive callers: 80 % call; no water < 15 m; low: fall >= 15 % and >= 3 m; evening
       peak (18-22 h); two unrelated calls
D      words mixed up: 50 % call; no water < 10 m; 40 % of the dry say "low pressure", 15 % of the
       low say "no water"; three neighbours whose water is fine say ``ok``; one unrelated call; any hour
E      each customer their own thresholds: 40 % call; no water below U(3, 20) m, low pressure at a fall
       of U(10, 50) % and U(2, 12) m; night (0-5 h); two ``ok`` neighbours, one unrelated call
=====  ==============================================================================================

A burst that nobody would call about is redrawn (counted as "unnoticed").

Naive baseline: the pipe nearest (in the plane, [COORDINATES]) to the callers' centroid.
"Within 2 pipes" = the top candidate is at most 2 pipes away from the burst (0 = the same pipe,
1 = sharing a node, 2 = one link in between).

Prior check (``--prior-bursts``, model A): a hazard per pipe = length x a lognormal frailty; the
"forecast" given to the locator is that hazard with lognormal noise (sd 0.5). Bursts drawn from the
hazard: the locator with and without the prior; bursts drawn uniformly (model A's bursts): the same.
"""

from __future__ import annotations

import argparse
import pickle
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scipy.sparse.csgraph import dijkstra  # noqa: E402

import network.locate as nl  # noqa: E402
from network.inp import read_inp_topology  # noqa: E402
from scipy.special import expit, logsumexp  # noqa: E402

from network.locate import (  # noqa: E402
    LEAK_FRACTIONS,
    CandidatePressures,
    _hop_graph,
    _near_mass,
    check_complaints,
    hydraulic_posterior,
    pipe_distance,
    posterior_of,
    rank_posterior,
)


@dataclass(frozen=True)
class Perception:
    name: str
    share: float
    dry_m: tuple[float, float]          # "no water" below (a range: drawn per customer)
    low_share: tuple[float, float]      # "low pressure": fall >= this share of the normal pressure ...
    low_m: tuple[float, float]          # ... and >= these metres
    hours: tuple[int, int]              # the burst's hour, drawn in [a, b]
    dry_says_low: float = 0.0
    low_says_dry: float = 0.0
    n_ok: int = 0                       # neighbours whose water is fine say "ok"
    n_unrelated: int = 0                # unaffected customers anywhere call "low_pressure"


MODELS = {
    "A": Perception("A 30 % call, 10 m / 30 %+7 m, day", 0.3, (10, 10), (0.3, 0.3), (7, 7), (9, 17)),
    "B": Perception("B 20 % call, 5 m / 40 %+10 m, morning, 1 unrelated", 0.2, (5, 5), (0.4, 0.4), (10, 10),
                    (6, 9), n_unrelated=1),
    "C": Perception("C 80 % call, 15 m / 15 %+3 m, evening, 2 unrelated", 0.8, (15, 15), (0.15, 0.15), (3, 3),
                    (18, 22), n_unrelated=2),
    "D": Perception("D 50 % call, words mixed up, 3 ok, 1 unrelated, any hour", 0.5, (10, 10), (0.3, 0.3), (7, 7),
                    (0, 23), dry_says_low=0.4, low_says_dry=0.15, n_ok=3, n_unrelated=1),
    "E": Perception("E 40 % call, own thresholds, night, 2 ok, 1 unrelated", 0.4, (3, 20), (0.1, 0.5), (2, 12),
                    (0, 5), n_ok=2, n_unrelated=1),
}


def _wntr():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import wntr
    return wntr


def library_inp(name: str) -> Path:
    return Path(_wntr().__file__).parent / "library" / "networks" / f"{name}.inp"


class World:
    """The independent truth for one network: EPS to an hour, then PDD steady states there."""

    def __init__(self, name: str, flat: bool = False) -> None:
        self.wntr = _wntr()
        self.path = library_inp(name)
        self.tmp = tempfile.mkdtemp(prefix="locate-bench-")
        wn = self._load()
        if flat:   # a city whose elevations are unknown: every junction at the median (world and locator alike)
            med = float(np.median([wn.get_node(j).elevation for j in wn.junction_name_list]))
            for j in wn.junction_name_list:
                wn.get_node(j).elevation = med
            self.path = Path(self.tmp) / f"{name}-flat.inp"
            self.wntr.network.io.write_inpfile(wn, str(self.path))
            wn = self._load()
        self.pipes = list(wn.pipe_name_list)
        self.length = np.array([wn.get_link(p).length for p in self.pipes])
        self.customers = [n for n in wn.junction_name_list if (wn.get_node(n).base_demand or 0) > 0]
        self.coords = {n: tuple(wn.get_node(n).coordinates) for n in wn.node_name_list}
        self.ends = [(p, wn.get_link(p).start_node_name, wn.get_link(p).end_node_name) for p in self.pipes]
        self._tanks: dict[int, dict[str, float]] = {}
        self._base: dict[tuple[int, float], dict[str, float]] = {}

    def _load(self):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return self.wntr.network.WaterNetworkModel(str(self.path))

    def _run(self, wn, tag: str) -> "object":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return self.wntr.sim.EpanetSimulator(wn).run_sim(file_prefix=f"{self.tmp}/{tag}")

    def tank_levels(self, hour: int) -> dict[str, float]:
        if hour not in self._tanks:
            wn = self._load()
            levels = {t: wn.get_node(t).init_level for t in wn.tank_name_list}
            if hour > 0 and levels:
                wn.options.time.duration = hour * 3600
                wn.options.time.report_timestep = 3600
                wn.options.time.hydraulic_timestep = min(wn.options.time.hydraulic_timestep or 3600, 3600)
                res = self._run(wn, "eps")
                head = res.node["pressure"]
                last = head.index[-1]
                for t in levels:
                    tank = wn.get_node(t)
                    lo, hi = tank.min_level, tank.max_level  # strictly inside: EPANET rejects a level on a bound once rounded
                    levels[t] = float(np.clip(head.loc[last, t], lo + 0.01 * (hi - lo), hi - 0.01 * (hi - lo)))
            self._tanks[hour] = levels
        return self._tanks[hour]

    def _at(self, hour: int, req_m: float):
        wn = self._load()
        for t, lvl in self.tank_levels(hour).items():
            wn.get_node(t).init_level = lvl
        wn.options.time.duration = 0
        wn.options.time.pattern_start = hour * 3600
        wn.options.hydraulic.demand_model = "PDD"
        wn.options.hydraulic.required_pressure = req_m
        wn.options.hydraulic.minimum_pressure = 0.0
        return wn

    def inp_at(self, hour: int) -> Path:
        """The .inp as it stands at ``hour`` (the tanks at their EPS levels, the patterns from that hour):
        what a locator told the calls' hour could simulate from the same file (experiment)."""
        path = Path(self.tmp) / f"at{hour}.inp"
        if not path.exists():
            wn = self._load()
            for t, lvl in self.tank_levels(hour).items():
                wn.get_node(t).init_level = lvl
            wn.options.time.duration = 0
            wn.options.time.pattern_start = hour * 3600
            self.wntr.network.io.write_inpfile(wn, str(path))
        return path

    def baseline(self, hour: int, req_m: float) -> dict[str, float]:
        key = (hour, round(req_m, 1))
        if key not in self._base:
            self._base[key] = self._run(self._at(hour, key[1]), "base").node["pressure"].iloc[0].to_dict()
        return self._base[key]

    def burst(self, pipe: str, frac: float, hour: int, req_m: float) -> dict[str, float]:
        wn = self._at(hour, round(req_m, 1))
        diam = wn.get_link(pipe).diameter
        wn = self.wntr.morph.split_pipe(wn, pipe, f"{pipe}__b", f"{pipe}__leak")
        wn.get_node(f"{pipe}__leak").emitter_coefficient = 0.75 * frac * np.pi * diam**2 / 4 * np.sqrt(2 * 9.81)
        return self._run(wn, "burst").node["pressure"].iloc[0].to_dict()


@dataclass(frozen=True)
class Case:
    """One noticed burst: the pipe, the reports, and the world's hidden state (leak size as a share
    of the pipe's section, hour, PDD required pressure)."""
    pipe: str
    complaints: dict[str, str]
    frac: float
    hour: int
    req_m: float


def naive_ranking(world: World, callers: list[str]) -> list[str]:
    """Pipes by plane distance to the callers' centroid, nearest first."""
    c = np.array([world.coords[n] for n in callers if n in world.coords]).mean(axis=0)
    dists = []
    for pid, a, b in world.ends:
        pa, pb = np.array(world.coords[a]), np.array(world.coords[b])
        ab = pb - pa
        t = 0.0 if not ab.any() else float(np.clip((c - pa) @ ab / (ab @ ab), 0, 1))
        dists.append((float(np.linalg.norm(pa + t * ab - c)), pid))
    return [pid for _, pid in sorted(dists)]


def hazard(world: World, seed: int) -> tuple[np.ndarray, dict[str, float]]:
    """(true burst hazard per pipe, the noisy "forecast" of it handed to the locator)."""
    rng = np.random.default_rng(seed)
    h = np.maximum(world.length, 1.0) * np.exp(rng.normal(0, 1.0, len(world.pipes)))
    forecast = h * np.exp(rng.normal(0, 0.5, len(world.pipes)))
    return h / h.sum(), dict(zip(world.pipes, forecast.tolist()))


def scenarios(world: World, model, perc: Perception, n_bursts: int, seed: int,
              weights: np.ndarray | None = None) -> tuple[list[Case], int]:
    """``n_bursts`` noticed bursts, and how many were unnoticed."""
    rng = np.random.default_rng(seed)
    hops = _hop_graph(model)
    cust = world.customers
    cust_idx = model.node_indices(cust)
    out: list[Case] = []
    unnoticed = 0
    while len(out) < n_bursts:
        pipe = world.pipes[int(rng.choice(len(world.pipes), p=weights))]
        frac = float(rng.uniform(0.3, 1.0))
        hour = int(rng.integers(perc.hours[0], perc.hours[1] + 1))
        req = float(rng.uniform(12, 30))
        p0 = world.baseline(hour, req)
        p = world.burst(pipe, frac, hour, req)
        reports: dict[str, str] = {}
        affected = set()
        for n in cust:
            dry = rng.uniform(*perc.dry_m)
            share = rng.uniform(*perc.low_share)
            metres = rng.uniform(*perc.low_m)
            drop = p0[n] - p[n]
            if p[n] < dry:
                kind = "no_water"
            elif drop >= metres and drop >= share * max(p0[n], 0.0):
                kind = "low_pressure"
            else:
                continue
            affected.add(n)
            if rng.random() < perc.share:
                if kind == "no_water" and rng.random() < perc.dry_says_low:
                    kind = "low_pressure"
                elif kind == "low_pressure" and rng.random() < perc.low_says_dry:
                    kind = "no_water"
                reports[n] = kind
        if not reports:
            unnoticed += 1
            continue
        li = int(model.link_indices([pipe])[0])
        d = dijkstra(hops, unweighted=True, indices=[int(model.link_start[li]), int(model.link_end[li])]).min(axis=0)
        near_ok = [cust[i] for i in np.argsort(d[cust_idx], kind="stable")[:30]
                   if cust[i] not in affected and cust[i] not in reports]
        for n in (rng.permutation(near_ok)[:perc.n_ok] if near_ok and perc.n_ok else []):
            reports[str(n)] = "ok"
        calm = [n for n in cust if n not in affected and n not in reports]
        for n in (rng.permutation(calm)[:perc.n_unrelated] if calm and perc.n_unrelated else []):
            reports[str(n)] = "low_pressure"
        out.append(Case(pipe, check_complaints(model, reports.items()), frac, hour, req))
    return out, unnoticed


# ------------------------------------------------------------------------------------- the ceiling

PRIOR_POWERS: tuple = ()  # experiment: --prior-variants POWER/FLOOR,...
PRIOR_FLOORS: tuple = ()
REQ_GRID: tuple = ()  # experiment: marginalise over PDD required pressures
BLEND_MASS = 0.0  # experiment: below this first-answer mass, the first answer from topology
AT_HOUR = False  # experiment: also rank with the candidates solved at the calls' hour
OK_ANYWHERE = False  # --oracle-ok-anywhere: the oracle does not know where the world asks 'ok'
NEAR_OK = 30     # the world asks 'ok' among the 30 customers nearest the burst (scenarios)
SOFT_M = 1.0     # the oracle's thresholds are soft by this many metres (its pressures are not the world's)


def _quadrature(lo: float, hi: float, k: int = 8) -> np.ndarray:
    """Midpoints of ``k`` equal slices of U(lo, hi) (one point for a fixed threshold)."""
    return np.array([lo]) if hi <= lo else lo + (hi - lo) * (np.arange(k) + 0.5) / k


class Oracle:
    """The exact posterior of a world whose perception model is known (thresholds and their
    per-customer spread, the call share, the mix-ups, how many 'ok' neighbours and unrelated calls
    and how they are chosen) — everything but which pipe burst. With the locator's pressures
    (``ceiling``) it averages over the locator's leak sizes within the world's U(0.3, 1.0); with the
    world's own pressures at the burst's hour, required pressure and leak size (``true hydraulics``)
    nothing is left unknown but the pipe: no method can beat it on the same reports (in
    expectation). Ranking: by posterior; the first answer maximises the posterior within 2 pipes."""

    def __init__(self, world: World, model, perc: Perception) -> None:
        self.world, self.model, self.perc = world, model, perc
        self.dry = _quadrature(*perc.dry_m)
        self.low_share = _quadrature(*perc.low_share)
        self.low_m = _quadrature(*perc.low_m)
        hops = _hop_graph(model)
        li = model.link_indices(world.pipes)
        ends = np.concatenate([model.link_start[li], model.link_end[li]])
        d = dijkstra(hops, unweighted=True, indices=ends)
        d = np.minimum(d[: len(li)], d[len(li):])[:, model.node_indices(world.customers)]
        self.near_ok = {p: {world.customers[k] for k in np.argsort(row, kind="stable")[:NEAR_OK]}
                        for p, row in zip(world.pipes, d)}

    def loglik(self, sim: CandidatePressures, pressures: np.ndarray, p0: np.ndarray) -> np.ndarray:
        """log P(reports, silence | pipe) per candidate; ``pressures``: candidates x sizes x nodes."""
        perc, n_rep = self.perc, sim.kinds.size
        p0 = np.maximum(p0, 0.0)
        drop = p0 - pressures
        q_dry = expit((self.dry[:, None, None, None] - pressures) / SOFT_M).mean(0)
        q_low = (expit((drop - self.low_share[:, None, None, None] * p0) / SOFT_M).mean(0)
                 * expit((drop - self.low_m[:, None, None, None]) / SOFT_M).mean(0))
        dry, low = q_dry, (1 - q_dry) * q_low
        none = 1 - dry - low
        s = perc.share
        u = perc.n_unrelated / max(len(self.world.customers), 1)
        say_dry = s * (dry * (1 - perc.dry_says_low) + low * perc.low_says_dry)
        say_low = s * (dry * perc.dry_says_low + low * (1 - perc.low_says_dry)) + none * u
        k = sim.kinds
        rep = np.where(k == 2, say_dry[..., :n_rep], np.where(k == 1, say_low[..., :n_rep], none[..., :n_rep]))
        if (k == 0).any() and not OK_ANYWHERE:  # 'ok' is asked near the burst only
            ok_nodes = [n for n, kk in zip(sim.nodes, k) if kk == 0]
            near = np.array([[1.0 if n in self.near_ok.get(p, ()) else 1e-3 for n in ok_nodes] for p in sim.pipes])
            rep[..., k == 0] *= near[:, None, :]
        silent = 1 - s * (dry + low)[..., n_rep:]
        ll = np.log(np.clip(rep, 1e-12, 1)).sum(-1) + np.log(np.clip(silent, 1e-12, 1)).sum(-1)  # C x S
        ll = np.where(np.isnan(ll), -np.inf, ll)
        return logsumexp(ll, axis=1) - np.log(ll.shape[1])

    def ceiling(self, sim: CandidatePressures) -> dict[str, float]:
        sizes = [k for k, f in enumerate(LEAK_FRACTIONS) if 0.3 <= f <= 1.0]
        return posterior_of(sim, lambda sm: self.loglik(sm, sm.pressures[:, sizes], sm.p0))

    def true_hydraulics(self, sim: CandidatePressures, case: Case) -> tuple[dict[str, float], dict[str, float]]:
        """(the oracle's posterior, the locator's likelihood's posterior), both on the world's pressures."""
        base = self.world.baseline(case.hour, case.req_m)
        p0 = np.array([base[n] for n in sim.nodes])
        rows = []
        for pipe in sim.pipes:
            p = self.world.burst(pipe, case.frac, case.hour, case.req_m)
            rows.append([[p[n] for n in sim.nodes]])
        world = CandidatePressures(sim.pipes, np.array(rows, dtype=float), p0, sim.kinds, sim.nodes)
        return posterior_of(world, lambda sm: self.loglik(sm, sm.pressures, sm.p0)), posterior_of(world)


def ranked(model, post: dict[str, float]) -> list[str]:
    """Bayes-optimal answers from a posterior: the first maximises the mass within 2 pipes, then by posterior."""
    if not post:
        return []
    mass = _near_mass(model, post, 2)
    first = max(post, key=lambda p: (mass[p], post[p]))
    return [first] + [p for p in sorted(post, key=lambda p: -post[p]) if p != first]


def hits(model, pipe: str, ids: list[str]) -> tuple[int, int]:
    """(burst pipe in the first 5, first answer within 2 pipes of the burst)."""
    if not ids:
        return 0, 0
    return int(pipe in ids[:5]), int(pipe_distance(model, pipe, [ids[0]])[ids[0]] in (0, 1, 2))


def evaluate(world: World, model, cases: list[Case], prior: dict[str, float] | None = None,
             oracle: Oracle | None = None, true_hydraulics: bool = False,
             keep: list[CandidatePressures] | None = None) -> dict[str, float]:
    """Top-5 / within-2 of the locator (with ``prior``, also with the prior), of the naive pipe and,
    with ``oracle``, of the ceiling (and with ``true_hydraulics`` of the oracle on the world's pressures)."""
    k = float(len(cases))
    tally = dict.fromkeys(("top5", "near", "naive_top5", "naive_near", "prior_top5", "prior_near",
                           "ceil_top5", "ceil_near", "true_top5", "true_near", "own_true_top5",
                           "own_true_near", "hour_top5", "hour_near"), 0)
    secs: list[float] = []
    callers: list[int] = []
    for case in cases:
        pipe, complaints = case.pipe, case.complaints
        callers.append(sum(v != "ok" for v in complaints.values()))
        sims: list[CandidatePressures] = []
        t = time.perf_counter()
        res = hydraulic_posterior(world.path, model, complaints, method="hydraulic", keep=sims)
        assert res is not None
        post, order = res
        ids = [c.pipe for c in rank_posterior(model, post, order, top=10)]
        secs.append(time.perf_counter() - t)
        scored = {"": ids, "naive_": naive_ranking(world, [n for n, v in complaints.items() if v != "ok"])}
        if prior is not None:
            scored["prior_"] = [c.pipe for c in rank_posterior(model, post, order, top=10, prior=prior)]
            keep_power, keep_floor = nl.PRIOR_POWER, nl.PRIOR_FLOOR
            for pw in PRIOR_POWERS:
                for fl in PRIOR_FLOORS:
                    nl.PRIOR_POWER, nl.PRIOR_FLOOR = pw, fl
                    scored[f"prior{pw}/{fl}_"] = [c.pipe for c in rank_posterior(model, post, order, top=10,
                                                                                   prior=prior)]
            nl.PRIOR_POWER, nl.PRIOR_FLOOR = keep_power, keep_floor
        if REQ_GRID:
            parts = []
            for req in REQ_GRID:
                nl.REQUIRED_PRESSURE_M = req
                ks: list[CandidatePressures] = []
                hydraulic_posterior(world.path, model, complaints, method="hydraulic", keep=ks)
                parts.append(ks[0])
            nl.REQUIRED_PRESSURE_M = 20.0
            common = [q for q in parts[0].pipes if all(q in pt.pipes for pt in parts)]
            pr = np.concatenate([pt.pressures[[pt.pipes.index(q) for q in common]] for pt in parts], axis=1)
            p0 = np.concatenate([np.repeat(pt.p0[None, :], pt.pressures.shape[1], axis=0) for pt in parts], axis=0)
            comb = CandidatePressures(common, pr, p0, parts[0].kinds, parts[0].nodes)
            post_r = posterior_of(comb)
            scored["hour_"] = [c.pipe for c in rank_posterior(model, post_r, order, top=10)] if post_r else []
        if BLEND_MASS:
            cands = rank_posterior(model, post, order, top=10)
            if cands and cands[0].score < BLEND_MASS:
                topo = [c for c in nl.locate_topology(model, {n: v for n, v in complaints.items() if v != "ok"},
                                                      top=5, pipes=world.pipes) if c.score > 0]
                blended = ([topo[0].pipe] + [c.pipe for c in cands if c.pipe != topo[0].pipe]) if topo else ids
            else:
                blended = ids
            scored["hour_"] = blended
        if AT_HOUR:
            res_h = hydraulic_posterior(world.inp_at(case.hour), model, complaints, method="hydraulic")
            scored["hour_"] = [c.pipe for c in rank_posterior(model, res_h[0], res_h[1], top=10)] if res_h else []
        if oracle is not None:
            scored["ceil_"] = ranked(model, oracle.ceiling(sims[0]))
            if true_hydraulics:
                true_post, own_post = oracle.true_hydraulics(sims[0], case)
                scored["true_"] = ranked(model, true_post)
                scored["own_true_"] = ([c.pipe for c in rank_posterior(model, own_post, order, top=10)]
                                       if own_post else [])
        if keep is not None:
            keep.extend(sims)
        for prefix, got in scored.items():
            t5, n2 = hits(model, pipe, got)
            tally[prefix + "top5"] = tally.get(prefix + "top5", 0) + t5
            tally[prefix + "near"] = tally.get(prefix + "near", 0) + n2
    out = {key: v / k for key, v in tally.items()}
    out.update(callers=float(np.median(callers)), mean_s=float(np.mean(secs)), max_s=float(np.max(secs)), n=k)
    return out


def cli_time(name: str) -> None:
    """One end-to-end ``python -m network locate`` on ``name`` (interpreter start included)."""
    path = library_inp(name)
    model = read_inp_topology(path)
    junctions = [n for n in model.node_ids[~model.is_source].tolist()][:40]
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as fh:
        fh.write("node,report\n" + "".join(f"{n},{'no_water' if i % 2 else 'low_pressure'}\n"
                                           for i, n in enumerate(junctions)))
    t = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "network", "locate", "--inp", str(path), "--complaints",
                          fh.name, "--timings"], cwd=Path(__file__).resolve().parents[1],
                         capture_output=True, text=True)
    print(f"{name}: CLI end to end, 40 callers: {time.perf_counter() - t:.2f} s (exit {res.returncode}); "
          f"stages {res.stderr.strip()}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nets", default="Net3,ky4,ky10")
    ap.add_argument("--bursts", type=int, default=40, help="bursts per network and perception model")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--prior-bursts", type=int, default=40, help="hazard-drawn bursts per network (0: skip)")
    ap.add_argument("--no-cli", action="store_true")
    ap.add_argument("--ceiling", action="store_true",
                    help="also the oracle that knows the perception model (on the locator's pressures)")
    ap.add_argument("--true-hydraulics", action="store_true",
                    help="with --ceiling: also the oracle on the world's own pressures (one world solve per candidate)")
    ap.add_argument("--at-hour", action="store_true",
                    help="also the locator with its candidates solved at the calls' hour (tanks and patterns then)")
    ap.add_argument("--req-grid", help="experiment: PDD required pressures to marginalise over, e.g. 12,20,30 "
                    "(shown in the --at-hour column)")
    ap.add_argument("--oracle-ok-anywhere", action="store_true",
                    help="with --ceiling: the oracle does not use where the world asks 'ok' (near the burst)")
    ap.add_argument("--prior-powers", help="experiment: prior exponents to compare, e.g. 0.25,0.5,1")
    ap.add_argument("--prior-floors", default="0.05", help="experiment: prior floors to compare")
    ap.add_argument("--blend-mass", type=float, default=0.0,
                    help="experiment: the first answer by topology when the hydraulic one's mass within 2 is below this")
    ap.add_argument("--flat", action="store_true",
                    help="every junction at the median elevation (a city whose elevations are unknown), world and locator")
    ap.add_argument("--save", help="pickle the bursts and the candidates' simulated pressures here (offline variants)")
    args = ap.parse_args()
    global AT_HOUR
    AT_HOUR = args.at_hour
    global REQ_GRID, OK_ANYWHERE, PRIOR_POWERS, PRIOR_FLOORS, BLEND_MASS
    BLEND_MASS = args.blend_mass
    if args.prior_powers:
        PRIOR_POWERS = tuple(float(x) for x in args.prior_powers.split(","))
        PRIOR_FLOORS = tuple(float(x) for x in args.prior_floors.split(","))
    OK_ANYWHERE = args.oracle_ok_anywhere
    if args.req_grid:
        REQ_GRID = tuple(float(x) for x in args.req_grid.split(","))
        AT_HOUR = False
    print("targets, worst perception model: burst pipe in the top 5 >= 65 %, top-1 within 2 pipes >= 80 %; "
          "<= 5 s on ky10 with 40 callers")
    ceil_head = " ceiling top-5 / within 2 |" if args.ceiling else ""
    ceil_head += (" ceiling, true hydraulics | project on the true hydraulics |"
                  if args.ceiling and args.true_hydraulics else "")
    ceil_head += " at the calls' hour |" if args.at_hour or args.req_grid or args.blend_mass else ""
    print(f"| network | perception model | callers (median) | top-5 | within 2 |{ceil_head} naive top-5 / within 2 "
          f"| s mean / max |")
    print("|---|---|---|---|---|" + "---|" * ceil_head.count("|") + "---|---|")
    prior_rows = []
    saved: dict[str, dict[str, list]] = {}
    for i, name in enumerate(args.nets.split(",")):
        world = World(name, flat=args.flat)
        model = read_inp_topology(world.path)
        rows = []
        for key in args.models.split(","):
            perc = MODELS[key]
            cases, _unnoticed = scenarios(world, model, perc, args.bursts, args.seed + 100 * i + "ABCDE".index(key))
            want_prior = key == "A" and args.prior_bursts > 0
            _h, forecast = hazard(world, args.seed + i)
            sims: list[CandidatePressures] = []
            r = evaluate(world, model, cases, prior=forecast if want_prior else None,
                         oracle=Oracle(world, model, perc) if args.ceiling else None,
                         true_hydraulics=args.true_hydraulics, keep=sims)
            saved.setdefault(name, {})[key] = list(zip(cases, sims))
            rows.append((perc, r))
            if want_prior:
                prior_rows.append((name, "uniform", r))
        worst = min(range(len(rows)), key=lambda k: (min(rows[k][1]["top5"] - 0.65, rows[k][1]["near"] - 0.80)))
        for k, (perc, r) in enumerate(rows):
            mark = " **worst**" if k == worst else ""
            ceil = f" {r['ceil_top5']:.0%} / {r['ceil_near']:.0%} |" if args.ceiling else ""
            if args.ceiling and args.true_hydraulics:
                ceil += (f" {r['true_top5']:.0%} / {r['true_near']:.0%} |"
                         f" {r['own_true_top5']:.0%} / {r['own_true_near']:.0%} |")
            if args.at_hour or args.req_grid or args.blend_mass:
                ceil += f" {r['hour_top5']:.0%} / {r['hour_near']:.0%} |"
            print(f"| {name} ({len(world.pipes)} pipes) | {perc.name}{mark} | {r['callers']:.0f} | {r['top5']:.0%} | "
                  f"{r['near']:.0%} |{ceil} {r['naive_top5']:.0%} / {r['naive_near']:.0%} | "
                  f"{r['mean_s']:.2f} / {r['max_s']:.2f} |", flush=True)
        if args.prior_bursts > 0 and "A" in args.models.split(","):
            h, forecast = hazard(world, args.seed + i)
            cases, _ = scenarios(world, model, MODELS["A"], args.prior_bursts, args.seed + 1000 + i, weights=h)
            prior_rows.append((name, "hazard", evaluate(world, model, cases, prior=forecast)))
    if prior_rows:
        print()
        print("prior (model A): | network | bursts drawn | top-5 without / with prior | within 2 without / with prior |")
        print("|---|---|---|---|")
        for name, draw, r in prior_rows:
            print(f"| {name} | {draw} ({r['n']:.0f}) | {r['top5']:.0%} / {r['prior_top5']:.0%} | "
                  f"{r['near']:.0%} / {r['prior_near']:.0%} |", flush=True)
            for key in sorted(k for k in r if k.startswith("prior") and k.endswith("_top5") and "/" in k):
                tag = key[len("prior"):-len("_top5")]
                print(f"|   power/floor {tag} | | {r[key]:.0%} | {r[key[:-4] + 'near']:.0%} |", flush=True)
    if args.save:
        with open(args.save, "wb") as fh:
            pickle.dump(saved, fh)
    if not args.no_cli:
        cli_time("ky10")


if __name__ == "__main__":
    main()
