"""Fixtures of the meters tests: a private Mosquitto per test session (persistence on, own port), a few
meters in the emptied session database, a listener and a publisher on that broker."""
from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine, text

from meters.broker import Mosquitto
from meters.listen import Listener, ListenerConfig
from meters.publisher import Publisher

SERIALS = ("M-1", "M-2", "M-3")


@pytest.fixture(scope="session")
def broker() -> Iterator[Mosquitto]:
    with Mosquitto() as b:
        yield b


@pytest.fixture()
def meters_db(clean_engine: Engine) -> Engine:
    """The emptied session database with three source meters (serials ``SERIALS``)."""
    with clean_engine.begin() as conn:
        for s in SERIALS:
            conn.execute(text("INSERT INTO meters (serial, resource, kind, install_date) "
                              "VALUES (:s, 'cold_water', 'source', '2020-01-01')"), {"s": s})
    return clean_engine


def client_id() -> str:
    return f"test-listener-{uuid.uuid4().hex[:8]}"


@pytest.fixture()
def make_listener(db_url: str, broker: Mosquitto) -> Iterator[Callable[..., Listener]]:
    started: list[Listener] = []

    def make(**kw: object) -> Listener:
        cfg = ListenerConfig(db_url=str(kw.pop("db_url", db_url)), mqtt_url=str(kw.pop("mqtt_url", broker.url)),
                             client_id=str(kw.pop("client_id", client_id())), **kw)  # type: ignore[arg-type]
        listener = Listener(cfg, log=lambda line: None).start(wait_s=10)
        started.append(listener)
        return listener

    yield make
    for listener in started:
        listener.abort()


@pytest.fixture()
def publisher(broker: Mosquitto) -> Iterator[Publisher]:
    p = Publisher(broker.url).connect()
    yield p
    p.close()


def wait_for(cond: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def count(engine: Engine, sql: str, **params: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql), params).scalar_one())
