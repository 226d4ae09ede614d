"""Use-cases of the network: the isolation graph (built once per network revision, shared by every
page, session and request of the process), shutoff plans, criticality, and valves found stuck or
repaired."""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Connection, Engine

from auth.model import Actor
from gis import network_repo as repo
from network.criticality import criticality as compute
from network.isolation import IsolationIndex, isolation_index
from network.plan import ShutoffPlan, plan_shutoff
from ops import audit
from ops.base import allow, engine, utcnow
from ops.errors import NotFound

VALVE_MARKS = {"stuck": "inoperable", "repaired": "open"}

_lock = threading.Lock()
_indexes: OrderedDict[tuple[str, int, str], IsolationIndex] = OrderedDict()
_criticality: OrderedDict[tuple[str, int, str], tuple[Any, float]] = OrderedDict()
_MAX_CACHED = 8


def _cached(store: OrderedDict, key: tuple[str, int, str], build: Callable[[], Any]) -> Any:
    with _lock:
        if key in store:
            store.move_to_end(key)
            return store[key]
    value = build()  # outside the lock: a 1 M-pipe network takes seconds; a duplicate build is harmless
    with _lock:
        store[key] = value
        while len(store) > _MAX_CACHED:
            store.popitem(last=False)
    return value


def _key(eng: Engine, network_id: int, conn: Connection | None = None) -> tuple[str, int, str]:
    version = repo.network_version(conn or eng, network_id)
    if version is None:
        raise NotFound(f"no network with id {network_id}")
    return eng.url.render_as_string(hide_password=True), int(network_id), version


def index(network_id: int, *, bind: Engine | None = None) -> IsolationIndex:
    """The isolation index of the network as the database has it now (valve statuses included)."""
    eng = engine(bind)
    key = _key(eng, network_id)

    def build() -> IsolationIndex:
        with eng.connect() as conn:
            return isolation_index(repo.load_network(conn, network_id))

    return _cached(_indexes, key, build)


def plan_on(conn: Connection, idx: IsolationIndex, network_id: int, break_pipes: Iterable[str | int], *,
            extra_inoperable: Iterable[str | int] = ()) -> ShutoffPlan:
    """A shutoff plan for ``break_pipes`` with its details read through ``conn`` (inside the caller's
    transaction when there is one)."""
    return plan_shutoff(
        idx, [str(p) for p in break_pipes],
        valve_lookup=lambda ids: repo.valve_details(conn, ids),
        pipe_lookup=lambda ids: repo.pipe_midpoints(conn, ids),
        affected_lookup=lambda ids: repo.affected_buildings(conn, network_id, ids),
        extra_inoperable=[str(v) for v in extra_inoperable],
    )


def plan(actor: Actor, network_id: int, break_pipes: Iterable[str | int], *, extra_inoperable: Iterable[str | int] = (),
         bind: Engine | None = None) -> ShutoffPlan:
    """What-if: the valves to close, what goes dry and who is cut off when ``break_pipes`` break and
    ``extra_inoperable`` valves cannot be closed. Nothing is stored."""
    allow(actor, "network.read")
    idx = index(network_id, bind=bind)
    with engine(bind).connect() as conn:
        return plan_on(conn, idx, network_id, break_pipes, extra_inoperable=extra_inoperable)


def criticality(actor: Actor, network_id: int, *, bind: Engine | None = None) -> tuple[Any, float]:
    """Whole-network criticality (valves whose failure grows a shutoff most; worst segments) and the
    seconds it took (cached per network revision)."""
    allow(actor, "network.read")

    eng = engine(bind)
    key = _key(eng, network_id)

    def build() -> tuple[Any, float]:
        idx = index(network_id, bind=bind)
        started = time.perf_counter()
        with eng.connect() as conn:
            weights = repo.customers_per_link(conn, idx.model, network_id)
        result = compute(idx, weights=weights, rank_by="residents")
        return result, time.perf_counter() - started

    return _cached(_criticality, key, build)


def networks(actor: Actor, *, bind: Engine | None = None) -> list[dict[str, Any]]:
    """Every network: id, name, resource, revision."""
    allow(actor, "map.read")
    with engine(bind).connect() as conn:
        return repo.list_networks(conn)


def pipe_choices(actor: Actor, network_id: int, *, bind: Engine | None = None) -> list[dict[str, Any]]:
    allow(actor, "network.read")
    with engine(bind).connect() as conn:
        return repo.pipe_choices(conn, network_id)


def nearest_pipe(actor: Actor, network_id: int, lon: float, lat: float, *, bind: Engine | None = None) -> dict[str, Any] | None:
    allow(actor, "network.read")
    with engine(bind).connect() as conn:
        return repo.nearest_pipe(conn, network_id, lon, lat)


def pipe_details(actor: Actor, pipe_ids: Iterable[str | int], *, bind: Engine | None = None) -> dict[str, dict[str, Any]]:
    """Pipe id -> ext_id, street, diameter and midpoint."""
    allow(actor, "network.read")
    with engine(bind).connect() as conn:
        return repo.pipe_midpoints(conn, pipe_ids)


def pipe_geometries(actor: Actor, pipe_ids: Iterable[str | int], *, bind: Engine | None = None) -> dict[str, dict[str, Any]]:
    """Pipe id -> GeoJSON geometry."""
    allow(actor, "network.read")
    with engine(bind).connect() as conn:
        return repo.pipe_geojson(conn, pipe_ids)


def valve_details(actor: Actor, valve_ids: Iterable[str | int], *, bind: Engine | None = None) -> dict[str, dict[str, Any]]:
    allow(actor, "network.read")
    with engine(bind).connect() as conn:
        return repo.valve_details(conn, valve_ids)


def inoperable_valves(actor: Actor, network_id: int, *, bind: Engine | None = None) -> list[dict[str, Any]]:
    """Valves recorded as inoperable, with the last time and author of that record."""
    allow(actor, "network.read")
    with engine(bind).connect() as conn:
        return repo.inoperable_valves(conn, network_id)


def mark_valve_on(conn: Connection, actor: Actor, valve_id: int | str, mark: str, *, reason: str,
                  now: Any, outage_id: int | None = None) -> dict[str, Any]:
    """Record inside ``conn``'s transaction that a valve is stuck (inoperable) or repaired (open)."""
    if mark not in VALVE_MARKS:
        raise ValueError(f"a valve is marked {' or '.join(VALVE_MARKS)}, got {mark!r}")
    try:
        vid = int(valve_id)
    except (TypeError, ValueError):
        raise NotFound(f"no valve with id {valve_id!r}") from None
    valve = repo.valve_for_update(conn, vid)
    if valve is None:
        raise NotFound(f"no valve with id {valve_id}")
    status = VALVE_MARKS[mark]
    if valve["status"] == status:
        return valve
    if mark == "repaired" and valve["status"] != "inoperable":
        raise NotFound(f"valve {valve['ext_id']} is {valve['status']}, not recorded as stuck")
    repo.set_valve_status(conn, vid, status)
    audit.record(conn, actor=actor.author, action="valve.status", object_type="valve", object_id=vid, at=now,
                 reason=reason, details={"ext_id": valve["ext_id"], "network_id": valve["network_id"],
                                         "from": valve["status"], "to": status, "outage_id": outage_id})
    return {**valve, "status": status}


def mark_valve(actor: Actor, valve_id: int | str, mark: str, *, reason: str = "",
               bind: Engine | None = None) -> dict[str, Any]:
    """A valve found stuck (it cannot be closed: every later plan goes around it) or repaired."""
    allow(actor, "valves.mark")
    with engine(bind).begin() as conn:
        return mark_valve_on(conn, actor, valve_id, mark, reason=reason, now=utcnow())
