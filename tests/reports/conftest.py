"""Hand-built histories for the inspectorate's KPIs: organisations, a few buildings (one with flats in
``premises``, one counted from residents), a cold-water network, and reports whose every status
change is written with a chosen time (the KPIs read nothing but this history)."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Connection, Engine, text

from incidents.service import forget_service_area

MSK = ZoneInfo("Europe/Moscow")
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=MSK)        # inside the test period March 2026 (not seasonal)
FIRST, LAST = "2026-03-01", "2026-03-31"


@dataclass(frozen=True)
class Town:
    mc: int            # management company of buildings 1 and 2
    mc2: int           # another company (building 3)
    utility: int
    contractor: int
    network: int
    buildings: list[int]


def _square(lon: float, lat: float, half: float = 0.0001) -> str:
    return (f"POLYGON(({lon-half} {lat-half/2}, {lon+half} {lat-half/2}, {lon+half} {lat+half/2}, "
            f"{lon-half} {lat+half/2}, {lon-half} {lat-half/2}))")


@pytest.fixture()
def town(clean_engine: Engine) -> Iterator[Town]:
    with clean_engine.begin() as conn:
        def org(kind: str, name: str, inn: str) -> int:
            return conn.execute(text("INSERT INTO organisations (kind, name, inn) VALUES (:k, :n, :i) RETURNING id"),
                                {"k": kind, "n": name, "i": inn}).scalar_one()

        mc, mc2 = org("management_company", "ООО «УК Тест»", "7700000001"), org("management_company", "ООО «УК Два»", "7700000002")
        utility, contractor = org("utility", "МУП «Водоканал»", "7700000003"), org("contractor", "ООО «Ремонт»", "7700000004")
        net = conn.execute(text("INSERT INTO networks (name, resource, utility_id) VALUES ('cw', 'cold_water', :u) "
                                "RETURNING id"), {"u": utility}).scalar_one()
        nodes = [conn.execute(text("INSERT INTO nodes (network_id, ext_id, kind, geom) VALUES (:n, :e, :k, "
                                   "ST_SetSRID(ST_MakePoint(:x, 60.170), 4326)) RETURNING id"),
                              {"n": net, "e": f"N{i}", "k": k, "x": x}).scalar_one()
                 for i, (x, k) in enumerate(((24.940, "source"), (24.944, "junction")))]
        pipe = conn.execute(text("INSERT INTO pipes (network_id, ext_id, from_node, to_node, diameter_mm, geom) VALUES "
                                 "(:n, 'P1', :a, :b, 150, ST_SetSRID(ST_MakeLine(ST_MakePoint(24.940, 60.170), "
                                 "ST_MakePoint(24.944, 60.170)), 4326)) RETURNING id"),
                            {"n": net, "a": nodes[0], "b": nodes[1]}).scalar_one()
        bids = []
        for addr, lon, residents, company in (("Тестовая 1", 24.9405, 40, mc), ("Тестовая 3", 24.9425, 21, mc),
                                              ("Тестовая 5", 24.9435, 50, mc2)):
            bids.append(conn.execute(text(
                "INSERT INTO buildings (address, kind, residents, management_company_id, geom) VALUES "
                "(:a, 'residential', :r, :m, ST_GeomFromText(:g, 4326)) RETURNING id"),
                {"a": addr, "r": residents, "m": company, "g": _square(lon, 60.1702)}).scalar_one())
            conn.execute(text("INSERT INTO service_connections (building_id, pipe_id, network_id, geom) VALUES "
                              "(:b, :p, :n, ST_SetSRID(ST_MakeLine(ST_MakePoint(:x, 60.170), ST_MakePoint(:x, 60.1702)), 4326))"),
                         {"b": bids[-1], "p": pipe, "n": net, "x": lon})
        # building 1 has 10 flats (and a shop) in premises; building 2 has none: 21 residents / 2.1 = 10 flats
        for k in range(10):
            conn.execute(text("INSERT INTO premises (building_id, number, area_m2) VALUES (:b, :n, 50)"),
                         {"b": bids[0], "n": str(k + 1)})
        conn.execute(text("INSERT INTO premises (building_id, number, kind, area_m2) VALUES (:b, 'Shop', "
                          "'non_residential', 80)"), {"b": bids[0]})
    forget_service_area()
    yield Town(mc, mc2, utility, contractor, net, bids)
    forget_service_area()


def add_report(conn: Connection, *, org: int | None, created: datetime, steps: list[tuple[float, str]] = (),
               category: str = "repair", service_code: str | None = None, priority: str = "routine",
               building: int | None = None, status_extra: str | None = None, duplicate_of: int | None = None) -> int:
    """A report created at ``created`` and moved through ``steps`` = [(hours after creation, to status)],
    each written as an event with its time; the row's status is the last one."""
    status = steps[-1][1] if steps else "new"
    iid = conn.execute(text("""
        INSERT INTO incidents (category, resource, priority, status, service_code, geom, building_id,
                               responsible_org_id, created_at, updated_at, duplicate_of)
        VALUES (:c, 'none', :p, :s, :code, ST_SetSRID(ST_MakePoint(24.9405, 60.1702), 4326), :b, :o, :t, :t, :d)
        RETURNING id"""), {"c": category, "p": priority, "s": status, "code": service_code or category, "b": building,
                           "o": org, "t": created, "d": duplicate_of}).scalar_one()
    conn.execute(text("INSERT INTO incident_events (incident_id, at, actor, from_status, to_status) "
                      "VALUES (:i, :t, 'test', NULL, 'new')"), {"i": iid, "t": created})
    prev = "new"
    for hours, to in steps:
        conn.execute(text("INSERT INTO incident_events (incident_id, at, actor, from_status, to_status) "
                          "VALUES (:i, :t, 'test', :f, :to)"),
                     {"i": iid, "t": created + timedelta(hours=hours), "f": prev, "to": to})
        prev = to
    return iid


def closed_after(hours: float) -> list[tuple[float, str]]:
    """The ordinary path to 'resolved' ``hours`` after creation."""
    return [(min(0.05, hours / 4), "accepted"), (hours / 2, "dispatched"), (hours * 0.75, "in_progress"),
            (hours, "resolved")]
