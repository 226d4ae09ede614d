"""A small hand-built building for the billing tests: three flats, meters, readings, outages."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, text

MSK = ZoneInfo("Europe/Moscow")

# simple figures to compute by hand (₽ per unit; normatives per person or per m²)
TARIFFS_YAML = """
region: test
source: hand-computed test tariffs
services: [cold_water, hot_water, sewer, heating, electricity]
tariffs:
  cold_water: {unit: m3, normative_per_person: 5, prices: {2026-01-01: 50}}
  hot_water: {unit: m3, normative_per_person: 3, prices: {2026-01-01: 200}}
  sewer: {unit: m3, normative_per_person: 8, prices: {2026-01-01: 40}}
  heating: {unit: gcal, normative_per_m2: 0.02, prices: {2026-01-01: 2000}}
  electricity: {unit: kwh, normative_per_person: 100, prices: {2026-01-01: 5}}
"""


def write_tariffs(tmp: Path) -> Path:
    path = tmp / "tariffs.yaml"
    path.write_text(TARIFFS_YAML, encoding="utf-8")
    return path


def msk(*args: int) -> datetime:
    return datetime(*args, tzinfo=MSK)


@dataclass
class Small:
    network_id: int
    building_id: int
    other_building_id: int
    accounts: dict[str, int]   # flat number -> account id
    outages: dict[str, int]    # name -> outage id


def _square(lon: float) -> str:
    d = 0.0001
    return f"POLYGON(({lon - d} 60.17, {lon + d} 60.17, {lon + d} 60.1702, {lon - d} 60.1702, {lon - d} 60.17))"


def add_outage(conn: Connection, network_id: int, buildings: list[int], start: datetime | None, end: datetime | None,
               *, kind: str = "emergency", state: str = "restored", reason: str = "") -> int:
    planned_start = start or msk(2026, 10, 1)
    planned_end = end or msk(2026, 10, 2)
    oid = conn.execute(text("""
        INSERT INTO outages (network_id, state, kind, reason, planned_start, planned_end, actual_start, actual_end,
                             created_by, approved_by)
        VALUES (:n, :state, :kind, :reason, :ps, :pe, :a, :b, 'test', 'test') RETURNING id
    """), {"n": network_id, "state": state, "kind": kind, "reason": reason, "ps": planned_start,
           "pe": max(planned_end, planned_start), "a": start, "b": end}).scalar_one()
    for b in buildings:
        conn.execute(text("INSERT INTO outage_buildings (outage_id, building_id) VALUES (:o, :b)"), {"o": oid, "b": b})
    return int(oid)


def build_small(engine: Engine) -> Small:
    """Building 1: flats 1 (50 m², 2 people, cold+hot meters), 2 (60 m², 3 people, no meters),
    3 (40 m², 1 person, a cold meter read only in October → normative); a building cold-water meter
    (38 m³ in October). Outages of its cold water: A 10 Oct 10:00–20:00, B 10 Oct 15:00–11 Oct 01:00
    (overlapping A by 5 h), C 30 Sep 22:00–1 Oct 02:00 (2 h in October), a cancelled one and one in
    September only; all Moscow time."""
    with engine.begin() as conn:
        net = conn.execute(text("INSERT INTO networks (name, resource) VALUES ('cw', 'cold_water') RETURNING id")).scalar_one()
        b1 = conn.execute(text("INSERT INTO buildings (address, kind, residents, levels, geom, house_guid) VALUES "
                               "('Тестовая 1', 'residential', 6, 3, ST_GeomFromText(:g, 4326), "
                               "'11111111-2222-3333-4444-555555555555') RETURNING id"),
                          {"g": _square(24.94)}).scalar_one()
        b2 = conn.execute(text("INSERT INTO buildings (address, kind, residents, geom) VALUES "
                               "('Тестовая 2', 'residential', 0, ST_GeomFromText(:g, 4326)) RETURNING id"),
                          {"g": _square(24.95)}).scalar_one()
        accounts = {}
        for number, area, people in (("1", 50, 2), ("2", 60, 3), ("3", 40, 1)):
            pid = conn.execute(text("INSERT INTO premises (building_id, number, area_m2) VALUES (:b, :n, :a) "
                                    "RETURNING id"), {"b": b1, "n": number, "a": area}).scalar_one()
            accounts[number] = conn.execute(text(
                "INSERT INTO accounts (number, premises_id, holder_name, residents, area_m2, opened_on) "
                "VALUES (:num, :p, 'Тест', :r, :a, '2020-01-01') RETURNING id"),
                {"num": f"10000000{number}", "p": pid, "r": people, "a": area}).scalar_one()

        def meter(serial: str, resource: str, kind: str, premises_flat: str | None, readings: list[tuple]) -> None:
            pid = None
            if premises_flat:
                pid = conn.execute(text("SELECT premises_id FROM accounts WHERE id = :a"),
                                   {"a": accounts[premises_flat]}).scalar_one()
            mid = conn.execute(text("INSERT INTO meters (serial, resource, kind, building_id, premises_id, install_date) "
                                    "VALUES (:s, :r, :k, :b, :p, '2019-01-01') RETURNING id"),
                               {"s": serial, "r": resource, "k": kind, "b": b1, "p": pid}).scalar_one()
            for ts, total in readings:
                conn.execute(text("INSERT INTO meter_readings (meter_id, ts, total) VALUES (:m, :t, :v)"),
                             {"m": mid, "t": ts, "v": total})

        meter("F1-CW", "cold_water", "flat", "1", [(msk(2026, 9, 25, 12), 100.0), (msk(2026, 10, 25, 12), 108.0)])
        meter("F1-HW", "hot_water", "flat", "1", [(msk(2026, 9, 25, 12), 50.0), (msk(2026, 10, 25, 12), 54.0)])
        meter("F3-CW", "cold_water", "flat", "3", [(msk(2026, 10, 25, 12), 7.0)])
        meter("B1-CW", "cold_water", "building", None, [(msk(2026, 9, 25, 12), 1000.0), (msk(2026, 10, 25, 12), 1038.0)])
        outages = {
            "A": add_outage(conn, net, [b1], msk(2026, 10, 10, 10), msk(2026, 10, 10, 20)),
            "B": add_outage(conn, net, [b1, b2], msk(2026, 10, 10, 15), msk(2026, 10, 11, 1), kind="planned",
                            reason="Замена задвижки"),
            "C": add_outage(conn, net, [b1], msk(2026, 9, 30, 22), msk(2026, 10, 1, 2)),
            "cancelled": add_outage(conn, net, [b1], None, None, state="cancelled"),
            "september": add_outage(conn, net, [b1], msk(2026, 9, 5, 0), msk(2026, 9, 6, 0)),
        }
    return Small(int(net), int(b1), int(b2), {k: int(v) for k, v in accounts.items()}, outages)


def run_cli(monkeypatch, capsys, db_url: str, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """``python -m billing ARGS`` in this process against the test database: (exit code, stdout, stderr)."""
    from apps.cli.billing import main
    from settings import get_settings

    monkeypatch.setenv("DATABASE_URL", db_url)
    for k, v in (env or {}).items():
        monkeypatch.setenv(k, v)
    get_settings.cache_clear()
    try:
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse
            code = int(exc.code or 0)
        out = capsys.readouterr()
        return code, out.out, out.err
    finally:
        get_settings.cache_clear()
