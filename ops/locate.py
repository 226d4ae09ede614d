"""Suspected bursts from residents' calls: the open "no water" / "low pressure" / "burst" reports of
the last hours that cluster on the map, each cluster located on the network with the shutoff plan of
its top candidate. A what-if: nothing is stored.

The locator is the command line's (``network.locate.locate``, hydraulic) on a model built from the
database (``network.hydraulic_model``, cached per database, network, revision, buildings' version and
day: :func:`hydraulic_model`); when the model cannot be built or solved, or a call hangs where it
does not reach, the cluster is ranked by topology (``locate_buildings``) and the panel says why.

Decisions (docs/network.md, "Locating a burst" → "In the app"):

- A call counts for network ``N`` when it is open, of category ``no_water``, ``low_pressure`` or
  ``burst``, created within ``window_h`` hours before ``now``, about ``N``'s resource (or ``none``),
  not already explained by an outage (``outage_id`` empty), and it hangs on a pipe of ``N``: the
  calling building's service pipe (``service_connections``), else the pipe the intake snapped the
  call to (``incidents.pipe_id``, same network). A "burst" call (water on the street) is evidence
  that the pipe next to it is dry: it counts as ``no_water`` on that pipe.
- Clusters: seeded on the map (the call with the most others within ``radius_m`` takes them all,
  repeat; see :func:`clusters`); a cluster with at least ``min_calls`` calls is a suspected burst.
- A call's node in the hydraulic model: the end of its pipe nearer to the call (the other end when
  that one is a source).
- Only the calls are evidence; buildings of the area that did not call are not "ok" reports (a
  share of the affected never call) — the locator already weighs silent customers a little.
"""
from __future__ import annotations

import logging

import math
import shutil
import tempfile
import threading
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, text

from auth.model import Actor
from forecast.rules import default_rules, normalise_material
from gis import network_repo as repo
from gis.overviews import BUILDINGS, data_version
from network.errors import NetworkError
from network.hydraulic_model import HydraulicModel, PipeRows, build_hydraulic_model, building_demand_m3s
from network.locate import SEVERITY, Hydraulics, HydraulicsUnavailable, locate, locate_buildings
from ops import network as net_ops
from ops.base import allow, engine, utcnow
from ops.shared import db_key, shared

CATEGORIES = {"no_water": "no_water", "low_pressure": "low_pressure", "burst": "no_water"}
WINDOW_H = 6.0
MIN_CALLS = 3
RADIUS_M = 400.0
TOP = 5
_EARTH_M = 6_371_000.0

_CALLS = text("""
    SELECT i.id, i.category, i.created_at, ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat, i.address,
           coalesce(sc.pipe_id, CASE WHEN i.network_id = :n THEN i.pipe_id END) AS pipe_id,
           CASE WHEN ST_LineLocatePoint(p.geom, i.geom) < 0.5 THEN p.from_node ELSE p.to_node END AS near,
           CASE WHEN ST_LineLocatePoint(p.geom, i.geom) < 0.5 THEN p.to_node ELSE p.from_node END AS far
    FROM incidents i
    JOIN networks n ON n.id = :n
    LEFT JOIN service_connections sc ON sc.building_id = i.building_id AND sc.network_id = :n
    LEFT JOIN pipes p ON p.id = coalesce(sc.pipe_id, CASE WHEN i.network_id = :n THEN i.pipe_id END)
    WHERE i.status IN ('new', 'accepted', 'dispatched', 'in_progress')
      AND i.category IN ('no_water', 'low_pressure', 'burst')
      AND i.created_at >= :since AND i.created_at <= :now
      AND i.outage_id IS NULL
      AND (i.resource = n.resource OR i.resource = 'none')
      AND coalesce(sc.pipe_id, CASE WHEN i.network_id = :n THEN i.pipe_id END) IS NOT NULL
    ORDER BY i.id
""")

log = logging.getLogger("zhkh.locate")


@dataclass(frozen=True)
class Call:
    id: int
    report: str          # no_water | low_pressure (a "burst" call counts as no_water)
    category: str
    pipe: str            # the model's link id (pipes.id as str)
    lon: float
    lat: float
    address: str | None
    created_at: datetime
    nodes: tuple[str, ...] = ()   # the ends of its pipe, the nearer to the call first


@dataclass
class SuspectedBurst:
    """One cluster of calls, its ranked candidate pipes and the shutoff of the top one."""

    calls: list[Call]
    candidates: list[dict[str, Any]]    # pipe, ext_id, street, diameter_mm, score, lon, lat, geometry (score > 0)
    plan: Any = None                    # network.plan.ShutoffPlan of candidates[0] (None if it failed)
    segment: list[str] = field(default_factory=list)     # pipes the top candidate's shutoff isolates
    segment_geometries: dict[str, dict[str, Any]] = field(default_factory=dict)
    error: str | None = None
    method: str = "topology"            # hydraulic | topology
    fallback: str | None = None         # why topology: a FALLBACKS code (the details are logged)

    @property
    def top(self) -> dict[str, Any] | None:
        return self.candidates[0] if self.candidates else None

    @property
    def center(self) -> tuple[float, float]:
        """(lat, lon) of the calls' centre."""
        return (sum(c.lat for c in self.calls) / len(self.calls), sum(c.lon for c in self.calls) / len(self.calls))


def distance_m(a: Call, b: Call) -> float:
    """Great-circle distance (equirectangular: < 0.1 % off within a few km)."""
    lat = math.radians((a.lat + b.lat) / 2)
    dx = math.radians(b.lon - a.lon) * math.cos(lat)
    dy = math.radians(b.lat - a.lat)
    return _EARTH_M * math.hypot(dx, dy)


def clusters(calls: list[Call], radius_m: float) -> list[list[Call]]:
    """Seeded clusters on the map: the call with the most others within ``radius_m`` (ties: the
    earliest) takes every call still free within ``radius_m`` of it; repeat with what is left. A
    cluster is at most ``2 × radius_m`` across, so scattered calls over a city never chain into one
    (single linkage, or DBSCAN with a core of 3, would). Largest first, then the earliest call."""
    free = set(range(len(calls)))
    near = {i: {j for j in free if j != i and distance_m(calls[i], calls[j]) <= radius_m} for i in free}
    out: list[list[Call]] = []
    while free:
        seed = max(free, key=lambda i: (len(near[i] & free), -calls[i].id))
        members = sorted({seed} | (near[seed] & free))
        free -= set(members)
        out.append([calls[i] for i in members])
    return sorted(out, key=lambda g: (-len(g), min(c.id for c in g)))


def open_calls(conn_or_engine: Any, network_id: int, now: datetime, window_h: float) -> list[Call]:
    rows = repo._rows(conn_or_engine, _CALLS, n=int(network_id), since=now - timedelta(hours=window_h), now=now)
    return [Call(int(r.id), CATEGORIES[r.category], r.category, str(r.pipe_id), float(r.lon), float(r.lat),
                 r.address, r.created_at, (str(r.near), str(r.far))) for r in rows]


@dataclass
class AppModel:
    """The network's hydraulic model as the app uses it: built (``model`` and the .inp EPANET opens)
    or not (``error`` says why); ``seconds`` it took; baseline pressures (m) at the customers."""

    model: HydraulicModel | None
    inp_path: Path | None
    error: str | None
    seconds: float
    pressure_m: tuple[float, float] = (math.nan, math.nan)   # min, median at demand nodes


_models: OrderedDict[tuple[Any, ...], AppModel] = OrderedDict()
_MAX_MODELS = 4


def _model_key(eng: Engine, network_id: int, now: datetime) -> tuple[Any, ...] | None:
    """(database, network, revision, buildings' version, day): a model is rebuilt when the network
    changes (imports and valve statuses bump its revision), when buildings change, and once a day
    (meters' means move)."""
    rev = repo.network_version(eng, network_id)
    if rev is None:
        return None
    with eng.connect() as conn:
        bver = data_version(conn, BUILDINGS)
    return (eng.url.render_as_string(hide_password=True), int(network_id), rev, bver, now.date().isoformat())


def _build(eng: Engine, network_id: int, now: datetime) -> AppModel:
    started = time.perf_counter()
    with eng.connect() as conn:
        nodes, pipes, served = repo.hydraulic_inputs(conn, network_id)
    kind = dict(zip(nodes.ids, nodes.kinds))
    demand: dict[str, float] = {}
    for b in served:
        node = next((n for n in b["nodes"] if kind.get(n) in ("junction", "hydrant")), None)
        if node is not None:
            demand[node] = demand.get(node, 0.0) + building_demand_m3s(b["residents"], b["flats"], b["m3_day"])
    mats = [None if m is None else normalise_material([m], default_rules())[0] for m in pipes.material]
    pipes = PipeRows(**{**pipes.__dict__, "material": mats})
    folder = Path(tempfile.mkdtemp(prefix="zhkh-hydraulic-"))
    try:
        hm = build_hydraulic_model(nodes, pipes, demand, year=now.year, name=f"network {network_id}")
        inp = hm.write_inp(folder / "network.inp")
        with Hydraulics(inp) as hyd:   # the baseline must solve, with pressure at the customers
            p = hyd.pressure_m([hyd.node_index(n) for n in hm.demand_m3s])
        if p.size == 0 or not (p > 0).any():
            raise HydraulicsUnavailable("no customer has pressure in the baseline")
        app = AppModel(hm, inp, None, 0.0, (float(p.min()), float(np.median(p))))
    except (NetworkError, HydraulicsUnavailable, OSError, KeyError, ValueError, ImportError) as exc:   # no wntr: ImportError
        shutil.rmtree(folder, ignore_errors=True)
        return AppModel(None, None, str(exc) or type(exc).__name__, time.perf_counter() - started)
    app.seconds = time.perf_counter() - started
    weakref.finalize(app, shutil.rmtree, folder, True)   # the .inp goes with the cached model
    return app


def hydraulic_model(eng: Engine, network_id: int, now: datetime | None = None) -> AppModel:
    """The network's hydraulic model, built once per (database, network, revision, buildings'
    version, day) and shared by every session of the process."""
    now = now or utcnow()
    key = _model_key(eng, network_id, now)
    if key is None:
        return AppModel(None, None, f"no network with id {network_id}", 0.0)
    with _lock:
        if key in _models:
            _models.move_to_end(key)
            return _models[key]
    app = _build(eng, network_id, now)   # outside the lock: a duplicate build is harmless
    with _lock:
        _models[key] = app
        while len(_models) > _MAX_MODELS:
            _models.popitem(last=False)
    return app


_lock = threading.Lock()
_results: OrderedDict[tuple[Any, ...], list[SuspectedBurst]] = OrderedDict()
_MAX_CACHED = 32


METHODS = ("auto", "topology")


def suspected_bursts(eng: Engine, network_id: int, now: datetime, *, window_h: float = WINDOW_H,
                     min_calls: int = MIN_CALLS, radius_m: float = RADIUS_M, top: int = TOP,
                     method: str = "auto") -> list[SuspectedBurst]:
    """The suspected bursts of ``network_id`` at ``now`` (no rights check: see :func:`bursts`).
    ``method``: ``auto`` (hydraulic, topology where it cannot be used) or ``topology``.

    The result is cached per network revision (and hydraulic model) and set of calls, so the control
    room's refresh every few seconds costs one query while nothing changes."""
    if method not in METHODS:
        raise ValueError(f"method {method!r}: expected {' or '.join(METHODS)}")
    calls = open_calls(eng, network_id, now, window_h)
    groups = [g for g in clusters(calls, radius_m) if len(g) >= min_calls]
    if not groups:
        return []
    mkey = _model_key(eng, network_id, now)
    key = (mkey, method, top, tuple(tuple((c.id, c.report, c.pipe) for c in g) for g in groups))
    with _lock:
        if key in _results:
            _results.move_to_end(key)
            return _results[key]
    idx = net_ops.index(network_id, bind=eng)
    app = hydraulic_model(eng, network_id, now) if method == "auto" else None
    out: list[SuspectedBurst] = []
    with eng.connect() as conn:
        for g in groups:
            out.append(_locate(conn, idx, app, network_id, g, top))
    with _lock:
        _results[key] = out
        while len(_results) > _MAX_CACHED:
            _results.popitem(last=False)
    return out


#: why a cluster was ranked by topology only (the panel words each; the technical detail goes to the log)
FALLBACKS = ("no_model", "call_outside_model", "solver_failed")


def _hydraulic(app: AppModel, group: list[Call], top: int) -> tuple[list[Any] | None, str | None]:
    """The command line's locator on the app's model: (ranked candidates, None), or (None, a FALLBACKS code)."""
    hm = app.model
    if hm is None or app.inp_path is None:
        log.warning("suspected bursts ranked by topology: no hydraulic model (%s)", app.error or "not built")
        return None, "no_model"
    junctions = hm.nodes - set(hm.topology.node_ids[hm.topology.is_source].tolist())
    complaints: dict[str, str] = {}
    for c in group:
        node = next((n for n in c.nodes if n in junctions), None)
        if node is None:
            log.warning("suspected bursts ranked by topology: call %s is on a pipe outside the hydraulic model", c.id)
            return None, "call_outside_model"
        if node not in complaints or SEVERITY[c.report] > SEVERITY[complaints[node]]:
            complaints[node] = c.report
    try:
        ranked, _ = locate(app.inp_path, hm.topology, complaints, top=top, method="hydraulic", pipes=hm.pipes)
    except (NetworkError, HydraulicsUnavailable, OSError, KeyError) as exc:
        log.warning("suspected bursts ranked by topology: the hydraulic locator failed: %s", str(exc) or type(exc).__name__)
        return None, "solver_failed"
    return ranked, None


def _locate(conn: Any, idx: Any, app: AppModel | None, network_id: int, group: list[Call], top: int) -> SuspectedBurst:
    reports = {c.pipe: c.report for c in group}
    burst = SuspectedBurst(calls=group, candidates=[])
    ranked = None
    if app is not None:
        ranked, burst.fallback = _hydraulic(app, group, top)
    if ranked is not None:
        burst.method = "hydraulic"
    else:
        try:
            ranked = locate_buildings(idx.model, reports, top=top)
        except (NetworkError, KeyError) as exc:   # a pipe unknown to the model (edited since): say so, no crash
            burst.error = str(exc)
            return burst
    ranked = [c for c in ranked if c.score > 0]   # a pipe whose failure dries none of the callers is no candidate
    ids = [c.pipe for c in ranked]
    details = repo.pipe_midpoints(conn, ids)
    geoms = repo.pipe_geojson(conn, ids)
    burst.candidates = [{"pipe": c.pipe, "score": c.score, "ext_id": details.get(c.pipe, {}).get("ext_id", c.pipe),
                         "street": details.get(c.pipe, {}).get("street"),
                         "diameter_mm": details.get(c.pipe, {}).get("diameter_mm"),
                         "lon": details.get(c.pipe, {}).get("lon"), "lat": details.get(c.pipe, {}).get("lat"),
                         "geometry": geoms.get(c.pipe)} for c in ranked]
    if ranked:
        try:
            burst.plan = net_ops.plan_on(conn, idx, network_id, [ranked[0].pipe])
        except NetworkError as exc:
            burst.error = str(exc)
        else:
            burst.segment = [str(p) for p in (*burst.plan.result.isolated_links, *burst.plan.result.unintended_links)]
            burst.segment_geometries = repo.pipe_geojson(conn, burst.segment)
    return burst


def bursts(actor: Actor, network_id: int, *, now: datetime | None = None, bind: Engine | None = None,
           max_age: float = 0, **options: Any) -> list[SuspectedBurst]:
    """Use-case: the suspected bursts the dispatcher should see now (``network.read``; nothing stored).
    ``max_age`` > 0: shared by the sessions of this replica for that many seconds (ops.shared)."""
    allow(actor, "network.read")
    allow(actor, "reports.read")
    eng = engine(bind)
    if max_age > 0 and now is None and not options:   # the wall screens: once per refresh period per replica
        return shared(("bursts", db_key(eng), network_id), max_age, lambda: suspected_bursts(eng, network_id, utcnow()))
    return suspected_bursts(eng, network_id, now or utcnow(), **options)
