"""The demo city from the real Helsinki OSM extract: counts, determinism, a reload merges and keeps ids."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import pandas as pd
import pytest
from sqlalchemy import Engine, text

from data.demo import building_ext_ids, demo_counts, load_demo
from data.errors import NetworkBusy
from settings import ROOT
from tests.conftest import truncate_all

NAME = "demo under test"


def _fingerprint(engine: Engine) -> str:
    with engine.connect() as conn:
        rows = conn.execute(text(
            """
            SELECT 'p' || p.ext_id || p.diameter_mm || coalesce(p.material, '') || p.install_year || ST_AsText(p.geom)
            FROM pipes p JOIN networks n ON n.id = p.network_id WHERE n.name = :n
            UNION ALL
            SELECT 'v' || v.ext_id || v.status || p.ext_id FROM valves v JOIN pipes p ON p.id = v.pipe_id
            JOIN networks n ON n.id = v.network_id WHERE n.name = :n
            UNION ALL
            SELECT 'b' || coalesce(address, '') || kind || residents FROM buildings WHERE dataset = 'demo'
            ORDER BY 1
            """
        ), {"n": NAME}).scalars().all()
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()


@pytest.fixture(scope="module")
def demo(engine: Engine) -> dict:
    truncate_all(engine)  # buildings left by other modules' tests would get service connections too
    counts = load_demo(engine, seed=7, network_name=NAME)
    return {"counts": counts, "fingerprint": _fingerprint(engine)}


def test_counts_are_those_of_a_real_city(demo: dict) -> None:
    c = demo["counts"]
    assert c["buildings"] > 400  # central Helsinki extract: ~480 buildings
    assert c["osm_addressed"] > 50 and c["derived_addressed"] > 0
    assert c["osm_addressed"] + c["derived_addressed"] == c["buildings"]
    assert c["pipes"] > 200 and 10 < c["main_km"] < 60
    assert c["valves"] > 100 and c["closed_valves"] >= 1 and c["inoperable_valves"] >= 1
    assert c["hydrants"] > 10
    assert c["service_connections"] == c["buildings"]
    assert c["residents"] > 1000


def test_addresses_are_real_or_marked_derived(engine: Engine, demo: dict) -> None:
    with engine.connect() as conn:
        osm = conn.execute(text(
            "SELECT address FROM buildings WHERE dataset='demo' AND address_source='osm' ORDER BY address"
        )).scalars().all()
        derived = conn.execute(text(
            "SELECT housenumber FROM buildings WHERE dataset='demo' AND address_source='derived'"
        )).scalars().all()
        null_addr = conn.execute(text("SELECT count(*) FROM buildings WHERE dataset='demo' AND address IS NULL")).scalar_one()
    assert any(a.startswith("Mannerheimintie") for a in osm)
    assert all(h.startswith("~") for h in derived)
    assert null_addr == 0


def test_network_topology_is_consistent(engine: Engine, demo: dict) -> None:
    with engine.connect() as conn:
        # every valve's node is an end of its pipe
        bad = conn.execute(text(
            "SELECT count(*) FROM valves v JOIN pipes p ON p.id = v.pipe_id WHERE v.node_id NOT IN (p.from_node, p.to_node)"
        )).scalar_one()
        # pipe geometries start and end at their nodes (within 1 m)
        off = conn.execute(text(
            """SELECT count(*) FROM pipes p JOIN nodes a ON a.id = p.from_node JOIN nodes b ON b.id = p.to_node
               WHERE ST_Distance(ST_StartPoint(p.geom)::geography, a.geom::geography) > 1
                  OR ST_Distance(ST_EndPoint(p.geom)::geography, b.geom::geography) > 1"""
        )).scalar_one()
        kinds = dict(conn.execute(text(
            "SELECT kind, count(*) FROM nodes n JOIN networks w ON w.id = n.network_id WHERE w.name = :n GROUP BY kind"
        ), {"n": NAME}).all())
    assert bad == 0 and off == 0
    assert kinds.get("source") == 1 and kinds.get("tank") == 1


def test_reload_is_deterministic_and_never_duplicates(engine: Engine, demo: dict) -> None:
    again = load_demo(engine, seed=7, network_name=NAME)
    assert again["pipes"] == demo["counts"]["pipes"] and again["buildings"] == demo["counts"]["buildings"]
    assert _fingerprint(engine) == demo["fingerprint"]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM networks WHERE name = :n"), {"n": NAME}).scalar_one() == 1


def test_another_seed_gives_another_valve_layout(engine: Engine, demo: dict) -> None:
    load_demo(engine, seed=8, network_name=NAME)
    try:
        assert _fingerprint(engine) != demo["fingerprint"]
        assert demo_counts(engine, NAME)["buildings"] == demo["counts"]["buildings"]
    finally:
        load_demo(engine, seed=7, network_name=NAME)


def _ids(engine: Engine) -> dict[str, object]:
    """Database ids by ext id of everything the demo loads, and its service connections."""
    with engine.connect() as conn:
        net = conn.execute(text("SELECT id FROM networks WHERE name = :n"), {"n": NAME}).scalar_one()
        out: dict[str, object] = {"network": net}
        for table in ("nodes", "pipes", "valves"):
            out[table] = dict(conn.execute(text(f"SELECT ext_id, id FROM {table} WHERE network_id = :n"), {"n": net}).all())
        out["buildings"] = dict(conn.execute(text("SELECT ext_id, id FROM buildings WHERE dataset = 'demo'")).all())
        out["connections"] = sorted(conn.execute(text(
            "SELECT building_id, pipe_id FROM service_connections WHERE network_id = :n"), {"n": net}).all())
        out["revision"] = conn.execute(text("SELECT revision FROM networks WHERE id = :n"), {"n": net}).scalar_one()
    return out


def test_reload_keeps_every_id_and_the_links_of_reports(engine: Engine, demo: dict) -> None:
    before = _ids(engine)
    assert len(before["buildings"]) == demo["counts"]["buildings"]  # type: ignore[arg-type]
    assert all(e.isdigit() for e in before["buildings"])  # type: ignore[union-attr]  # OSM ids, unique here
    pipe = before["pipes"]["P1"]  # type: ignore[index]
    building = next(iter(before["buildings"].values()))  # type: ignore[union-attr]
    with engine.begin() as conn:
        incident = conn.execute(text(
            "INSERT INTO incidents (category, service_code, geom, pipe_id, network_id, building_id) "
            "SELECT 'burst', 'water.burst', ST_LineInterpolatePoint(geom, 0.5), id, network_id, :b "
            "FROM pipes WHERE id = :p RETURNING id"), {"p": pipe, "b": building}).scalar_one()
    reports: list = []
    try:
        load_demo(engine, seed=7, network_name=NAME, audit=lambda conn, report: reports.append(report))
        assert _ids(engine) == before  # same ids, same connections, and the revision did not move
        assert len(reports) == 1 and reports[0].diff.empty and reports[0].checksum
        with engine.connect() as conn:
            row = conn.execute(text("SELECT pipe_id, building_id, version FROM incidents WHERE id = :i"),
                               {"i": incident}).one()
        assert tuple(row) == (pipe, building, 1)
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM incidents WHERE id = :i"), {"i": incident})


def test_reload_is_refused_while_an_outage_is_planned(engine: Engine, demo: dict) -> None:
    with engine.begin() as conn:
        oid = conn.execute(text(
            "INSERT INTO outages (network_id, state, planned_end, created_by, approved_by) "
            "SELECT id, 'planned', now() + interval '1 day', 'test', 'test' FROM networks WHERE name = :n "
            "RETURNING id"), {"n": NAME}).scalar_one()
    try:
        before = _ids(engine)
        with pytest.raises(NetworkBusy, match=rf'^network "{NAME}" has outage planned or active \({oid}\)'):
            load_demo(engine, seed=8, network_name=NAME)
        assert _ids(engine) == before
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM outages WHERE id = :o"), {"o": oid})


def test_building_ext_ids_are_stable_and_unique() -> None:
    ids = building_ext_ids(pd.Series([5, 7, 7, 9, 9]), pd.Series(["way", "way", "relation", "way", "way"]))
    assert ids == ["5", "way/7", "relation/7", "way/9", "way/9.1"]


def test_load_demo_is_refused_in_production(db_url: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "data", "load-demo", "--database-url", db_url], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, env={**os.environ, "ZHKH_ENV": "production"})
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.splitlines() == [
        "error: load-demo: refused in production (ZHKH_ENV=production); the demo city would merge into network "
        '"Helsinki demo cold water"']
