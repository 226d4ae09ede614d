"""The control room's reads shared by the sessions of a replica (ops/shared.py): one computation per
refresh period for everybody, and never a way around a caller's own rights check."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from auth.errors import PermissionDenied
from auth.model import Actor
from ops import incidents, locate, maps, shared
from tests.ops.conftest import Demo

DISPATCHER = Actor(author="dispatcher", role="dispatcher")
NOBODY = Actor(author="someone", role="resident")     # a role that holds no right at all


@pytest.fixture(autouse=True)
def _cold() -> None:
    shared.forget()


def file_report(demo: Demo) -> int:
    from incidents import service as S

    with demo.engine.connect() as conn:
        lon, lat = conn.execute(text("SELECT ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)) FROM buildings "
                                     "ORDER BY id LIMIT 1")).one()
    return S.create_incident(demo.engine, service_code="no_water", lon=lon, lat=lat, description="shared",
                             channel="sensor").incident.id


def test_one_computation_per_period_for_all_sessions(ops_demo: Demo) -> None:
    first = incidents.control_room(DISPATCHER, bind=ops_demo.engine, max_age=600)
    new = file_report(ops_demo)
    try:
        again = incidents.control_room(Actor(author="inspector", role="inspector"), bind=ops_demo.engine, max_age=600)
        assert again is first                                  # the same computation, not a new one
        assert new not in {q.incident.id for q in again.queue}
        fresh = incidents.control_room(DISPATCHER, bind=ops_demo.engine)   # no max_age: computed now
        assert new in {q.incident.id for q in fresh.queue}
        assert fresh.now > first.now
    finally:
        with ops_demo.engine.begin() as conn:
            conn.execute(text("DELETE FROM incident_events WHERE incident_id = :i"), {"i": new})
            conn.execute(text("DELETE FROM incidents WHERE id = :i"), {"i": new})


def test_a_warm_cache_never_answers_a_caller_without_the_right(ops_demo: Demo) -> None:
    eng = ops_demo.engine
    incidents.control_room(DISPATCHER, bind=eng, max_age=600)
    locate.bursts(DISPATCHER, ops_demo.network_id, bind=eng, max_age=600)
    with eng.connect() as conn:
        ids = [int(r[0]) for r in conn.execute(text("SELECT id FROM buildings ORDER BY id LIMIT 3"))]
    assert len(maps.buildings_by_id(DISPATCHER, ids, bind=eng, max_age=600)) == 3
    with pytest.raises(PermissionDenied):
        incidents.control_room(NOBODY, bind=eng, max_age=600)
    with pytest.raises(PermissionDenied):
        locate.bursts(NOBODY, ops_demo.network_id, bind=eng, max_age=600)
    with pytest.raises(PermissionDenied):
        maps.buildings_by_id(NOBODY, ids, bind=eng, max_age=600)


def test_sessions_arriving_together_wait_for_one_computation() -> None:
    calls = []
    gate = threading.Event()

    def compute() -> object:
        calls.append(1)
        gate.wait(10)
        return object()

    got: list[object] = []
    threads = [threading.Thread(target=lambda: got.append(shared.shared("k", 60, compute))) for _ in range(8)]
    for th in threads:
        th.start()
    while not calls:       # the first caller is computing; the others arrive meanwhile
        threading.Event().wait(0.01)
    gate.set()
    for th in threads:
        th.join()
    assert len(calls) == 1 and len(got) == 8 and all(g is got[0] for g in got)


def test_a_failed_computation_is_not_kept() -> None:
    def boom() -> object:
        raise RuntimeError("database down")

    with pytest.raises(RuntimeError):
        shared.shared("k2", 60, boom)
    assert shared.shared("k2", 60, lambda: 42) == 42
