"""Tariffs and normatives: a validated YAML (``billing/rules/tariffs_default.yaml``) and the
``tariffs`` table it is loaded into.

Per service: the unit, the region's normative (per registered resident and month, or per m² and
month for heating) and the price in roubles per unit from a date on (a price holds until the next
one). A region file names its parent in ``extends`` and repeats only what differs. Which file is
used is the setting ``billing_tariffs_file`` (``ZHKH_BILLING_TARIFFS_FILE``).

Optionally per service: ``organisation`` (who sets the tariff) and ``basis`` (the legal act of each
price, keyed by the price's date), each a text or a mapping of language → text. They go into the
table with the prices (migration 0023) and are shown to residents (``resident/tariffs.py``), who read
the table through :func:`book_from_table` and the same :meth:`TariffBook.at` the billing uses.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text

from billing.errors import BillingError, InvalidRules
from rules_yaml import read_rules_yaml
from settings import get_settings

__all__ = ["DEFAULT_TARIFFS_FILE", "Tariff", "TariffBook", "UNITS", "book_from_table", "load_tariffs",
           "tariffs_path", "sync_tariffs"]

DEFAULT_TARIFFS_FILE = Path(__file__).resolve().parent / "rules" / "tariffs_default.yaml"
SERVICES: tuple[str, ...] = ("cold_water", "hot_water", "sewer", "heating", "electricity", "gas")
UNITS: dict[str, str] = {"cold_water": "m3", "hot_water": "m3", "sewer": "m3", "gas": "m3",
                         "heating": "gcal", "electricity": "kwh"}


@dataclass(frozen=True)
class Tariff:
    """The price of one service from ``valid_from`` to ``valid_to`` (inclusive; ``None`` open)."""

    service: str
    unit: str
    valid_from: date
    valid_to: date | None
    price_rub: Decimal
    normative_per_person: Decimal | None
    normative_per_m2: Decimal | None
    organisation: dict[str, str] = field(default_factory=dict, compare=False)   # language → who sets it
    legal_basis: dict[str, str] = field(default_factory=dict, compare=False)    # language → the act


@dataclass(frozen=True)
class TariffBook:
    """A validated tariffs file."""

    region: str
    source: str
    services: tuple[str, ...]
    tariffs: tuple[Tariff, ...]

    def at(self, service: str, day: date) -> Tariff:
        """The tariff of ``service`` in force on ``day``; ``BillingError`` when there is none."""
        for t in self.tariffs:
            if t.service == service and t.valid_from <= day and (t.valid_to is None or day <= t.valid_to):
                return t
        raise BillingError(f"no tariff for {service} on {day.isoformat()} in the tariffs file ({self.region})")

    def of(self, service: str) -> list[Tariff]:
        """The tariffs of ``service``, oldest first."""
        return sorted((t for t in self.tariffs if t.service == service), key=lambda t: t.valid_from)

    def previous(self, service: str, day: date) -> Tariff | None:
        """The tariff of ``service`` before the one in force on ``day`` (``None`` when there is none)."""
        current = self.at(service, day)
        before = [t for t in self.of(service) if t.valid_from < current.valid_from]
        return before[-1] if before else None

    def next_change(self, service: str, day: date) -> Tariff | None:
        """The first tariff of ``service`` that starts after ``day`` (``None`` when none is known)."""
        return next((t for t in self.of(service) if t.valid_from > day), None)


def tariffs_path(explicit: str | Path | None = None) -> Path:
    """The tariffs file: ``explicit``, else the setting ``billing_tariffs_file``."""
    if explicit:
        return Path(explicit)
    return Path(getattr(get_settings(), "billing_tariffs_file", DEFAULT_TARIFFS_FILE))


def _read(path: Path) -> dict[str, Any]:
    return read_rules_yaml(path, what="tariffs file", error=InvalidRules)


def _decimal(value: Any, where: str) -> Decimal:
    if isinstance(value, bool):
        raise InvalidRules(f"{where}: expected a number, got {value!r}")
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        raise InvalidRules(f"{where}: expected a number, got {value!r}") from None
    if not d.is_finite() or d < 0:
        raise InvalidRules(f"{where}: expected a number ≥ 0, got {value!r}")
    return d


def _date(value: Any, where: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise InvalidRules(f"{where}: expected a date YYYY-MM-DD, got {value!r}") from None


def _texts(value: Any, where: str) -> dict[str, str]:
    """A text of the tariffs file: one string (for every language) or a mapping language → text."""
    if value is None:
        return {}
    if isinstance(value, str) and value.strip():
        return {"ru": value.strip(), "en": value.strip()}
    if isinstance(value, dict) and value and all(k in ("ru", "en") and isinstance(v, str) and v.strip()
                                                 for k, v in value.items()):
        return {k: v.strip() for k, v in value.items()}
    raise InvalidRules(f"{where}: expected a text or a mapping of ru/en to a text, got {value!r}")


def load_tariffs(path: str | Path | None = None) -> TariffBook:
    """Read and validate a tariffs file; ``InvalidRules`` names the file and the field."""
    path = tariffs_path(path)
    raw = _read(path)
    where = str(path)
    services = raw.get("services") or []
    if not isinstance(services, list) or not all(s in SERVICES for s in services):
        raise InvalidRules(f"{where}: services must be a list of {', '.join(SERVICES)}, got {services!r}")
    table = raw.get("tariffs")
    if not isinstance(table, dict):
        raise InvalidRules(f"{where}: 'tariffs' must be a mapping of service to its tariff")
    out: list[Tariff] = []
    for service, spec in table.items():
        at = f"{where}: tariffs.{service}"
        if service not in SERVICES:
            raise InvalidRules(f"{at}: unknown service (expected one of {', '.join(SERVICES)})")
        if not isinstance(spec, dict):
            raise InvalidRules(f"{at}: expected a mapping")
        unknown = set(spec) - {"unit", "normative_per_person", "normative_per_m2", "prices", "organisation", "basis"}
        if unknown:
            raise InvalidRules(f"{at}: unknown field(s) {', '.join(sorted(map(str, unknown)))}")
        unit = spec.get("unit", UNITS[service])
        if unit != UNITS[service]:
            raise InvalidRules(f"{at}.unit: {service} is billed in {UNITS[service]}, got {unit!r}")
        per_person = spec.get("normative_per_person")
        per_m2 = spec.get("normative_per_m2")
        per_person = None if per_person is None else _decimal(per_person, f"{at}.normative_per_person")
        per_m2 = None if per_m2 is None else _decimal(per_m2, f"{at}.normative_per_m2")
        if service == "heating" and per_m2 is None:
            raise InvalidRules(f"{at}: heating needs normative_per_m2 (it is billed by area)")
        if service not in ("heating",) and per_person is None:
            raise InvalidRules(f"{at}: needs normative_per_person")
        prices = spec.get("prices")
        if not isinstance(prices, dict) or not prices:
            raise InvalidRules(f"{at}.prices: expected a mapping of date to price, at least one")
        dated = sorted((_date(k, f"{at}.prices"), _decimal(v, f"{at}.prices.{k}")) for k, v in prices.items())
        organisation = _texts(spec.get("organisation"), f"{at}.organisation")
        basis_spec = spec.get("basis") or {}
        if not isinstance(basis_spec, dict):
            raise InvalidRules(f"{at}.basis: expected a mapping of a price's date to its legal act")
        basis = {_date(k, f"{at}.basis"): _texts(v, f"{at}.basis.{k}") for k, v in basis_spec.items()}
        stray = sorted(set(basis) - {d for d, _ in dated})
        if stray:
            raise InvalidRules(f"{at}.basis: {stray[0].isoformat()} is not a date of prices")
        for i, (start, price) in enumerate(dated):
            end = dated[i + 1][0] - timedelta(days=1) if i + 1 < len(dated) else None
            out.append(Tariff(service, unit, start, end, price, per_person, per_m2, organisation,
                              basis.get(start, {})))
    missing = [s for s in services if s not in table]
    if missing:
        raise InvalidRules(f"{where}: services {', '.join(missing)} have no tariff")
    return TariffBook(region=str(raw.get("region", "")), source=str(raw.get("source", "")),
                      services=tuple(services), tariffs=tuple(out))


def sync_tariffs(conn: Connection, book: TariffBook) -> int:
    """Write the book's tariffs into the ``tariffs`` table (insert or update by service and start
    date; rows of a service's start dates no longer in the file are removed). The number written."""
    for t in book.tariffs:
        conn.execute(text("""
            INSERT INTO tariffs (service, valid_from, valid_to, unit, price_rub, normative_per_person,
                                 normative_per_m2, source, organisation, legal_basis)
            VALUES (:service, :valid_from, :valid_to, :unit, :price, :npp, :npm, :source,
                    CAST(:org AS jsonb), CAST(:basis AS jsonb))
            ON CONFLICT (service, valid_from) DO UPDATE SET valid_to = EXCLUDED.valid_to, unit = EXCLUDED.unit,
                price_rub = EXCLUDED.price_rub, normative_per_person = EXCLUDED.normative_per_person,
                normative_per_m2 = EXCLUDED.normative_per_m2, source = EXCLUDED.source,
                organisation = EXCLUDED.organisation, legal_basis = EXCLUDED.legal_basis
        """), {"service": t.service, "valid_from": t.valid_from, "valid_to": t.valid_to, "unit": t.unit,
               "price": t.price_rub, "npp": t.normative_per_person, "npm": t.normative_per_m2,
               "source": book.source or book.region, "org": json.dumps(t.organisation, ensure_ascii=False),
               "basis": json.dumps(t.legal_basis, ensure_ascii=False)})
    for service in {t.service for t in book.tariffs}:
        keep = [t.valid_from for t in book.tariffs if t.service == service]
        conn.execute(text("DELETE FROM tariffs WHERE service = :s AND NOT (valid_from = ANY(:keep))"),
                     {"s": service, "keep": keep})
    return len(book.tariffs)


def book_from_table(conn: Connection, services: tuple[str, ...] | None = None) -> TariffBook:
    """The ``tariffs`` table (what the last billing run or demo load wrote from the tariffs file) as
    a :class:`TariffBook`, so that readers of the table use the billing's own lookup. ``services``:
    the services charged (default: every service with a tariff in the table)."""
    rows = conn.execute(text("""
        SELECT service, unit, valid_from, valid_to, price_rub, normative_per_person, normative_per_m2,
               source, organisation, legal_basis
        FROM tariffs ORDER BY service, valid_from
    """)).mappings().all()
    tariffs = tuple(Tariff(r["service"], r["unit"], r["valid_from"], r["valid_to"], Decimal(r["price_rub"]),
                           None if r["normative_per_person"] is None else Decimal(r["normative_per_person"]),
                           None if r["normative_per_m2"] is None else Decimal(r["normative_per_m2"]),
                           dict(r["organisation"] or {}), dict(r["legal_basis"] or {})) for r in rows)
    present = tuple(s for s in SERVICES if any(t.service == s for t in tariffs))
    chosen = tuple(s for s in services if s in present) if services is not None else present
    source = next((r["source"] for r in rows if r["source"]), "")
    return TariffBook(region="", source=source, services=chosen, tariffs=tariffs)
