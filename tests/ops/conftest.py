"""The demo city in a database of its own for the application-layer tests, and actors of every role.

Tests may open outages and mark valves; after each test every open outage is closed and every valve
gets back its status, so the tests stay independent."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from auth.model import Actor
from auth.permissions import ORG_ROLES, ROLES


@dataclass(frozen=True)
class Demo:
    engine: Engine
    network_id: int


@pytest.fixture(scope="session")
def ops_demo(db_url: str) -> Iterator[Demo]:
    from data.demo import load_demo
    from gis.db import make_engine
    from settings import get_settings
    from tests.conftest import drop_database

    url = make_url(db_url).set(database=f"{make_url(db_url).database}_ops").render_as_string(hide_password=False)
    eng = make_engine(url)
    load_demo(eng, seed=42, network_name=get_settings().demo_network_name)
    with eng.connect() as conn:
        net = int(conn.execute(text("SELECT id FROM networks ORDER BY id LIMIT 1")).scalar_one())
    yield Demo(eng, net)
    eng.dispose()
    drop_database(url)


@pytest.fixture()
def demo(ops_demo: Demo) -> Iterator[Demo]:
    """The demo city; whatever a test opened or marked is put back afterwards."""
    eng = ops_demo.engine
    with eng.connect() as conn:
        statuses = {int(r[0]): r[1] for r in conn.execute(text("SELECT id, status FROM valves"))}
    yield ops_demo
    with eng.begin() as conn:
        conn.execute(text("UPDATE outages SET state = 'cancelled' WHERE state IN ('planned', 'active')"))
        changed = [(v, s) for v, s in ((int(r[0]), r[1]) for r in conn.execute(text("SELECT id, status FROM valves")))
                   if statuses.get(v) != s]
        for v, s in changed:
            conn.execute(text("UPDATE valves SET status = :s WHERE id = :v"), {"s": statuses[v], "v": v})


@pytest.fixture(scope="session")
def actors() -> dict[str, Actor]:
    """One actor per role of the service (``ivanova`` the dispatcher, …); an organisation's staff are bound to
    an organisation, and made where a test has one (tests/ops/test_org_desks.py)."""
    names = {"operator": "orlova", "dispatcher": "ivanova", "planner": "petrov", "inspector": "smirnova",
             "admin": "admin1"}
    return {r: Actor(author=names[r], role=r, display_name=names[r]) for r in ROLES if r not in ORG_ROLES}
