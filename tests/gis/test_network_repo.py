"""gis.network_repo against real PostGIS: the demo network loads, plans name real addresses, valve status is recorded."""
from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from gis import network_repo as repo
from network.isolation import isolate, isolation_index
from network.segments import compute_segments
from ops.network import plan_on

NAME = "repo-test network"


@pytest.fixture(scope="module")
def demo(engine: Engine) -> int:
    from data.demo import load_demo

    load_demo(engine, seed=3, network_name=NAME)
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT id FROM networks WHERE name = :n"), {"n": NAME}).scalar_one())


def test_load_network_matches_the_tables(engine: Engine, demo: int) -> None:
    model = repo.load_network(engine, demo)
    with engine.connect() as conn:
        pipes = conn.execute(text("SELECT count(*) FROM pipes WHERE network_id = :n"), {"n": demo}).scalar_one()
        valves = conn.execute(text("SELECT count(*) FROM valves WHERE network_id = :n"), {"n": demo}).scalar_one()
    assert len(model.link_ids) == pipes and len(model.valve_ids) == valves
    segs = compute_segments(model)
    assert 1 < segs.n_segments <= pipes


def test_a_break_plan_lists_real_addresses_and_valve_points(engine: Engine, demo: int) -> None:
    index = isolation_index(repo.load_network(engine, demo))
    with engine.connect() as conn:
        pipe = conn.execute(text(
            """SELECT p.id FROM pipes p JOIN service_connections sc ON sc.pipe_id = p.id
               WHERE p.network_id = :n GROUP BY p.id ORDER BY count(*) DESC, p.id LIMIT 1"""
        ), {"n": demo}).scalar_one()
        plan = plan_on(conn, index, demo, [pipe])
    assert plan.valves_to_close, "a main with customers must have valves to close"
    assert all(60.1 < v["lat"] < 60.2 and 24.9 < v["lon"] < 25.0 for v in plan.valves_to_close)
    assert plan.affected and all(b["address"] for b in plan.affected)
    residents = [b["residents"] for b in plan.affected if b["kind"] not in ("hospital", "school", "kindergarten")]
    assert residents == sorted(residents, reverse=True)


def test_recording_a_stuck_valve_bumps_the_revision_and_changes_the_plan(engine: Engine, demo: int) -> None:
    model = repo.load_network(engine, demo)
    index = isolation_index(model)
    # find a pipe whose plan has a valve that, when stuck, grows the shutoff
    for pipe in model.link_ids[:60]:
        base = isolate(index, str(pipe))
        if base.valves_to_close:
            valve = base.valves_to_close[0]
            grown = isolate(index, str(pipe), extra_inoperable=[valve])
            if len(grown.isolated_links) > len(base.isolated_links):
                break
    else:
        pytest.fail("no valve whose failure grows a shutoff")
    before = repo.network_revision(engine, demo)
    with engine.begin() as conn:
        repo.set_valve_status(conn, int(valve), "inoperable")
    assert repo.network_revision(engine, demo) == before + 1
    replanned = isolate(isolation_index(repo.load_network(engine, demo)), str(pipe))
    assert replanned.isolated_links == grown.isolated_links
    with engine.begin() as conn:
        repo.set_valve_status(conn, int(valve), "open")


def test_a_bad_valve_status_is_refused_by_the_database(engine: Engine, demo: int) -> None:
    from sqlalchemy.exc import IntegrityError

    with engine.connect() as conn:
        valve = conn.execute(text("SELECT id FROM valves WHERE network_id = :n LIMIT 1"), {"n": demo}).scalar_one()
    with pytest.raises(IntegrityError, match="valves_status_check"):
        with engine.begin() as conn:
            repo.set_valve_status(conn, valve, "half")


def test_nearest_pipe_and_customers_per_link(engine: Engine, demo: int) -> None:
    with engine.connect() as conn:
        lon, lat = conn.execute(text(
            "SELECT ST_X(ST_LineInterpolatePoint(geom, .5)), ST_Y(ST_LineInterpolatePoint(geom, .5)) FROM pipes "
            "WHERE network_id = :n AND ext_id = 'P1'"), {"n": demo}).one()
        hit = repo.nearest_pipe(conn, demo, lon, lat)
        far = repo.nearest_pipe(conn, demo, 0.0, 0.0)
        model = repo.load_network(conn, demo)
        w = repo.customers_per_link(conn, model, demo)
        # every building connected to this network counted once (other modules may have loaded other buildings)
        total = conn.execute(text(
            "SELECT sum(b.residents) FROM buildings b WHERE EXISTS (SELECT 1 FROM service_connections sc "
            "WHERE sc.building_id = b.id AND sc.network_id = :n)"), {"n": demo}).scalar_one()
    assert hit is not None and hit["ext_id"] == "P1" and hit["distance_m"] < 1
    assert far is None
    assert int(w["residents"].sum()) == int(total)
