"""The control room's burst locator, hydraulically (ops/locate.py on network/hydraulic_model.py).

A 4 × 4 grid of old cast-iron 100 mm mains (about 220 m between junctions, lengths and elevations
not recorded: the model takes the geometry's length and a flat city), fed from one source at a
corner, two houses of 60 residents on every pipe. A burst is simulated on a known pipe with EPANET on
the model the app builds; the houses whose pressure fell call ("no water" or "low pressure"), the
worst hit first.
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
import pytest
from sqlalchemy import Engine, text

from gis import network_repo as repo
from network.locate import Hydraulics
from ops import locate
from ops import network as net_ops

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)
N = 4
DX, DY = 0.004, 0.002           # ≈ 222 m both ways at 60.17° N
X0, Y0 = 24.90, 60.17


@dataclass(frozen=True)
class Grid:
    engine: Engine
    network_id: int
    pipes: dict[str, int]        # "h{i}{j}" / "v{i}{j}" -> id
    buildings: dict[int, tuple[float, float]]   # id -> (lon, lat)


def _square(lon: float, lat: float, half: float = 0.00005) -> str:
    return (f"POLYGON(({lon-half} {lat-half/2}, {lon+half} {lat-half/2}, {lon+half} {lat+half/2}, "
            f"{lon-half} {lat+half/2}, {lon-half} {lat-half/2}))")


@pytest.fixture()
def grid(clean_engine: Engine) -> Iterator[Grid]:
    net_ops._indexes.clear()
    locate._results.clear()
    locate._models.clear()
    eng = clean_engine
    with eng.begin() as conn:
        n = conn.execute(text("INSERT INTO networks (name, resource) VALUES ('grid', 'cold_water') RETURNING id")).scalar_one()

        def node(ext: str, kind: str, x: float, y: float) -> int:
            return conn.execute(text(
                "INSERT INTO nodes (network_id, ext_id, kind, geom) VALUES (:n, :e, :k, ST_SetSRID(ST_MakePoint(:x, :y), 4326)) "
                "RETURNING id"), {"n": n, "e": ext, "k": kind, "x": x, "y": y}).scalar_one()

        xy = {(i, j): (X0 + i * DX, Y0 + j * DY) for i in range(N) for j in range(N)}
        ids = {k: node(f"J{k[0]}{k[1]}", "junction", *v) for k, v in xy.items()}
        src = node("S", "source", X0 - DX / 2, Y0)
        pipes: dict[str, int] = {}
        buildings: dict[int, tuple[float, float]] = {}

        def pipe(ext: str, a: int, b: int, pa: tuple[float, float], pb: tuple[float, float], diameter: float) -> None:
            pid = conn.execute(text(
                "INSERT INTO pipes (network_id, ext_id, from_node, to_node, diameter_mm, material, install_year, geom) "
                "VALUES (:n, :e, :a, :b, :d, 'чугун', 1955, "
                "ST_SetSRID(ST_MakeLine(ST_MakePoint(:x0, :y0), ST_MakePoint(:x1, :y1)), 4326)) RETURNING id"),
                {"n": n, "e": ext, "a": a, "b": b, "d": diameter, "x0": pa[0], "y0": pa[1], "x1": pb[0], "y1": pb[1]}
            ).scalar_one()
            pipes[ext] = pid
            if ext == "main":
                return
            for f in (0.25, 0.75):   # two houses along the pipe, a little off it
                lon, lat = pa[0] + f * (pb[0] - pa[0]) + 0.0002, pa[1] + f * (pb[1] - pa[1]) + 0.0001
                b_id = conn.execute(text(
                    "INSERT INTO buildings (address, kind, residents, geom) VALUES (:a, 'residential', 60, "
                    "ST_GeomFromText(:g, 4326)) RETURNING id"), {"a": f"{ext} house {f}", "g": _square(lon, lat)}).scalar_one()
                conn.execute(text(
                    "INSERT INTO service_connections (building_id, pipe_id, network_id, geom) VALUES (:b, :p, :n, "
                    "ST_SetSRID(ST_MakeLine(ST_MakePoint(:x, :y), ST_MakePoint(:x, :y + 0.0001)), 4326))"),
                    {"b": b_id, "p": pid, "n": n, "x": lon, "y": lat})
                buildings[int(b_id)] = (lon, lat)

        pipe("main", src, ids[(0, 0)], (X0 - DX / 2, Y0), xy[(0, 0)], 200)
        for i in range(N):
            for j in range(N):
                if i + 1 < N:
                    pipe(f"h{i}{j}", ids[(i, j)], ids[(i + 1, j)], xy[(i, j)], xy[(i + 1, j)], 100)
                if j + 1 < N:
                    pipe(f"v{i}{j}", ids[(i, j)], ids[(i, j + 1)], xy[(i, j)], xy[(i, j + 1)], 100)
    yield Grid(eng, int(n), pipes, buildings)


def simulated_calls(g: Grid, pipe: str, *, k: int = 5, area_share: float = 0.5) -> list[int]:
    """A burst on ``pipe`` simulated on the app's own model: the ``k`` houses with the lowest pressure
    call, "no water" below 10 m, else "low pressure" (a drop of a quarter or more). Incident ids."""
    app = locate.hydraulic_model(g.engine, g.network_id, NOW)
    assert app.model is not None, app.error
    with g.engine.connect() as conn:
        _, _, served = repo.hydraulic_inputs(conn, g.network_id)
    with Hydraulics(app.inp_path) as hyd:
        nodes = sorted(app.model.demand_m3s)
        watch = [hyd.node_index(n) for n in nodes]
        p0 = dict(zip(nodes, hyd.pressure_m(watch)))
        _, a, b, d = hyd.link(str(g.pipes[pipe]))
        c = hyd.emitter_coefficient(area_share * math.pi * d * d / 4) / 2
        p = dict(zip(nodes, hyd.leak_pressure_m({a: c, b: c}, watch)))
    report = {n: "no_water" if p[n] < 10 else "low_pressure" for n in nodes if p[n] < 10 or p0[n] - p[n] >= 0.25 * p0[n]}
    callers = sorted((s for s in served if s["nodes"][0] in report), key=lambda s: (p[s["nodes"][0]], s["id"]))[:k]
    assert len(callers) >= 3, "the burst must be felt"
    with g.engine.begin() as conn:
        return [int(conn.execute(text(
            "INSERT INTO incidents (category, resource, status, service_code, geom, building_id, created_at) "
            "VALUES (:c, 'cold_water', 'new', 'x', ST_SetSRID(ST_MakePoint(:x, :y), 4326), :b, :t) RETURNING id"),
            {"c": report[s["nodes"][0]], "x": g.buildings[s["id"]][0], "y": g.buildings[s["id"]][1], "b": s["id"],
             "t": NOW}).scalar_one()) for s in callers]


def test_the_model_built_from_the_database_solves(grid: Grid) -> None:
    app = locate.hydraulic_model(grid.engine, grid.network_id, NOW)
    assert app.error is None and app.model is not None
    hm = app.model
    assert len(hm.pipes) == 2 * N * (N - 1) + 1 and len(hm.demand_m3s) == N * N
    # 32 houses of 60 residents at 200 L/day
    assert sum(hm.demand_m3s.values()) == pytest.approx(2 * 24 * 60 * 0.2 / 86400)
    # cast iron ("чугун") laid in 1955: C = 130 - 0.8 x 71 years = 73.2; lengths from the geometry
    h = hm.wn.get_link(str(grid.pipes["h00"]))
    assert h.roughness == pytest.approx(73.2) and h.length == pytest.approx(222, abs=3)
    assert hm.assumed["elevation"] == N * N and hm.assumed["source_head"] == 1 and hm.assumed["material"] == 0
    with Hydraulics(app.inp_path) as hyd:
        p = hyd.pressure_m([hyd.node_index(n) for n in hm.demand_m3s])
    assert (p > 0).all() and p.max() < 50   # positive at every demand node, below the source's 50 m
    assert app.pressure_m[0] == pytest.approx(float(np.min(p)))


@pytest.mark.parametrize("pipe", ["h11", "v21", "h02"])
def test_a_simulated_burst_ranks_in_the_top_five(grid: Grid, pipe: str) -> None:
    ids = simulated_calls(grid, pipe)
    found = locate.suspected_bursts(grid.engine, grid.network_id, NOW)
    assert len(found) == 1 and sorted(c.id for c in found[0].calls) == sorted(ids)
    burst = found[0]
    assert burst.method == "hydraulic" and burst.fallback is None
    assert str(grid.pipes[pipe]) in [c["pipe"] for c in burst.candidates[:5]]
    assert burst.plan is not None   # the top candidate's shutoff, as with topology


def test_the_model_is_cached_until_the_revision_changes(grid: Grid) -> None:
    first = locate.hydraulic_model(grid.engine, grid.network_id, NOW)
    assert locate.hydraulic_model(grid.engine, grid.network_id, NOW) is first
    with grid.engine.begin() as conn:   # a valve closed in the field: the network's revision moves
        v = conn.execute(text(
            "INSERT INTO valves (network_id, ext_id, pipe_id, node_id, geom) SELECT network_id, 'V1', id, to_node, "
            "ST_EndPoint(geom) FROM pipes WHERE id = :p RETURNING id"), {"p": grid.pipes["h22"]}).scalar_one()
        conn.execute(text("UPDATE valves SET status = 'closed' WHERE id = :v"), {"v": v})
    second = locate.hydraulic_model(grid.engine, grid.network_id, NOW)
    assert second is not first and second.model is not None
    assert second.model.wn.get_link(str(grid.pipes["h22"])).initial_status.name == "Closed"
    assert locate.hydraulic_model(grid.engine, grid.network_id, NOW) is second


def test_topology_when_the_model_cannot_be_built(grid: Grid) -> None:
    """No source left: the model cannot be built; the panel ranks by topology and says why."""
    with grid.engine.begin() as conn:
        conn.execute(text("UPDATE nodes SET kind = 'junction' WHERE network_id = :n AND ext_id = 'S'"), {"n": grid.network_id})
        conn.execute(text("UPDATE networks SET revision = revision + 1 WHERE id = :n"), {"n": grid.network_id})
    app = locate.hydraulic_model(grid.engine, grid.network_id, NOW)
    assert app.model is None and "no source" in app.error
    with grid.engine.begin() as conn:
        for b, (x, y) in list(grid.buildings.items())[:3]:
            conn.execute(text(
                "INSERT INTO incidents (category, resource, status, service_code, geom, building_id, created_at) "
                "VALUES ('no_water', 'cold_water', 'new', 'x', ST_SetSRID(ST_MakePoint(:x, :y), 4326), :b, :t)"),
                {"x": x, "y": y, "b": b, "t": NOW})
    found = locate.suspected_bursts(grid.engine, grid.network_id, NOW)
    assert len(found) == 1 and found[0].method == "topology" and found[0].fallback == "no_model"
    assert found[0].candidates
