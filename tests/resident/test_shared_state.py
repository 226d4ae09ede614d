"""Issue 17 §2: what replicas must share, checked with two app instances on one database (as HAProxy
spreads one client over two replicas): the rate limits of the residents' page are one limit, not one
per process; a cache keyed by the network's revision sees another process's change at its next read."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from apps.http.resident import create_app
from network.model import INOPERABLE, OPEN
from resident.ratelimit import Buckets
from settings import Settings
from tests.incidents.conftest import City
from tests.resident.conftest import Scene

ROOT = Path(__file__).resolve().parents[2]


def replica(engine: Engine, **settings: object) -> TestClient:
    return TestClient(create_app(engine, Settings(**settings)))  # type: ignore[arg-type]


def test_two_replicas_share_one_request_limit(clean_engine: Engine) -> None:
    one, two = replica(clean_engine, resident_rate_per_min=4), replica(clean_engine, resident_rate_per_min=4)
    codes = [c.get("/").status_code for c in (one, two, one, two, one, two)]
    assert codes == [200, 200, 200, 200, 429, 429]      # before: each process gave the client 4 of its own
    refused = two.get("/api/addresses?q=ma")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1


def test_two_replicas_share_one_code_tries_limit(scene: Scene, clean_engine: Engine) -> None:
    one, two = replica(clean_engine, resident_code_tries_per_hour=2), replica(clean_engine, resident_code_tries_per_hour=2)

    def wrong(c: TestClient) -> int:
        token = c.get("/").cookies.get("zr_csrf") or c.cookies.get("zr_csrf")
        return c.post("/account", data={"csrf": token, "number": scene.account, "code": "x"}).status_code

    assert [wrong(one), wrong(two), wrong(one)] == [403, 403, 429]


def test_a_hit_is_atomic_under_concurrency(clean_engine: Engine) -> None:
    """Twenty hits at once from two 'replicas' on a bucket of ten: exactly ten pass."""
    a, b = (Buckets(lambda: clean_engine, "general", 10, 60.0) for _ in range(2))
    results: list[float] = []
    gate = threading.Barrier(20)

    def hit(bk: Buckets) -> None:
        gate.wait()
        results.append(bk.take("198.51.100.1"))

    threads = [threading.Thread(target=hit, args=(a if i % 2 else b,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(1 for w in results if w == 0) == 10
    assert all(0 < w <= 60.0 for w in results if w != 0)


def test_full_buckets_are_swept(clean_engine: Engine) -> None:
    bk = Buckets(lambda: clean_engine, "general", 10, 60.0)
    bk.take("198.51.100.1")
    bk.take("198.51.100.2")
    with clean_engine.begin() as conn:   # one of them full again (its time has passed)
        conn.execute(text("UPDATE rate_limit_buckets SET tat = now() - interval '1 s' WHERE key = '198.51.100.1'"))
    bk._swept -= 3600     # the sweep is due
    bk.take("198.51.100.3")
    with clean_engine.connect() as conn:
        keys = sorted(conn.execute(text("SELECT key FROM rate_limit_buckets")).scalars())
    assert keys == ["198.51.100.2", "198.51.100.3"]


def test_another_replicas_valve_change_reaches_this_replicas_next_plan(city: City, clean_engine: Engine,
                                                                         db_url: str) -> None:
    """The isolation index is cached per process by (database, network, revision): a valve marked stuck by
    another process (an outage's field report on the other replica) bumps the revision, and this
    process's next read builds the index anew — nothing to drop, nothing to broadcast."""
    from ops import network as net_ops

    before = net_ops.index(city.network_id, bind=clean_engine)
    assert net_ops.index(city.network_id, bind=clean_engine) is before          # cached while nothing changes
    other = subprocess.run(
        [sys.executable, "-c",
         "import sys\nfrom auth.model import Actor\nfrom gis.db import make_engine\nfrom ops import network\n"
         "network.mark_valve(Actor(author='ivanova', role='dispatcher'), int(sys.argv[1]), 'stuck',"
         " reason='field check', bind=make_engine(sys.argv[2], prepare=False))",
         str(city.valve_id), db_url],
        cwd=ROOT, capture_output=True, text=True, timeout=60, env={**os.environ})
    assert other.returncode == 0, other.stderr
    after = net_ops.index(city.network_id, bind=clean_engine)
    assert after is not before
    with clean_engine.connect() as conn:
        assert conn.execute(text("SELECT status FROM valves WHERE id = :v"), {"v": city.valve_id}).scalar() == "inoperable"
    i = [str(v) for v in after.model.valve_ids].index(str(city.valve_id))
    assert (int(before.model.valve_status[i]), int(after.model.valve_status[i])) == (OPEN, INOPERABLE)


def test_a_database_loaded_anew_is_not_served_from_the_old_graph(city: City, clean_engine: Engine) -> None:
    """A process that outlives a reload of its database (the demo loaded again, a restore; here the test's own
    clean tables) finds network 1 at revision 0 again with other pipes and valves: the cache key (database,
    network, revision) repeated and the old graph came back — the CI failure of stop 24, where an earlier test's
    network 1 answered for this one. The key holds when the network row was made as well."""
    from ops import network as net_ops
    from tests.conftest import truncate_all

    before = net_ops.index(city.network_id, bind=clean_engine)
    assert [str(v) for v in before.model.valve_ids] == [str(city.valve_id)]
    truncate_all(clean_engine)
    with clean_engine.begin() as conn:        # network 1 again, at revision 0, now with no valve at all
        net = conn.execute(text("INSERT INTO networks (name, resource) VALUES ('cw', 'cold_water') RETURNING id")).scalar_one()
        a, b = (conn.execute(text("INSERT INTO nodes (network_id, ext_id, geom) VALUES (:n, :e, "
                                  "ST_SetSRID(ST_MakePoint(:x, 60.17), 4326)) RETURNING id"),
                             {"n": net, "e": e, "x": x}).scalar_one() for e, x in (("A", 24.94), ("B", 24.95)))
        conn.execute(text("INSERT INTO pipes (network_id, ext_id, from_node, to_node, geom) VALUES (:n, 'Q1', :a, :b, "
                          "ST_SetSRID(ST_MakeLine(ST_MakePoint(24.94, 60.17), ST_MakePoint(24.95, 60.17)), 4326))"),
                     {"n": net, "a": a, "b": b})
    assert net == city.network_id
    after = net_ops.index(net, bind=clean_engine)
    assert after is not before
    assert len(after.model.valve_ids) == 0 and list(after.model.link_ids) != list(before.model.link_ids)
