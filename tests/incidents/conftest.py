"""A tiny Helsinki district for the incidents tests: one cold-water network (a source and a
straight main along a street), three buildings next to it and one 300 m away, a hot-water network.

Layout (lon, lat; 0.001° lon ≈ 55 m, 0.001° lat ≈ 111 m at 60.17° N)::

    A(24.940,60.170)──pipe P1──B(24.942,60.170)──pipe P2──C(24.944,60.170)
       building 1 (24.9405, 60.1702)   building 2 (24.9425, 60.1702)   building 3 (24.9435, 60.1702)
       building 4 far north (24.9410, 60.1730)
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from incidents.service import forget_service_area
from incidents.sla import Rules, load_rules
from settings import ROOT, Settings

RULES_DIR = ROOT / "incidents" / "rules"


@dataclass(frozen=True)
class City:
    network_id: int
    hot_network_id: int
    pipe_ids: list[int]
    hot_pipe_id: int
    building_ids: list[int]   # 1..4 as in the module docstring
    valve_id: int


def _square(lon: float, lat: float, half: float = 0.0001) -> str:
    return (f"POLYGON(({lon-half} {lat-half/2}, {lon+half} {lat-half/2}, {lon+half} {lat+half/2}, "
            f"{lon-half} {lat+half/2}, {lon-half} {lat-half/2}))")


@pytest.fixture()
def city(clean_engine: Engine) -> Iterator[City]:
    with clean_engine.begin() as conn:
        net = conn.execute(text("INSERT INTO networks (name, resource) VALUES ('cw', 'cold_water') RETURNING id")).scalar_one()
        hot = conn.execute(text("INSERT INTO networks (name, resource) VALUES ('hw', 'hot_water') RETURNING id")).scalar_one()
        nodes = []
        for i, (lon, kind) in enumerate(((24.940, "source"), (24.942, "junction"), (24.944, "junction"))):
            nodes.append(conn.execute(text(
                "INSERT INTO nodes (network_id, ext_id, kind, geom) VALUES (:n, :e, :k, ST_SetSRID(ST_MakePoint(:x, 60.170), 4326)) RETURNING id"
            ), {"n": net, "e": f"N{i}", "k": kind, "x": lon}).scalar_one())
        pipes = []
        for i in range(2):
            pipes.append(conn.execute(text(
                "INSERT INTO pipes (network_id, ext_id, from_node, to_node, diameter_mm, geom) VALUES "
                "(:n, :e, :a, :b, 150, ST_SetSRID(ST_MakeLine(ST_MakePoint(:x0, 60.170), ST_MakePoint(:x1, 60.170)), 4326)) RETURNING id"
            ), {"n": net, "e": f"P{i+1}", "a": nodes[i], "b": nodes[i + 1], "x0": 24.940 + 0.002 * i,
                "x1": 24.942 + 0.002 * i}).scalar_one())
        hn = [conn.execute(text(
            "INSERT INTO nodes (network_id, ext_id, geom) VALUES (:n, :e, ST_SetSRID(ST_MakePoint(:x, 60.1701), 4326)) RETURNING id"
        ), {"n": hot, "e": f"H{i}", "x": x}).scalar_one() for i, x in enumerate((24.940, 24.944))]
        hot_pipe = conn.execute(text(
            "INSERT INTO pipes (network_id, ext_id, from_node, to_node, geom) VALUES (:n, 'HP1', :a, :b, "
            "ST_SetSRID(ST_MakeLine(ST_MakePoint(24.940, 60.1701), ST_MakePoint(24.944, 60.1701)), 4326)) RETURNING id"
        ), {"n": hot, "a": hn[0], "b": hn[1]}).scalar_one()
        valve = conn.execute(text(
            "INSERT INTO valves (network_id, ext_id, pipe_id, node_id, geom) VALUES (:n, 'V1', :p, :nd, "
            "ST_SetSRID(ST_MakePoint(24.9419, 60.170), 4326)) RETURNING id"), {"n": net, "p": pipes[0], "nd": nodes[1]}).scalar_one()
        buildings = []
        for addr, lon, lat, residents in (("Mannerheimintie 1", 24.9405, 60.1702, 40),
                                          ("Mannerheimintie 3", 24.9425, 60.1702, 60),
                                          ("Mannerheimintie 5", 24.9435, 60.1702, 25),
                                          ("Kalevankatu 9", 24.9410, 60.1730, 10)):
            buildings.append(conn.execute(text(
                "INSERT INTO buildings (address, kind, residents, geom) VALUES (:a, 'residential', :r, ST_GeomFromText(:g, 4326)) RETURNING id"
            ), {"a": addr, "r": residents, "g": _square(lon, lat)}).scalar_one())
        for b, p in ((buildings[0], pipes[0]), (buildings[1], pipes[1]), (buildings[2], pipes[1])):
            conn.execute(text(
                "INSERT INTO service_connections (building_id, pipe_id, network_id, geom) VALUES (:b, :p, :n, "
                "ST_SetSRID(ST_MakeLine(ST_MakePoint(24.94, 60.17), ST_MakePoint(24.9401, 60.1701)), 4326))"
            ), {"b": b, "p": p, "n": net})
    forget_service_area()
    yield City(net, hot, pipes, hot_pipe, buildings, valve)
    forget_service_area()


@pytest.fixture()
def empty_db(clean_engine: Engine) -> Iterator[Engine]:
    forget_service_area()
    yield clean_engine
    forget_service_area()


@pytest.fixture(scope="session")
def rules() -> Rules:
    return load_rules(RULES_DIR / "default.yaml")


@pytest.fixture(scope="session")
def strict_rules(tmp_path_factory: pytest.TempPathFactory) -> Rules:
    """The default rules plus ``leak_check``, whose attributes cover every datatype, some required."""
    path = tmp_path_factory.mktemp("rules") / "strict.yaml"
    path.write_text(f"""
extends: {RULES_DIR / 'default.yaml'}
region: strict
services:
  leak_check:
    name: "Проверка протечки"
    category: repair
    resolve_h: 24
    attributes:
      - {{code: floor, datatype: number, required: true}}
      - {{code: seen_at, datatype: datetime}}
      - {{code: where, datatype: singlevaluelist, required: true, values: {{bath: "Ванная", kitchen: "Кухня"}}}}
      - {{code: rooms, datatype: multivaluelist, values: {{a: "A", b: "B"}}}}
      - {{code: note, datatype: text}}
      - {{code: flat, datatype: string}}
""", encoding="utf-8")
    return load_rules(path)


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    return Settings(_env_file=None, incident_duplicate_radius_m=150, incident_duplicate_window_h=6,
                    incident_service_area_margin_m=2000)
