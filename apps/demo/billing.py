"""The demo city's residents and money (``python -m billing demo``): flats, personal accounts, meters and their readings.

For every residential building with residents: flats (``residents`` ÷ ~2.1 people per flat, laid
over its floors), one account per flat (an 11-digit number, a plausible holder, the residents
registered summing to the building's, the flat's area, an access code), cold- and hot-water meters
in ~60 % of the flats with a reading on the 25th of every month from December 2025 to now. Every
building (residential or not) gets a stable house GUID (uuid5 of a fixed namespace and the
building's dataset and ext id, :mod:`billing.house_guid`) and a building cold-water meter ``B-<building id>-CW`` whose monthly
readings exceed what its flats are billed by a few per cent (the common share, ОДН).

Everything is a function of the seed (and of the building ids): a rerun inserts only what is
missing. The access code of an account is derived from the seed and the number
(:func:`access_code`); only its SHA-256 is stored.
"""
from __future__ import annotations

import hashlib
import os
import random
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from psycopg import sql
from sqlalchemy import Connection, Engine, MetaData, Table, column, select, table, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.schema import DropTable

from billing.codes import hash_demo_code, verify_code
from billing.errors import BillingError
from billing.house_guid import house_guid
from billing.tariffs import TariffBook, sync_tariffs
from gis.db import get_engine

__all__ = ["access_code", "code_hash", "copy_insert", "demo_code", "load_billing_demo"]

PEOPLE_PER_FLAT = 2.1
METERED_SHARE = 0.6
FIRST_READING_MONTH = (2025, 12)
READING_DAY = 25

_SURNAMES = ("Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов", "Михайлов",
             "Новиков", "Фёдоров", "Морозов", "Волков", "Алексеев", "Лебедев", "Семёнов", "Егоров",
             "Павлов", "Козлов", "Степанов", "Николаев", "Орлов", "Андреев", "Макаров", "Никитин",
             "Захаров", "Зайцев", "Соловьёв", "Борисов", "Яковлев", "Григорьев", "Романов", "Воробьёв")
_MALE = ("Александр", "Сергей", "Дмитрий", "Андрей", "Алексей", "Иван", "Михаил", "Николай", "Владимир",
         "Евгений", "Павел", "Юрий", "Олег", "Виктор")
_FEMALE = ("Елена", "Ольга", "Наталья", "Татьяна", "Ирина", "Светлана", "Мария", "Анна", "Марина",
           "Людмила", "Галина", "Екатерина", "Юлия", "Валентина")
_PATRONYMS = ("Александров", "Сергеев", "Дмитриев", "Андреев", "Алексеев", "Иванов", "Михайлов",
              "Николаев", "Владимиров", "Викторов", "Петров", "Юрьев")


def access_code(seed: int, account_number: str) -> str:
    """The demo access code printed on the bill of ``account_number``: 8 digits."""
    digest = hashlib.sha256(f"zhkh-demo-access:{seed}:{account_number}".encode()).hexdigest()
    return f"{int(digest, 16) % 10**8:08d}"


def code_hash(code: str) -> str:
    """What ``accounts.access_code_hash`` stores for a demo account: the Argon2id hash of the code as
    printed, with the demo's light parameters (``billing.codes.hash_demo_code``: the demo's codes are
    derived from its seed, not secrets)."""
    return hash_demo_code(code)


def code_hashes(codes: list[str]) -> list[str]:
    """``code_hash`` of many codes on every core (Argon2 releases the GIL while it works)."""
    if len(codes) < 8:
        return [code_hash(c) for c in codes]
    with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
        return list(pool.map(code_hash, codes, chunksize=64))


def demo_code(account: str, *, seed: int, bind: Engine | None = None) -> str:
    """The access code printed on demo account ``account``'s bill (``python -m billing demo-code``);
    ``BillingError`` when there is no such account or its stored code is not the demo code of ``seed``."""
    with (bind or get_engine()).connect() as conn:
        found = conn.execute(text("SELECT true, access_code_hash FROM accounts WHERE number = :n"),
                             {"n": account}).first()
    if found is None:
        raise BillingError(f"no account {account!r}")
    code = access_code(seed, account)
    if not verify_code(found[1], code)[0]:
        raise BillingError(f"account {account}: its access code is not the demo code of seed {seed}")
    return code


def _holder(rng: random.Random) -> str:
    surname = rng.choice(_SURNAMES)
    if rng.random() < 0.5:
        return f"{surname} {rng.choice(_MALE)} {rng.choice(_PATRONYMS)}ич"
    fem = surname[:-1] + "ва" if surname.endswith("ёв") or surname.endswith("ев") or surname.endswith("ов") \
        else surname + "а"
    if surname.endswith("ин"):
        fem = surname + "а"
    return f"{fem} {rng.choice(_FEMALE)} {rng.choice(_PATRONYMS)}на"


def _months_until(now: datetime) -> list[tuple[int, int]]:
    y, m = FIRST_READING_MONTH
    out = []
    while (y, m) <= (now.year, now.month):
        out.append((y, m))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _q(x: float, places: str = "0.01") -> Decimal:
    return Decimal(str(x)).quantize(Decimal(places), rounding=ROUND_HALF_UP)


def _flats(rng: random.Random, residents: int, levels: int | None) -> list[dict[str, Any]]:
    n = max(1, round(residents / PEOPLE_PER_FLAT))
    floors = max(1, min(levels or 5, 40))
    per_floor = -(-n // floors)
    flats = []
    for i in range(n):
        rooms = rng.choices((1, 2, 3, 4), weights=(30, 38, 24, 8))[0]
        area = {1: rng.uniform(30, 42), 2: rng.uniform(42, 62), 3: rng.uniform(60, 85), 4: rng.uniform(80, 110)}[rooms]
        flats.append({"number": str(i + 1), "floor": i // per_floor + 1, "area": _q(area), "residents": 1 if
                      residents >= n else 0})
    # the rest of the building's residents, one at a time, into flats weighted by area
    left = residents - sum(f["residents"] for f in flats)
    weights = [float(f["area"]) for f in flats]
    for idx in rng.choices(range(n), weights=weights, k=max(0, left)):
        flats[idx]["residents"] += 1
    return flats


def load_billing_demo(conn: Connection, *, seed: int, book: TariffBook, now: datetime | None = None) -> dict[str, int]:
    """Create (or complete) the demo billing data in ``conn``'s transaction; counts of what was added."""
    now = now or datetime.now(timezone.utc)
    counts = {"tariffs": sync_tariffs(conn, book)}
    rows = conn.execute(text("SELECT id, dataset, ext_id FROM buildings WHERE house_guid IS NULL ORDER BY id")).all()
    for bid, dataset, ext_id in rows:
        conn.execute(text("UPDATE buildings SET house_guid = :g WHERE id = :id"),
                     {"g": house_guid(dataset, ext_id), "id": bid})
    counts["house_guids"] = len(rows)

    buildings = conn.execute(text(
        "SELECT id, kind, levels, residents FROM buildings ORDER BY id")).mappings().all()
    months = _months_until(now)
    # buildings whose flats came from elsewhere (not this demo) are left as they are
    foreign = {int(r[0]) for r in conn.execute(text("""
        SELECT p.building_id FROM premises p LEFT JOIN accounts a ON a.premises_id = p.id
        GROUP BY p.building_id
        HAVING NOT bool_or(coalesce(a.number LIKE '77' || lpad(p.building_id::text, 5, '0') || '____', false))
    """))}
    premises_rows: list[dict[str, Any]] = []
    account_rows: list[dict[str, Any]] = []
    flat_meters: list[dict[str, Any]] = []   # serial, resource, building, flat number, monthly use
    building_meters: list[dict[str, Any]] = []
    for b in buildings:
        bid = int(b["id"])
        rng = random.Random(f"{seed}:billing:{bid}")
        billed_by_month = [0.0] * len(months)
        if b["kind"] == "residential" and b["residents"] > 0 and bid not in foreign:
            for f in _flats(rng, int(b["residents"]), b["levels"]):
                number = f"77{bid:05d}{int(f['number']):04d}"
                premises_rows.append({"building_id": bid, "number": f["number"], "floor": f["floor"],
                                      "area": f["area"]})
                account_rows.append({"building_id": bid, "flat": f["number"], "number": number,
                                     "holder": _holder(rng), "residents": f["residents"], "area": f["area"],
                                     "code": access_code(seed, number),
                                     "opened_on": date(2015 + rng.randrange(0, 10), rng.randrange(1, 13), 1)})
                people = max(f["residents"], 1)
                metered = rng.random() < METERED_SHARE
                for resource, norm, tag in (("cold_water", 4.9, "CW"), ("hot_water", 3.5, "HW")):
                    if metered:
                        total = rng.uniform(5, 400)
                        readings = []
                        for k, _ in enumerate(months):
                            use = norm * people * rng.uniform(0.55, 1.05)
                            total += use
                            readings.append(round(total, 3))
                            if resource == "cold_water":
                                billed_by_month[k] += use
                        flat_meters.append({"serial": f"F-{bid}-{f['number']}-{tag}", "resource": resource,
                                            "building_id": bid, "flat": f["number"], "readings": readings,
                                            "install": date(2019 + rng.randrange(0, 6), rng.randrange(1, 13), 1)})
                    elif resource == "cold_water":
                        for k in range(len(months)):
                            billed_by_month[k] += norm * f["residents"]
        # the building's cold-water meter: its flats' billed volume plus a common share (3–9 %),
        # or, for buildings without flats, a small non-residential use
        total = rng.uniform(1000, 20000)
        readings = []
        for k in range(len(months)):
            use = billed_by_month[k] * rng.uniform(1.03, 1.09) if billed_by_month[k] else rng.uniform(20, 200)
            total += use
            readings.append(round(total, 3))
        building_meters.append({"serial": f"B-{bid}-CW", "resource": "cold_water", "building_id": bid,
                                "readings": readings, "install": date(2018, 1, 1)})

    counts["premises"] = copy_insert(conn, "premises", ("building_id", "number", "kind", "floor", "area_m2"),
                                     [(p["building_id"], p["number"], "flat", p["floor"], p["area"])
                                      for p in premises_rows], ("building_id", "number"))
    pid = {(int(r[0]), r[1]): int(r[2]) for r in conn.execute(text(
        "SELECT building_id, number, id FROM premises"))}
    known = {r[0] for r in conn.execute(text("SELECT number FROM accounts WHERE number = ANY(:n)"),
                                        {"n": [a["number"] for a in account_rows]})}
    account_rows = [a for a in account_rows if a["number"] not in known]  # kept as they are: no hashing for nothing
    for a, h in zip(account_rows, code_hashes([a["code"] for a in account_rows])):
        a["code_hash"] = h
    counts["accounts"] = copy_insert(
        conn, "accounts", ("number", "premises_id", "holder_name", "residents", "area_m2", "access_code_hash",
                           "opened_on"),
        [(a["number"], pid[(a["building_id"], a["flat"])], a["holder"], a["residents"], a["area"], a["code_hash"],
          a["opened_on"]) for a in account_rows], ("number",))
    meters = [(m["serial"], m["resource"], "flat", m["building_id"], pid[(m["building_id"], m["flat"])],
               m["install"]) for m in flat_meters]
    meters += [(m["serial"], m["resource"], "building", m["building_id"], None, m["install"])
               for m in building_meters]
    counts["meters"] = copy_insert(conn, "meters", ("serial", "resource", "kind", "building_id", "premises_id",
                                                    "install_date"), meters, ("serial",))
    mid = {r[0]: int(r[1]) for r in conn.execute(text("SELECT serial, id FROM meters"))}
    stamps = [datetime(y, m, READING_DAY, 9, 0, tzinfo=timezone.utc) for y, m in months]
    readings = [(mid[m["serial"]], ts, total) for m in flat_meters + building_meters
                for ts, total in zip(stamps, m["readings"]) if ts <= now]
    counts["readings"] = copy_insert(conn, "meter_readings", ("meter_id", "ts", "total"), readings,
                                     ("meter_id", "ts"))
    return counts


def copy_insert(conn: Connection, name: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]],
                conflict: tuple[str, ...] = ()) -> int:
    """Insert ``rows`` into table ``name`` through COPY into a temporary table (fast), in ``conn``'s
    transaction; a row whose ``conflict`` columns (a unique key) are taken is skipped. The number of rows
    inserted."""
    if not rows:
        return 0
    tmp = f"_copy_{name}"
    # CREATE TABLE … AS … WITH NO DATA and ANALYZE have no SQLAlchemy construct: their text names only the
    # callers' fixed tables and columns, each quoted by the dialect's identifier preparer
    q = conn.dialect.identifier_preparer.quote
    cols = ", ".join(q(c) for c in columns)
    conn.execute(text(f"CREATE TEMP TABLE {q(tmp)} ON COMMIT DROP AS SELECT {cols} FROM {q(name)} WITH NO DATA"))
    raw = conn.connection.driver_connection
    copy_sql = sql.SQL("COPY {} ({}) FROM STDIN").format(sql.Identifier(tmp),
                                                         sql.SQL(", ").join(map(sql.Identifier, columns)))
    with raw.cursor() as cur, cur.copy(copy_sql) as copy:
        for row in rows:
            copy.write_row(row)
    target, staged = table(name, *(column(c) for c in columns)), table(tmp, *(column(c) for c in columns))
    stmt = insert(target).from_select(list(columns), select(*staged.c))
    if conflict:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(conflict))
    added = conn.execute(stmt.execution_options(preserve_rowcount=True)).rowcount  # an INSERT's rowcount: asked for
    conn.execute(DropTable(Table(tmp, MetaData())))
    conn.execute(text(f"ANALYZE {q(name)}"))  # a bulk write: the planner's statistics (autovacuum may be off)
    return int(added)
