"""Which main burst? Rank the pipes that best explain residents' "no water" / "low pressure" calls.

Two methods (docs/network.md, "Locating a burst"):

- **hydraulic** (the .inp can be simulated): EPANET 2.2 (the library shipped inside the ``wntr``
  package, called through ``ctypes`` without importing wntr, which alone costs ~3 s) runs a
  pressure-driven steady state once for the baseline and once per candidate burst and leak size.
  A burst on pipe ``p`` is an emitter (orifice ``Q = Cd·A·sqrt(2·g·p)``) split between the
  pipe's two end nodes. Every customer counts: a report is likely or not under the simulated
  pressure (``no_water`` ↔ pressure near zero, ``low_pressure`` ↔ a clear drop, ``ok`` ↔ little
  change, with a small confusion matrix; a complaint from a customer whose water is fine is a stray
  call, about one per network), and a customer who did not call is evidence too (an affected
  customer calls with an unknown, profiled share). How people perceive a drop is not
  known, so the likelihood is averaged over a grid of perception thresholds. The score of a pipe
  is its posterior probability among the simulated candidates (uniform prior or a break
  forecast, best leak size);
  the first answer is the pipe with the most posterior within 2 pipes of it (plus half its own),
  and its score is that nearby mass.
- **topology** (no hydraulics, or ``method="topology"``): which pipe's failure leaves exactly
  these buildings dry — with a valve layer, the nodes its isolation shuts off (its segment plus
  the unintended part); without one, the nodes it alone cuts off from every source plus its two
  ends. Score = weighted F-measure of that set against the reports (``ok`` inside it counts
  against).

Candidates are first screened by distance along the network to the callers (length-weighted
mean distance, "no water" counted twice), so a query stays cheap on large networks.
"""

from __future__ import annotations

import csv
import ctypes
import importlib.util
import json
import math
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra
from scipy.special import expit, logsumexp

from network.errors import InputFileError, NetworkError
from network.isolation import isolate, isolation_index
from network.model import NetworkModel, with_valve_layer

__all__ = [
    "REPORTS",
    "Candidate",
    "Hydraulics",
    "HydraulicsUnavailable",
    "UnknownNode",
    "locate",
    "locate_topology",
    "locate_buildings",
    "check_complaints",
    "read_complaints_csv",
    "read_prior",
    "pipe_distance",
]

REPORTS = ("no_water", "low_pressure", "ok")
SEVERITY = {"ok": 0, "low_pressure": 1, "no_water": 2}

# How residents perceive a pressure p (m) against the normal p0 (m) is not known in advance, so the
# likelihood averages over a grid of perception models (Bayesian model averaging, uniform prior):
# "no water" below DRY_M (soft by DRY_SCALE_M); "low pressure" when the drop is at least DROP_SHARE
# of p0 *and* DROP_M metres (soft by DROP_SHARE_SCALE / DROP_M_SCALE).
DRY_M = (6.0, 10.0, 14.0)
DROP_SHARE = (0.12, 0.25, 0.38)
DROP_M = (3.0, 5.0, 8.0)
DRY_SCALE_M = 1.0
DROP_SHARE_SCALE = 0.03
DROP_M_SCALE = 1.0
# P(report | state): a caller says "low pressure" for "no water" (or back) with MIXUP; "ok" at a
# fault with OK_AT_FAULT; a complaint where nothing changed with UNRELATED (and see UNRELATED_CALLS).
MIXUP = 0.15
OK_AT_FAULT = 0.02
UNRELATED = 0.005
# Besides, a customer whose water is fine calls about something else (an inside leak, a neighbour's
# works): UNRELATED_CALLS such complaints expected among all the customers, each customer alike — so
# one stray call weighs by the size of the network, not like a share of the affected who call.
UNRELATED_CALLS = 1.0
STRAY_MAX = 0.005      # ... but on a small network at most this chance per customer
CONFUSION = np.array([[1 - 2 * UNRELATED, UNRELATED, UNRELATED],
                      [OK_AT_FAULT, 1 - MIXUP - OK_AT_FAULT, MIXUP],
                      [OK_AT_FAULT, MIXUP, 1 - MIXUP - OK_AT_FAULT]])
# Model settings of the hydraulic method.
REQUIRED_PRESSURE_M = 20.0   # PDD: full demand at or above this pressure, none at 0
LEAK_FRACTIONS = (0.1, 0.3, 0.5, 0.7, 1.0)  # tried leak areas, as shares of the pipe's cross-section
CALL_SHARES = (0.1, 0.2, 0.3, 0.5, 0.7, 0.9)  # share of affected customers who call (profiled)
NEAR_PIPES = 2         # the first answer: the most posterior mass within this many pipes of it ...
EXACT_BONUS = 0.5      # ... plus this weight on its own posterior (a hub next to everything must not win
                       # over a pipe the calls point at)
DISCHARGE_COEFF = 0.75
SCREEN_K = 100         # candidates simulated (nearest to the callers)
TOPOLOGY_SCREEN_K = 5000  # candidates scored by the topology method
MAX_CALLERS_FOR_DISTANCES = 300
PRIOR_FLOOR = 0.05     # a pipe's prior weight is at least this share of the mean risk ...
PRIOR_POWER = 0.25     # ... and risk ** PRIOR_POWER: tempered. Taken at its word (1.0) the forecast cost 10–23
                       # points of top-5 on uniformly drawn bursts and did not help within 2 even on bursts drawn
                       # from the hazard; 0.25 helps top-5 there (+4–6) and stays within noise on uniform ones
                       # (benchmarks/locate.py --prior-powers, docs/network.md)

_FLOW_TO_SI = {0: 0.0283168, 1: 6.30902e-5, 2: 0.0438126, 3: 0.0526168, 4: 0.0142764,
               5: 1e-3, 6: 1.0 / 60000, 7: 1.0 / 86.4, 8: 1.0 / 3600, 9: 1.0 / 86400}
_PSI_TO_M = 0.70307
_G = 9.81


class UnknownNode(NetworkError, KeyError):
    """A complaint names a node that is not a junction of the network."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class HydraulicsUnavailable(RuntimeError):
    """The network cannot be simulated (no EPANET library, or EPANET rejects the file)."""


@dataclass(frozen=True)
class Candidate:
    pipe: str
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {"pipe": self.pipe, "score": self.score}


# ---------------------------------------------------------------------------------------- input

def check_complaints(model: NetworkModel, rows: Iterable[tuple[str, str]], *,
                     source_name: str = "complaints") -> dict[str, str]:
    """Validated ``{node: report}``; a node reported several times keeps its most severe report.

    Raises :class:`InputFileError` (bad report kind, no no_water/low_pressure report) or
    :class:`UnknownNode` (node not in the network, or a reservoir/tank).
    """
    out: dict[str, str] = {}
    unknown: list[str] = []
    for node, report in rows:
        node, kind = str(node).strip(), str(report).strip().lower()
        if kind not in SEVERITY:
            raise InputFileError(f"{source_name}: node {node!r}: unknown report {report!r} "
                                 f"(expected no_water|low_pressure|ok)")
        if not node:
            raise InputFileError(f"{source_name}: empty node id")
        if node not in out or SEVERITY[kind] > SEVERITY[out[node]]:
            out[node] = kind
    if out:
        idx = model._node_index.get_indexer(list(out))
        unknown = [n for n, i in zip(out, idx) if i < 0]
        if unknown:
            more = f" and {len(unknown) - 3} more" if len(unknown) > 3 else ""
            raise UnknownNode(f"{source_name}: unknown node {', '.join(map(repr, unknown[:3]))}{more}: "
                              f"not a junction of the network")
        src = [n for n, i in zip(out, idx) if model.is_source[i]]
        if src:
            raise UnknownNode(f"{source_name}: node {src[0]!r} is a reservoir or tank, not a junction")
    if not any(k != "ok" for k in out.values()):
        raise InputFileError(f"{source_name}: no complaint (need at least one no_water or low_pressure row)")
    return out


def read_complaints_csv(path: str | Path, model: NetworkModel) -> dict[str, str]:
    """``{node: report}`` from a CSV with the header ``node,report`` (see :func:`check_complaints`)."""
    try:
        raw = Path(path).read_bytes()
        if b"\x00" in raw:
            raise InputFileError(f"{path}: NUL byte in complaints CSV")
        text = raw.decode("utf-8-sig")
        rows = list(csv.reader(text.splitlines(), strict=True))
    except InputFileError:
        raise
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputFileError(f"{path}: cannot read complaints CSV: {getattr(exc, 'strerror', None) or exc}") from exc
    numbered = [(n, r) for n, r in enumerate(rows, start=1) if any(c.strip() for c in r)]
    if not numbered:
        raise InputFileError(f"{path}: empty complaints CSV (need the header node,report)")
    header = [h.strip().lower() for h in numbered[0][1]]
    if header != ["node", "report"]:
        raise InputFileError(f"{path}: complaints CSV header must be node,report (got {','.join(numbered[0][1])!r})")
    pairs: list[tuple[str, str]] = []
    for lineno, r in numbered[1:]:
        if len(r) != 2:
            raise InputFileError(f"{path}:{lineno}: {len(r)} fields, expected 2 (node,report)")
        pairs.append((r[0], r[1]))
    return check_complaints(model, pairs, source_name=str(path))


PRIOR_COLUMNS = ("expected_breaks", "risk")


def read_prior(path: str | Path) -> dict[str, float]:
    """``{pipe id: risk}`` from a break forecast: the JSON list of ``python -m forecast risk``
    (``[{"pipe": ID, "expected_breaks": x}, ...]``) or a CSV with the header ``pipe,expected_breaks``
    (or ``pipe,risk``; other columns ignored). Risks are numbers >= 0, any scale."""
    try:
        raw = Path(path).read_bytes()
        if b"\x00" in raw:
            raise InputFileError(f"{path}: NUL byte in the prior file")
        text = raw.decode("utf-8-sig")
    except InputFileError:
        raise
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(f"{path}: cannot read the prior file: {getattr(exc, 'strerror', None) or exc}") from exc
    pairs: list[tuple[str, object, str]] = []
    if text.lstrip().startswith("["):

        try:
            items = json.loads(text)
        except ValueError as exc:
            raise InputFileError(f"{path}: not a JSON list of {{pipe, expected_breaks}}: {exc}") from exc
        for k, it in enumerate(items, start=1):
            if not isinstance(it, dict) or "pipe" not in it or not any(c in it for c in PRIOR_COLUMNS):
                raise InputFileError(f"{path}: item {k}: expected {{\"pipe\": ID, \"expected_breaks\": number}}")
            col = next(c for c in PRIOR_COLUMNS if c in it)
            pairs.append((str(it["pipe"]), it[col], f"item {k}"))
    else:
        try:
            rows = list(csv.reader(text.splitlines(), strict=True))
        except csv.Error as exc:
            raise InputFileError(f"{path}: cannot read the prior CSV: {exc}") from exc
        numbered = [(n, r) for n, r in enumerate(rows, start=1) if any(c.strip() for c in r)]
        if not numbered:
            raise InputFileError(f"{path}: empty prior file (need the header pipe,expected_breaks)")
        header = [h.strip().lower() for h in numbered[0][1]]
        col = next((c for c in PRIOR_COLUMNS if c in header), None)
        if "pipe" not in header or col is None:
            raise InputFileError(f"{path}: prior CSV header must have pipe and expected_breaks (or risk) "
                                 f"(got {','.join(numbered[0][1])!r})")
        ip, iv = header.index("pipe"), header.index(col)
        for lineno, r in numbered[1:]:
            if len(r) != len(header):
                raise InputFileError(f"{path}:{lineno}: {len(r)} fields, expected {len(header)}")
            pairs.append((r[ip].strip(), r[iv].strip(), f"line {lineno}"))
    out: dict[str, float] = {}
    for pipe, value, where in pairs:
        if not pipe:
            raise InputFileError(f"{path}: {where}: empty pipe id")
        try:
            x = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            x = float("nan")
        if isinstance(value, bool) or not math.isfinite(x) or x < 0:
            raise InputFileError(f"{path}: {where}: pipe {pipe!r}: risk {value!r} is not a number >= 0")
        out[pipe] = x
    return out


def _pipe_ids_of_inp(path: str | Path) -> list[str]:
    """Ids of the [PIPES] section (pumps and valves are not candidates)."""
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    ids: list[str] = []
    inside = False
    for raw in text.splitlines():
        line = raw.split(";", 1)[0].strip()
        if not line:
            continue
        if line.startswith("["):
            inside = line.strip("[] \t").upper() == "PIPES"
        elif inside:
            ids.append(line.split()[0])
    return ids


# ------------------------------------------------------------------------------------ distances

def _node_graph(model: NetworkModel) -> sp.csr_matrix:
    n = model.n_nodes
    w = model.link_length_m if model.link_length_m is not None else np.zeros(model.n_links)
    w = np.maximum(np.nan_to_num(w, nan=0.0), 0.0) + 1.0  # +1 m per link: no zero-length ties
    a, b = model.link_start, model.link_end
    keep = a != b
    g = sp.coo_matrix((np.concatenate([w[keep], w[keep]]), (np.concatenate([a[keep], b[keep]]),
                       np.concatenate([b[keep], a[keep]]))), shape=(n, n)).tocsr()
    g.sum_duplicates()
    return g


def _hop_graph(model: NetworkModel) -> sp.csr_matrix:
    n = model.n_nodes
    a, b = model.link_start, model.link_end
    ones = np.ones(2 * a.size)
    return sp.coo_matrix((ones, (np.concatenate([a, b]), np.concatenate([b, a]))), shape=(n, n)).tocsr()


def pipe_distance(model: NetworkModel, pipe: str, others: Iterable[str]) -> dict[str, int]:
    """Graph distance in pipes from ``pipe`` to each of ``others``: 0 = same pipe, 1 = sharing a
    node, 2 = one pipe in between, ... (``-1`` when not connected)."""
    p = int(model.link_indices([pipe])[0])
    others = list(others)
    q = model.link_indices(others)
    ends = [int(model.link_start[p]), int(model.link_end[p])]
    d = dijkstra(_hop_graph(model), unweighted=True, indices=ends).min(axis=0)
    out: dict[str, int] = {}
    for oid, k in zip(others, q):
        if k == p:
            out[oid] = 0
            continue
        dn = min(d[model.link_start[k]], d[model.link_end[k]])
        out[oid] = -1 if not np.isfinite(dn) else int(dn) + 1
    return out


def _screen(model: NetworkModel, complaints: Mapping[str, str], pipe_idx: np.ndarray) -> np.ndarray:
    """``pipe_idx`` ordered by the weighted mean network distance (m) to the callers, nearest first."""
    callers = [(n, k) for n, k in complaints.items() if k != "ok"]
    nodes = model.node_indices([n for n, _ in callers])
    return _screen_nodes(model, nodes, [k for _, k in callers], pipe_idx)


def _screen_nodes(model: NetworkModel, nodes: np.ndarray, kinds: list[str], pipe_idx: np.ndarray) -> np.ndarray:
    order = sorted(range(len(kinds)), key=lambda i: (-SEVERITY[kinds[i]], int(model.node_rank[nodes[i]])))
    order = order[:MAX_CALLERS_FOR_DISTANCES]
    nodes = np.asarray(nodes)[order]
    weights = np.array([2.0 if kinds[i] == "no_water" else 1.0 for i in order])
    dist = dijkstra(_node_graph(model), indices=nodes)  # callers x nodes
    big = np.nanmax(np.where(np.isfinite(dist), dist, np.nan)) if np.isfinite(dist).any() else 1.0
    dist = np.where(np.isfinite(dist), dist, 10.0 * (big + 1.0))
    a, b = model.link_start[pipe_idx], model.link_end[pipe_idx]
    per_pipe = np.minimum(dist[:, a], dist[:, b])  # callers x pipes
    mean = weights @ per_pipe / weights.sum()
    nearest = per_pipe.min(axis=0)
    return pipe_idx[np.lexsort((model.link_rank[pipe_idx], nearest, mean))]


# ------------------------------------------------------------------------------------ hydraulics

def _epanet_library() -> str:
    spec = importlib.util.find_spec("wntr")
    if spec is None or not spec.submodule_search_locations:
        raise HydraulicsUnavailable("wntr (which ships the EPANET library) is not installed")
    base = Path(list(spec.submodule_search_locations)[0]) / "epanet" / "libepanet"
    if sys.platform.startswith("win"):
        lib = base / "windows-x64" / "epanet22.dll"
    elif sys.platform == "darwin":
        lib = base / ("darwin-arm" if os.uname().machine == "arm64" else "darwin-x64") / "libepanet22.dylib"
    else:
        lib = base / "linux-x64" / "libepanet22.so"
    if not lib.exists():
        raise HydraulicsUnavailable(f"EPANET library not found at {lib}")
    return str(lib)


class Hydraulics:
    """One EPANET project opened on an .inp file: pressure-driven steady state (time 0).

    ``pressure_m(nodes)`` of the baseline, ``leak_pressure_m(...)`` with an emitter added.
    Close with :meth:`close` (or use as a context manager).
    """

    def __init__(self, inp_path: str | Path) -> None:
        self._lib = ctypes.cdll.LoadLibrary(_epanet_library())
        self._ph = ctypes.c_void_p()
        self._open = False
        lib, ph = self._lib, self._ph
        if lib.EN_createproject(ctypes.byref(ph)) != 0:
            raise HydraulicsUnavailable("EPANET: cannot create a project")
        err = lib.EN_open(ph, str(inp_path).encode(), os.devnull.encode(), b"")
        if err > 100:
            lib.EN_deleteproject(ph)
            raise HydraulicsUnavailable(f"EPANET cannot open {inp_path} (error {err})")
        self._open = True
        units = ctypes.c_int()
        lib.EN_getflowunits(ph, ctypes.byref(units))
        self.flow_to_si = _FLOW_TO_SI.get(units.value, 1e-3)
        self.us_units = units.value <= 4
        self.press_to_m = _PSI_TO_M if self.us_units else 1.0
        self.diam_to_m = 0.0254 if self.us_units else 0.001
        lib.EN_settimeparam(ph, 0, ctypes.c_long(0))  # EN_DURATION: one steady state
        preq = REQUIRED_PRESSURE_M / self.press_to_m
        if lib.EN_setdemandmodel(ph, 1, ctypes.c_double(0.0), ctypes.c_double(preq), ctypes.c_double(0.5)) > 100:
            raise HydraulicsUnavailable("EPANET: cannot set the pressure-driven demand model")
        if lib.EN_openH(ph) > 100:
            raise HydraulicsUnavailable("EPANET: cannot open the hydraulic solver")
        if not self._solve():
            raise HydraulicsUnavailable(f"EPANET cannot solve the baseline of {inp_path}")

    def __enter__(self) -> Hydraulics:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._open:
            self._lib.EN_closeH(self._ph)
            self._lib.EN_close(self._ph)
            self._lib.EN_deleteproject(self._ph)
            self._open = False

    def _solve(self) -> bool:
        """One steady state from a clean start. EN_initH alone keeps some solver state (demand and
        emitter flows of the last solve): on ky10 a burst solved after 20 others came out 30 m off a
        fresh project's answer. Re-opening the solver costs ~1 ms and matches it exactly."""
        lib, ph = self._lib, self._ph
        lib.EN_closeH(ph)
        if lib.EN_openH(ph) > 100 or lib.EN_initH(ph, 0) > 100:
            return False
        t = ctypes.c_long()
        return lib.EN_runH(ph, ctypes.byref(t)) <= 100

    def node_index(self, node_id: str) -> int:
        i = ctypes.c_int()
        if self._lib.EN_getnodeindex(self._ph, str(node_id).encode(), ctypes.byref(i)) != 0:
            raise KeyError(node_id)
        return i.value

    def node_id(self, index: int) -> str:
        buf = ctypes.create_string_buffer(64)
        self._lib.EN_getnodeid(self._ph, index, buf)
        return buf.value.decode()

    def node_type(self, index: int) -> int:
        t = ctypes.c_int()
        self._lib.EN_getnodetype(self._ph, index, ctypes.byref(t))
        return t.value

    def link(self, link_id: str) -> tuple[int, int, int, float]:
        """(EPANET index, start node index, end node index, diameter in m) of a link."""
        lib, ph = self._lib, self._ph
        i, a, b, d = ctypes.c_int(), ctypes.c_int(), ctypes.c_int(), ctypes.c_double()
        if lib.EN_getlinkindex(ph, str(link_id).encode(), ctypes.byref(i)) != 0:
            raise KeyError(link_id)
        lib.EN_getlinknodes(ph, i.value, ctypes.byref(a), ctypes.byref(b))
        lib.EN_getlinkvalue(ph, i.value, 0, ctypes.byref(d))  # EN_DIAMETER
        return i.value, a.value, b.value, d.value * self.diam_to_m

    def customers(self) -> list[int]:
        """EPANET indices of junctions with a base demand (the customers)."""
        lib, ph = self._lib, self._ph
        n, t, k = ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
        v = ctypes.c_double()
        lib.EN_getcount(ph, 0, ctypes.byref(n))  # EN_NODECOUNT
        out = []
        for i in range(1, n.value + 1):
            lib.EN_getnodetype(ph, i, ctypes.byref(t))
            if t.value != 0:
                continue
            lib.EN_getnumdemands(ph, i, ctypes.byref(k))
            total = 0.0
            for d in range(1, k.value + 1):
                lib.EN_getbasedemand(ph, i, d, ctypes.byref(v))
                total += v.value
            if total > 0:
                out.append(i)
        return out

    def _node_value(self, index: int, prop: int) -> float:
        v = ctypes.c_double()
        self._lib.EN_getnodevalue(self._ph, index, prop, ctypes.byref(v))
        return v.value

    def pressure_m(self, nodes: Iterable[int]) -> np.ndarray:
        """Pressure (m) at EPANET node indices, as last solved."""
        return np.array([self._node_value(i, 11) for i in nodes]) * self.press_to_m

    def emitter_coefficient(self, area_m2: float) -> float:
        """EPANET emitter coefficient (file units) of an orifice of ``area_m2``."""
        c_si = DISCHARGE_COEFF * area_m2 * math.sqrt(2 * _G)  # m3/s per m^0.5
        return c_si / self.flow_to_si * math.sqrt(self.press_to_m)

    def leak_pressure_m(self, emitters: Mapping[int, float], watch: Iterable[int]) -> np.ndarray | None:
        """Pressures (m) at ``watch`` with emitter coefficients added at nodes; None if unsolved."""
        lib, ph = self._lib, self._ph
        old = {n: self._node_value(n, 3) for n in emitters}
        try:
            for n, c in emitters.items():
                lib.EN_setnodevalue(ph, n, 3, ctypes.c_double(old[n] + c))
            return self.pressure_m(watch) if self._solve() else None
        finally:
            for n, c in old.items():
                lib.EN_setnodevalue(ph, n, 3, ctypes.c_double(c))


def _perception_models() -> list[tuple[float, float, float]]:
    return [(dry, share, metres) for dry in DRY_M for share in DROP_SHARE for metres in DROP_M]


def _report_probs(p: np.ndarray, p0: np.ndarray, dry_m: float, drop_share: float, drop_m: float) -> np.ndarray:
    """P(ok), P(low_pressure), P(no_water) (first axis) at each node given the simulated pressure
    ``p`` and the baseline ``p0`` (m, broadcastable), under one perception model, before misreports."""
    q_dry = expit((dry_m - p) / DRY_SCALE_M)
    drop = p0 - p
    q_low = (expit((drop / np.maximum(p0, 1.0) - drop_share) / DROP_SHARE_SCALE)
             * expit((drop - drop_m) / DROP_M_SCALE))
    return np.stack([(1 - q_dry) * (1 - q_low), (1 - q_dry) * q_low, q_dry])


def _logliks(pressures: np.ndarray, p0: np.ndarray, kinds: np.ndarray) -> np.ndarray:
    """log P(reports, silence | burst on each candidate), averaged over the perception models.

    ``pressures``: candidates x leak sizes x nodes (NaN where EPANET did not solve); the first
    ``len(kinds)`` nodes reported ``kinds`` (0 ok, 1 low, 2 dry), the rest are customers who did not
    call. An affected customer calls with an unknown share ``s`` (profiled over :data:`CALL_SHARES`),
    any customer whose water is fine with ``UNRELATED_CALLS / customers`` (at most
    ``STRAY_MAX``); ``ok`` reports were asked
    for, so carry neither. Per candidate the best leak size counts.
    """
    n_rep = kinds.size
    u = min(UNRELATED_CALLS / max(pressures.shape[-1], 1), STRAY_MAX)
    complaint = kinds > 0
    per_model = []
    for dry, share, metres in _perception_models():
        st = _report_probs(pressures, p0, dry, share, metres)  # 3 x C x S x N
        rep = np.einsum("rk,rcsn->kcsn", CONFUSION, st[..., :n_rep])
        said = np.take_along_axis(rep, kinds[None, None, None, :], axis=0)[0]  # P(report | state), C x S x R
        stray = np.where(complaint, st[0][..., :n_rep] * u, 0.0)
        affected_silent = 1.0 - st[0][..., n_rep:]
        with np.errstate(divide="ignore"):
            ll = np.max([np.log(np.where(complaint, s * said, said) + stray).sum(-1)
                         + np.log1p(-s * affected_silent).sum(-1) for s in CALL_SHARES], axis=0)
        ll = np.where(np.isnan(ll), -np.inf, ll)
        per_model.append(ll.max(axis=1))
    return logsumexp(np.array(per_model), axis=0) - math.log(len(per_model))


@dataclass
class CandidatePressures:
    """What the hydraulic method simulates for one set of reports: the candidates EPANET solved,
    their pressures (candidates x leak sizes x nodes, NaN where unsolved), the baseline ``p0`` at
    the same nodes, and ``kinds`` (0 ok, 1 low, 2 dry) of the first ``kinds.size`` nodes (the
    reporters; the rest are customers who did not call)."""

    pipes: list[str]
    pressures: np.ndarray
    p0: np.ndarray
    kinds: np.ndarray
    nodes: list[str]       # ids of the nodes: the reporters, then the customers who did not call


def candidate_pressures(hyd: Hydraulics, complaints: Mapping[str, str], candidates: list[str]) -> CandidatePressures:
    """Simulate each candidate burst at every leak size (see :class:`CandidatePressures`)."""
    nodes = list(complaints)
    watch = [hyd.node_index(n) for n in nodes]
    seen = set(watch)
    silent = [i for i in hyd.customers() if i not in seen]
    kinds = np.array([SEVERITY[complaints[n]] for n in nodes])
    all_watch = watch + silent
    p0 = hyd.pressure_m(all_watch)  # baseline: solved last by the constructor (emitters restored)
    solved: list[str] = []
    rows: list[np.ndarray] = []
    for pipe in candidates:
        _, a, b, diam = hyd.link(pipe)
        ends = [n for n in (a, b) if hyd.node_type(n) == 0]  # emitters only at junctions
        if not ends:
            continue
        sizes = np.full((len(LEAK_FRACTIONS), len(all_watch)), np.nan)
        for k, frac in enumerate(LEAK_FRACTIONS):
            c = hyd.emitter_coefficient(frac * math.pi * diam * diam / 4) / len(ends)
            p = hyd.leak_pressure_m({n: c for n in ends}, all_watch)
            if p is not None:
                sizes[k] = p
        if not np.isnan(sizes).all():
            solved.append(pipe)
            rows.append(sizes)
    shape = (0, len(LEAK_FRACTIONS), len(all_watch))
    return CandidatePressures(solved, np.array(rows) if rows else np.zeros(shape), p0, kinds,
                              nodes + [hyd.node_id(i) for i in silent])


def posterior_of(sim: CandidatePressures,
                 loglik: Callable[[CandidatePressures], np.ndarray] | None = None) -> dict[str, float]:
    """Posterior probability (uniform prior) of each simulated candidate under ``loglik``
    (default: the locator's :func:`_logliks`); empty when no candidate explains the reports."""
    if not sim.pipes:
        return {}
    ll = loglik(sim) if loglik is not None else _logliks(sim.pressures, sim.p0, sim.kinds)
    if not np.isfinite(ll).any():
        return {}
    w = np.exp(ll - ll[np.isfinite(ll)].max())
    w = np.where(np.isfinite(ll), w, 0.0)
    return dict(zip(sim.pipes, (w / w.sum()).tolist()))


def _near_mass(model: NetworkModel, post: dict[str, float], radius: int) -> dict[str, float]:
    """Posterior mass of the candidates within ``radius`` pipes of each candidate (itself included):
    neighbouring pipes explain the calls almost equally, so this is the chance that the burst is
    within ``radius`` pipes of the one a crew is sent to."""
    ids = list(post)
    if radius <= 0 or len(ids) < 2:
        return dict(post)
    li = model.link_indices(ids)
    ends = np.concatenate([model.link_start[li], model.link_end[li]])
    d = dijkstra(_hop_graph(model), unweighted=True, indices=ends, limit=radius)
    d = np.minimum(d[: len(ids)], d[len(ids):])  # candidate x node
    near = np.minimum(d[:, model.link_start[li]], d[:, model.link_end[li]]) + 1  # pipe distance
    np.fill_diagonal(near, 0)
    mass = (near <= radius).astype(float) @ np.array([post[i] for i in ids])
    return dict(zip(ids, mass.tolist()))


# -------------------------------------------------------------------------------------- topology

def _every_pipe_valved(model: NetworkModel) -> NetworkModel:
    """The model with a valve at both ends of every link: isolating a link = removing it."""
    links = np.concatenate([model.link_ids, model.link_ids])
    nodes = model.node_ids[np.concatenate([model.link_start, model.link_end])]
    return with_valve_layer(model, links, nodes, source_name="every-link valves")


def locate_topology(model: NetworkModel, complaints: Mapping[str, str], *, top: int = 10,
                    pipes: Iterable[str] | None = None, use_valves: bool | None = None,
                    screen_k: int = TOPOLOGY_SCREEN_K) -> list[Candidate]:
    """Rank pipes by how well "what goes dry if this pipe fails" matches the reports.

    ``model`` may carry a valve layer (then a failure dries what its isolation shuts off);
    ``complaints``: ``{node id: report}`` as from :func:`check_complaints`; ``pipes``: candidate
    link ids (default all); only the ``screen_k`` nearest the callers are scored.
    """
    complaints = dict(complaints)
    pipe_idx = model.link_indices(list(pipes) if pipes is not None else model.link_ids.tolist())
    reported = dict(zip(model.node_indices(list(complaints)).tolist(), complaints.values()))
    order = _screen(model, complaints, pipe_idx)[:screen_k]
    return _topology_rank(model, reported, "node", order, top, use_valves)


def locate_buildings(model: NetworkModel, reports: Mapping[str, str], *, top: int = 10,
                     screen_k: int = TOPOLOGY_SCREEN_K) -> list[Candidate]:
    """The app's entry point (network from PostGIS, no hydraulic model): ``reports`` maps the
    *service pipe* of each calling building (``service_connections.pipe_id`` as str, the model's
    link id) to its report; several buildings on one pipe keep the most severe report. A pipe's
    failure dries the links its isolation shuts off (valve layer of the model) — a building is
    dry when its service pipe is. Raises :class:`UnknownPipe` / :class:`InputFileError`.
    """
    merged: dict[str, str] = {}
    for pipe, kind in reports.items():
        kind = str(kind).strip().lower()
        if kind not in SEVERITY:
            raise InputFileError(f"pipe {pipe!r}: unknown report {kind!r} (expected no_water|low_pressure|ok)")
        if str(pipe) not in merged or SEVERITY[kind] > SEVERITY[merged[str(pipe)]]:
            merged[str(pipe)] = kind
    if not any(k != "ok" for k in merged.values()):
        raise InputFileError("no complaint (need at least one no_water or low_pressure report)")
    idx = model.link_indices(list(merged))
    reported = dict(zip(idx.tolist(), merged.values()))
    callers = [(i, k) for i, k in reported.items() if k != "ok"]
    nodes = model.link_start[np.array([i for i, _ in callers])]
    order = _screen_nodes(model, nodes, [k for _, k in callers], np.arange(model.n_links))[:screen_k]
    return _topology_rank(model, reported, "link", order, top, None)


def _topology_rank(model: NetworkModel, reported: dict[int, str], unit: str, order: np.ndarray, top: int,
                   use_valves: bool | None) -> list[Candidate]:
    """Score candidate links ``order`` (screening order breaks ties) against reports on nodes or links."""

    use_valves = model.n_valves > 0 if use_valves is None else use_valves
    index = isolation_index(model if use_valves else _every_pipe_valved(model))
    w_total = sum(1.0 if k == "no_water" else 0.5 for k in reported.values() if k != "ok")
    customer = ~model.is_source if unit == "node" else np.ones(model.n_links, dtype=bool)
    scored: list[tuple[float, int, str]] = []
    for rank, li in enumerate(order):
        pid = str(model.link_ids[li])
        r = isolate(index, pid)
        if unit == "node":
            dry = set(model.node_indices(r.isolated_nodes + r.unintended_nodes).tolist())
            if not use_valves:  # the burst site itself loses pressure (with valves it is in the segment)
                dry.update((int(model.link_start[li]), int(model.link_end[li])))
        else:
            dry = set(model.link_indices(r.isolated_links + r.unintended_links).tolist())
            dry.add(int(li))
        tp = sum(1.0 if reported[n] == "no_water" else 0.5 for n in dry if reported.get(n, "ok") != "ok")
        ok_hit = sum(1 for n in dry if reported.get(n) == "ok")
        silent = sum(1 for n in dry if n not in reported and customer[n])
        # recall of the reports x a soft precision: "ok" inside the dry set weighs like two misses,
        # silent dry places a little (only a share of the affected call).
        recall = tp / w_total
        precision = tp / (tp + 2.0 * ok_hit + 0.05 * silent) if tp > 0 else 0.0
        score = 0.0 if tp == 0 else 2 * recall * precision / (recall + precision)
        scored.append((score, rank, pid))
    scored.sort(key=lambda s: (-s[0], s[1]))
    return [Candidate(pid, _round(s)) for s, _, pid in scored[: max(top, 0)]]


def _round(x: float) -> float:
    return float(f"{x:.6g}")


# ------------------------------------------------------------------------------------------ main

def locate(inp_path: str | Path, model: NetworkModel, complaints: Mapping[str, str], *, top: int = 10,
           method: str = "auto", screen_k: int = SCREEN_K, prior: Mapping[str, float] | None = None,
           lap: Callable[[str], None] | None = None,
           pipes: Iterable[str] | None = None) -> tuple[list[Candidate], str]:
    """Ranked candidate pipes and the method used (``hydraulic`` or ``topology``).

    ``model`` is the topology of ``inp_path`` (``read_inp_topology``), optionally with a valve
    layer; ``method``: ``auto`` (hydraulic when EPANET can solve the file), ``hydraulic`` or
    ``topology``; ``prior``: optional ``{pipe id: risk}`` (e.g. expected breaks from
    ``python -m forecast risk``), see :func:`prior_weights`. ``lap(stage)`` is called after each
    stage (for ``--timings``). ``pipes``: the burst candidates (default: the file's [PIPES]; the app
    passes its model's pipes, its pumps being written as pipes, see ``network.hydraulic_model``).
    """
    lap = lap or (lambda stage: None)
    if method not in ("auto", "hydraulic", "topology"):
        raise InputFileError(f"--method {method!r}: expected auto|hydraulic|topology")
    pipes = list(pipes) if pipes is not None else None
    res = hydraulic_posterior(inp_path, model, complaints, method=method, screen_k=screen_k, lap=lap, pipes=pipes)
    if res is None:
        pipes = pipes if pipes is not None else _pipe_ids_of_inp(inp_path)
        out = locate_topology(model, complaints, top=top, pipes=pipes)
        lap("topology")
        return out, "topology"
    post, order = res
    return rank_posterior(model, post, order, top=top, prior=prior), "hydraulic"


def hydraulic_posterior(inp_path: str | Path, model: NetworkModel, complaints: Mapping[str, str], *,
                        method: str = "auto", screen_k: int = SCREEN_K,
                        lap: Callable[[str], None] | None = None,
                        pipes: Iterable[str] | None = None,
                        keep: list[CandidatePressures] | None = None) -> tuple[dict[str, float], list[str]] | None:
    """``(posterior of the simulated candidates under a uniform prior, screening order)``, or None
    when the network cannot be simulated and ``method`` allows the topology fallback. ``keep``: a
    list the candidates' simulated pressures are appended to (the benchmark scores them again)."""
    lap = lap or (lambda stage: None)
    if method == "topology":
        return None
    pipes = list(pipes) if pipes is not None else _pipe_ids_of_inp(inp_path)
    pipe_set = set(pipes)
    pipe_idx = model.link_indices(pipes)
    try:
        hyd = Hydraulics(inp_path)
    except (HydraulicsUnavailable, OSError) as exc:
        if method == "hydraulic":
            raise InputFileError(f"{inp_path}: cannot simulate: {exc}") from exc
        return None
    with hyd:
        lap("baseline")
        order = [str(model.link_ids[i]) for i in _screen(model, complaints, pipe_idx)]
        lap("screen")
        candidates = [p for p in order[:screen_k] if p in pipe_set]
        sim = candidate_pressures(hyd, complaints, candidates)
        post = posterior_of(sim)
        lap("simulate")
    if keep is not None:
        keep.append(sim)
    if not post:
        if method == "hydraulic":
            raise InputFileError(f"{inp_path}: EPANET could not solve any candidate burst")
        return None
    return post, order


def prior_weights(prior: Mapping[str, float], pipes: Iterable[str]) -> dict[str, float]:
    """Prior weight of each of ``pipes`` from ``{pipe: risk}`` (expected breaks, any scale).

    A pipe missing from ``prior`` gets the mean risk; every weight is floored at PRIOR_FLOOR x the
    mean (a forecast of "no risk" must not rule a pipe out), and tempered by PRIOR_POWER (the
    forecast is itself uncertain)."""
    pipes = list(pipes)
    vals = [float(v) for v in prior.values() if math.isfinite(float(v)) and float(v) >= 0]
    mean = (sum(vals) / len(vals)) if vals and sum(vals) > 0 else 1.0
    out = {}
    for p in pipes:
        v = prior.get(p)
        v = mean if v is None or not math.isfinite(float(v)) or float(v) < 0 else float(v)
        out[p] = max(v / mean, PRIOR_FLOOR) ** PRIOR_POWER
    return out


def rank_posterior(model: NetworkModel, post: Mapping[str, float], order: list[str], *, top: int = 10,
                   prior: Mapping[str, float] | None = None) -> list[Candidate]:
    """The ranked list from a candidate posterior (see :func:`locate`), optionally re-weighted by a prior."""
    post = dict(post)
    if prior is not None:
        w = prior_weights(prior, post)
        post = {p: v * w[p] for p, v in post.items()}
        total = sum(post.values())
        if total > 0:
            post = {p: v / total for p, v in post.items()}
    rank = {p: i for i, p in enumerate(order)}
    ranked = sorted(post, key=lambda p: (-post[p], rank[p]))
    # The first answer is where a crew goes: the pipe that maximises P(burst within NEAR_PIPES of
    # it) + EXACT_BONUS x P(burst on it). Its score is the former, which is never below any later
    # pipe's own posterior; the rest follow by posterior probability.
    mass = _near_mass(model, post, NEAR_PIPES)
    first = min(ranked, key=lambda p: (-(mass[p] + EXACT_BONUS * post[p]), -post[p], rank[p]))
    ranked = [first] + [p for p in ranked if p != first]
    rest = [p for p in order if p not in post]
    out = ([Candidate(first, _round(mass[first]))] + [Candidate(p, _round(post[p])) for p in ranked[1:]]
           + [Candidate(p, 0.0) for p in rest])
    return out[: max(top, 0)]
