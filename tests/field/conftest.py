"""Two utilities in the tiny district of the incidents tests, each with a desk and a crew: the cold-water
network is organisation A's, the hot-water one B's; a report assigned to each crew; an approved outage on
each network with a valve to close. The phone page is served in-process (``TestClient``) or, for the
browser, as ``python -m field serve`` runs it."""
from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, text

from auth.model import Actor
from ops import incidents, orgs, users
from tests.incidents.conftest import City, city  # noqa: F401  (the fixture)

ADMIN = Actor(author="boss", role="admin")
PASSWORD = "crew-field-secret-42"


@dataclass(frozen=True)
class Field:
    engine: Engine
    city: City
    org_a: int
    org_b: int
    order_a: int
    order_b: int
    outage_a: int
    outage_b: int
    valve_a: int
    valve_b: int
    crew_a: Actor
    crew_b: Actor


def _outage(conn, network: int, pipe: int, valve: int, building: int, now: datetime, reason: str) -> int:
    oid = conn.execute(text("""
        INSERT INTO outages (network_id, state, kind, reason, pipe_ids, valve_ids, planned_start, planned_end,
                             created_by, approved_by)
        VALUES (:n, 'planned', 'emergency', :r, ARRAY[:p]::bigint[], ARRAY[:v]::bigint[], :ps, :pe, 'ivanova', 'ivanova')
        RETURNING id"""), {"n": network, "r": reason, "p": pipe, "v": valve, "ps": now, "pe": now + timedelta(hours=6)}
    ).scalar_one()
    conn.execute(text("INSERT INTO outage_buildings (outage_id, building_id) VALUES (:o, :b)"), {"o": oid, "b": building})
    return int(oid)


@pytest.fixture()
def field(clean_engine: Engine, city: City) -> Iterator[Field]:  # noqa: F811
    eng = clean_engine
    now = datetime.now(timezone.utc)
    with eng.begin() as conn:
        org_a, org_b = (conn.execute(text("INSERT INTO organisations (kind, name) VALUES ('utility', :n) RETURNING id"),
                                     {"n": n}).scalar_one() for n in ("Водоканал Альфа", "Теплосеть Бета"))
        conn.execute(text("UPDATE networks SET utility_id = :o WHERE id = :n"), {"o": org_a, "n": city.network_id})
        conn.execute(text("UPDATE networks SET utility_id = :o WHERE id = :n"), {"o": org_b, "n": city.hot_network_id})
        valve_b = conn.execute(text(
            "INSERT INTO valves (network_id, ext_id, pipe_id, node_id, geom) SELECT :n, 'HV1', :p, from_node, "
            "ST_SetSRID(ST_MakePoint(24.9415, 60.1701), 4326) FROM pipes WHERE id = :p RETURNING id"),
            {"n": city.hot_network_id, "p": city.hot_pipe_id}).scalar_one()
        outage_a = _outage(conn, city.network_id, city.pipe_ids[0], city.valve_id, city.building_ids[0], now,
                           "Прорыв на Маннергейма")
        outage_b = _outage(conn, city.hot_network_id, city.hot_pipe_id, valve_b, city.building_ids[1], now,
                           "Ремонт теплотрассы")
    made = {}
    for login, role, org in (("desk-a", "org_dispatcher", org_a), ("desk-b", "org_dispatcher", org_b),
                             ("crew-a", "crew", org_a), ("crew-b", "crew", org_b)):
        made[login] = Actor.of(users.add_user(ADMIN, login, role=role, password=PASSWORD, org_id=org,
                                              display_name=f"Бригада {login[-1].upper()}", bind=eng))
    ids = []
    for n, (org, desk, crew) in enumerate(((org_a, "desk-a", "crew-a"), (org_b, "desk-b", "crew-b"))):
        inc = incidents.take_report(ADMIN, bind=eng, service_code="elevator", building_id=city.building_ids[n],
                                    description="Лифт стоит между этажами", reporter_name="Пётр Сидоров",
                                    reporter_phone="+7 900 123-45-67", reporter_email="petr@example.ru").incident
        with eng.begin() as conn:
            conn.execute(text("UPDATE incidents SET responsible_org_id = :o WHERE id = :i"), {"o": org, "i": inc.id})
        orgs.act(made[desk], inc.id, "assigned", event_id=f"assign-{n}", crew=crew, bind=eng)
        ids.append(inc.id)
    yield Field(eng, city, org_a, org_b, ids[0], ids[1], outage_a, outage_b, city.valve_id, int(valve_b),
                made["crew-a"], made["crew-b"])


def jpeg(size: tuple[int, int] = (640, 480)) -> bytes:
    """A photo as a phone's camera makes it: a JPEG with EXIF (a position among it)."""
    from PIL import Image

    img = Image.new("RGB", size, (180, 120, 60))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"       # Make
    exif[0x0132] = "2026:12:07 09:15:00"
    out = io.BytesIO()
    img.save(out, format="JPEG", exif=exif.tobytes())
    return out.getvalue()


def counts(eng: Engine) -> tuple[int, ...]:
    with eng.connect() as conn:
        return tuple(conn.execute(text(
            "SELECT (SELECT count(*) FROM work_order_events), (SELECT count(*) FROM work_order_photos), "
            "(SELECT count(*) FROM valve_field_reports), (SELECT count(*) FROM audit_events), "
            "(SELECT max(version) FROM incidents)")).one())


def env_for(db_url: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": db_url}
