"""«Тарифы» of an address: every service the billing charges, with the tariff in force today, the
previous one and the next change, who sets it and on what legal basis, the normative where the flats
have no meter, and what a month costs at the address's average consumption.

Read from the ``tariffs`` table (what the billing run writes from the tariffs file) through the
billing's own lookup (``billing.tariffs.book_from_table`` → ``TariffBook.at``): no second copy of any
figure. The average consumption is the mean monthly quantity of the address's accounts' charges in
the last 12 billed months (``charges.quantity``, what the bill counted); an address without charges
falls back to the normatives: the mean registered residents (and area, for heating) of its
accounts, or one resident without a meter when it has no account.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Connection, text

from billing.errors import BillingError
from billing.tariffs import Tariff, TariffBook, book_from_table
from resident import queries

MONTHS = 12
_Q = Decimal("0.0001")
_KOP = Decimal("0.01")


class AddressNotFound(LookupError):
    """No building matches the address (text or id)."""


@dataclass(frozen=True)
class Ambiguous(LookupError):
    """Several buildings match the address text: ``matches`` are (id, address) dicts."""

    query: str
    matches: list[dict[str, Any]]


def resolve_address(conn: Connection, address: str) -> dict[str, Any]:
    """The building of ``address``: an id (digits) or a text as the page's search takes it
    (``gis.search`` through ``resident.queries.suggestions``). One match, or an exact one
    (case-insensitive) among several, wins; none → ``AddressNotFound``; several → ``Ambiguous``."""
    q = (address or "").replace("\x00", "").strip()[:200]
    if q.isdigit() and len(q) <= 12:
        b = queries.building(conn, int(q))
        if b is None:
            raise AddressNotFound(f"no building with id {q}")
        return b
    if len(q) < 2:
        raise AddressNotFound("give an address (at least 2 characters) or a building id")
    found = queries.suggestions(conn, q, limit=20)
    exact = [f for f in found if (f["address"] or "").casefold() == q.casefold()]
    if len(exact) == 1:
        found = exact
    if not found:
        raise AddressNotFound(f"no address matches {q!r}")
    if len(found) > 1:
        raise Ambiguous(q, found)
    b = queries.building(conn, found[0]["id"])
    if b is None:  # pragma: no cover - the search reads the same table
        raise AddressNotFound(f"no address matches {q!r}")
    return b


def _texts(value: dict[str, str], lang: str) -> str:
    return value.get(lang) or value.get("ru") or next(iter(value.values()), "")


def _q(d: Decimal | float | int) -> Decimal:
    return Decimal(str(d)).quantize(_Q, ROUND_HALF_UP)


def _metering(conn: Connection, building_id: int, today: date) -> dict[str, tuple[int, int]]:
    """service → (flats with a meter of it in service today, flats with an open account)."""
    flats = conn.execute(text("""
        SELECT count(DISTINCT p.id) FROM premises p JOIN accounts a ON a.premises_id = p.id
        WHERE p.building_id = :b AND (a.closed_on IS NULL OR a.closed_on >= :d)
    """), {"b": building_id, "d": today}).scalar_one()
    rows = conn.execute(text("""
        SELECT m.resource, count(DISTINCT p.id)
        FROM premises p CROSS JOIN LATERAL (
            SELECT m.resource FROM meters m WHERE m.premises_id = p.id AND m.kind = 'flat'
              AND m.install_date <= :d AND (m.removed_on IS NULL OR m.removed_on >= :d)) m
        WHERE p.building_id = :b
        GROUP BY m.resource
    """), {"b": building_id, "d": today}).all()
    got = {r[0]: int(r[1]) for r in rows}
    return {s: (got.get(s, 0), int(flats)) for s in ("cold_water", "hot_water", "electricity", "gas")}


def _averages(conn: Connection, building_id: int) -> dict[str, tuple[Decimal, int]]:
    """service → (mean monthly quantity per account, months counted) over the last billed months."""
    rows = conn.execute(text("""
        WITH months AS (
            SELECT DISTINCT c.period FROM charges c JOIN accounts a ON a.id = c.account_id
            JOIN premises p ON p.id = a.premises_id WHERE p.building_id = :b
            ORDER BY c.period DESC LIMIT :n)
        SELECT c.service, avg(c.quantity) AS q, count(DISTINCT c.period) AS months
        FROM charges c JOIN accounts a ON a.id = c.account_id JOIN premises p ON p.id = a.premises_id
        WHERE p.building_id = :b AND c.period IN (SELECT period FROM months) AND c.quantity IS NOT NULL
        GROUP BY c.service
    """), {"b": building_id, "n": MONTHS}).all()
    return {r[0]: (_q(r[1]), int(r[2])) for r in rows}


def _household(conn: Connection, building_id: int) -> tuple[Decimal, Decimal | None, int]:
    """(mean registered residents, mean area m², accounts) of the address's open accounts."""
    r = conn.execute(text("""
        SELECT avg(a.residents), avg(a.area_m2), count(*) FROM accounts a JOIN premises p ON p.id = a.premises_id
        WHERE p.building_id = :b AND a.closed_on IS NULL
    """), {"b": building_id}).one()
    if not r[2]:
        return Decimal(1), None, 0
    return _q(r[0] or 0), (_q(r[1]) if r[1] is not None else None), int(r[2])


def _normative_quantity(t: Tariff, book: TariffBook, today: date, residents: Decimal,
                        area: Decimal | None) -> Decimal | None:
    if t.service == "heating":
        return None if area is None or t.normative_per_m2 is None else _q(area * t.normative_per_m2)
    return _q((t.normative_per_person or 0) * residents)


def _price(t: Tariff | None) -> dict[str, Any] | None:
    if t is None:
        return None
    return {"price_rub": t.price_rub, "valid_from": t.valid_from, "valid_to": t.valid_to}


def address_tariffs(conn: Connection, building: dict[str, Any], today: date, *, lang: str = "ru",
                    services: tuple[str, ...] | None = None) -> dict[str, Any]:
    """The «Тарифы» of ``building`` (a row of ``resident.queries.building``) on ``today`` in ``lang``
    (the organisation's name and the legal act; the numbers are left to the page or the JSON)."""
    book = book_from_table(conn, services)
    bid = int(building["id"])
    metering = _metering(conn, bid, today)
    averages = _averages(conn, bid)
    residents, area, accounts = _household(conn, bid)
    rows: list[dict[str, Any]] = []
    total = Decimal(0)
    complete = True
    for service in book.services:
        try:
            now_t = book.at(service, today)
        except BillingError:
            continue  # no tariff in force today: nothing to show for it
        prev, nxt = book.previous(service, today), book.next_change(service, today)
        if service == "heating":
            metered, flats = 0, metering["cold_water"][1]
        elif service == "sewer":
            metered = min(metering["cold_water"][0], metering["hot_water"][0])
            flats = metering["cold_water"][1]
        else:
            metered, flats = metering.get(service, (0, 0))
        fully_metered = flats > 0 and metered >= flats
        normative = None
        if not fully_metered:
            if service == "heating" and now_t.normative_per_m2 is not None:
                normative = {"value": now_t.normative_per_m2, "per": "m2"}
            elif now_t.normative_per_person is not None:
                normative = {"value": now_t.normative_per_person, "per": "person"}
        if service in averages:
            qty, months = averages[service]
            basis = "charges"
        else:
            qty, months = _normative_quantity(now_t, book, today, residents, area), 0
            basis = "normative" if accounts else "normative_one_person"
        cost = None if qty is None else (qty * now_t.price_rub).quantize(_KOP, ROUND_HALF_UP)
        if cost is None:
            complete = False
        else:
            total += cost
        rows.append({
            "service": service, "unit": now_t.unit, "price_rub": now_t.price_rub, "valid_from": now_t.valid_from,
            "valid_to": now_t.valid_to, "previous": _price(prev),
            "next_change": None if nxt is None else {"date": nxt.valid_from, "price_rub": nxt.price_rub},
            "normative": normative, "metered_flats": metered, "flats": flats,
            "organisation": _texts(now_t.organisation, lang), "legal_basis": _texts(now_t.legal_basis, lang),
            "month": {"quantity": qty, "cost_rub": cost, "basis": basis, "months": months},
        })
    return {"building": {"id": bid, "address": building["address"]}, "date": today, "services": rows,
            "month_total_rub": total.quantize(_KOP), "month_total_complete": complete,
            "household": {"accounts": accounts, "residents": residents, "area_m2": area},
            "source": book.source}
