"""A month's charges for every account (``python -m billing run``): what each line is and why.

Per account and service (the tariffs file's ``services``), for month ``YYYY-MM`` in the region's
time zone (the billing rules file):

- **consumption**: metered volume × tariff when every meter of the service in the flat has a
  reading in the month and one before it (volume = the last reading in the month − the last one
  before the month; several accounts of one flat share it by area), else the normative per
  person × residents registered × tariff. Sewer: the cold + hot volumes of the account (metered
  or normative each). Heating: area × the normative per m² × tariff.
- **common** (ОДН, ПП 354 formulas 10–11 by area share): when the building has a meter of the
  service with a volume for the month, (building volume − the sum of its accounts' volumes) ×
  the account's area ÷ the area of all the building's accounts; never negative (a building that
  used less than its flats were billed gets no common share).
- **reduction** (ПП 354): the hours the account's building was cut off from the service by
  outages (``outage_buildings``; actual start to actual end, an active one until now; the
  service is the outage's network resource), their union within the month, beyond the monthly
  allowance; 0.15 % of the service's charge per hour, at most all of it (:mod:`billing.rule`).
  The line names its outages.
- **correction**: a closed month whose reduction changed since (an outage recorded or ended
  late) is corrected in the month being computed: the difference between the reduction due now
  and what was granted (plus earlier corrections) for that month.

Load vs. compute: :func:`load_period` reads the month's inputs from the database into plain data
(:class:`PeriodData`); :func:`compute_charges` turns them into charges without a database (tested so);
:func:`compute_period` is the two together.

Amounts are rounded half-up to kopecks per line; a charge's ``charged_rub`` is its consumption
and common lines, ``reduction_rub`` its reduction, ``total_rub`` = charged − reduction + corrections.
"""
from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import Connection, text

from billing.errors import BillingError
from billing.rule import month_bounds, recalculate, round_half_up
from billing.rules_file import BillingRules
from billing.tariffs import TariffBook
from incidents import interruptions as cutoffs

__all__ = ["Account", "Charge", "ClosedCharge", "ClosedMonth", "Line", "MeterVolume", "PeriodData", "PeriodResult",
           "compute_charges", "compute_period", "load_period", "period_first_day", "write_period", "CORRECTIONS_SQL",
           "analyze_charges"]

_METERED = ("cold_water", "hot_water", "electricity", "gas")
_Q4 = Decimal("0.0001")
_KOP = Decimal("0.01")


@dataclass
class Line:
    kind: str
    amount: Decimal
    quantity: Decimal | None = None
    unit: str | None = None
    outage_ids: tuple[int, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class Charge:
    account_id: int
    building_id: int
    electricity_sources: int
    service: str
    basis: str
    quantity: Decimal
    unit: str
    price: Decimal
    area: Decimal = Decimal("0")
    lines: list[Line] = field(default_factory=list)

    def sums(self) -> tuple[Decimal, Decimal, Decimal, Decimal]:
        """(charged, reduction, correction, total) in one pass over the lines."""
        charged = reduction = correction = Decimal("0")
        for ln in self.lines:
            if ln.kind == "reduction":
                reduction -= ln.amount
            elif ln.kind == "correction":
                correction += ln.amount
            else:
                charged += ln.amount
        return charged, reduction, correction, charged - reduction + correction

    @property
    def charged(self) -> Decimal:
        return sum((ln.amount for ln in self.lines if ln.kind in ("consumption", "common")), Decimal("0"))

    @property
    def reduction(self) -> Decimal:
        return -sum((ln.amount for ln in self.lines if ln.kind == "reduction"), Decimal("0"))

    @property
    def correction(self) -> Decimal:
        return sum((ln.amount for ln in self.lines if ln.kind == "correction"), Decimal("0"))

    @property
    def total(self) -> Decimal:
        return self.charged - self.reduction + self.correction


@dataclass
class PeriodResult:
    period: str
    charges: list[Charge]
    corrections_without_charge: int = 0

    def totals(self) -> dict[str, Any]:
        c = self.charges
        sums = [x.sums() for x in c]
        return {"period": self.period, "accounts": len({x.account_id for x in c}), "charges": len(c),
                "charged_rub": str(sum((x[0] for x in sums), Decimal("0.00"))),
                "reduction_rub": str(sum((x[1] for x in sums), Decimal("0.00"))),
                "correction_rub": str(sum((x[2] for x in sums), Decimal("0.00"))),
                "total_rub": str(sum((x[3] for x in sums), Decimal("0.00"))),
                "reduced_charges": sum(1 for x in sums if x[1] > 0),
                "outage_ids": sorted({o for x in c for ln in x.lines for o in ln.outage_ids}),
                "corrections_without_charge": self.corrections_without_charge}


def period_first_day(period: str, rules: BillingRules) -> date:
    """The first day of ``YYYY-MM`` (validated by :func:`billing.rule.month_bounds`)."""
    month_bounds(period, rules.zone)
    return date(int(period[:4]), int(period[5:7]), 1)


def _q4(x: Decimal | Fraction) -> Decimal:
    if isinstance(x, Decimal):
        return x.quantize(_Q4, rounding=ROUND_HALF_UP)
    return round_half_up(x, 4)


def _rub(x: Decimal | Fraction) -> Decimal:
    if isinstance(x, Decimal):
        return x.quantize(_KOP, rounding=ROUND_HALF_UP)
    return round_half_up(x, 2)


# ---- the month's inputs: plain data (loaded by load_period, or built by hand in a test) ----------------

Interval = tuple[datetime, datetime | None, int]   # (start, end or None while active, outage id)


@dataclass(frozen=True)
class Account:
    """An account open in the month, with its flat (premises) and building."""
    id: int
    premises_id: int
    building_id: int
    residents: int
    area: Decimal
    electricity_sources: int


@dataclass(frozen=True)
class MeterVolume:
    """A meter in service during the month: its volume in the month (the last reading in it − the last one
    before it); ``None`` when either is missing. A negative volume (the register went back) counts as none."""
    kind: str                 # flat | building
    resource: str
    premises_id: int | None
    building_id: int
    volume: Decimal | float | None


@dataclass(frozen=True)
class ClosedCharge:
    """A charge of a closed earlier month: what was charged and reduced, and corrected for it since."""
    account_id: int
    service: str
    charged: Decimal
    reduced: Decimal
    building_id: int
    electricity_sources: int
    corrected: Decimal = Decimal("0")


@dataclass(frozen=True)
class ClosedMonth:
    """A closed month before the one computed: its charges and the interruptions within it as known now."""
    period: str
    charges: list[ClosedCharge]
    intervals: dict[tuple[int, str], list[Interval]]


@dataclass(frozen=True)
class PeriodData:
    """Everything :func:`compute_charges` reads, for month ``period``."""
    period: str
    accounts: list[Account]
    meters: list[MeterVolume]
    intervals: dict[tuple[int, str], list[Interval]]   # (building, service) → the outages that cut it off
    closed: list[ClosedMonth] = field(default_factory=list)


# ---- load: the database reads --------------------------------------------------------------------------

def _month_days(period: str, rules: BillingRules) -> tuple[date, date]:
    first = period_first_day(period, rules)
    return first, date(first.year + (first.month == 12), first.month % 12 + 1, 1) - timedelta(days=1)


def _meter_volumes(conn: Connection, start: datetime, end: datetime, first: date, last: date) -> list[MeterVolume]:
    """Per meter in service during the month (flat and building meters): its volume in the month,
    ``None`` when it has no reading in the month or none before it."""
    rows = conn.execute(text("""
        SELECT m.kind, m.resource, m.premises_id, m.building_id, e.total - s.total AS volume
        FROM meters m
        LEFT JOIN LATERAL (SELECT total FROM meter_readings r WHERE r.meter_id = m.id
                           AND r.ts >= :start AND r.ts < :end ORDER BY r.ts DESC LIMIT 1) e ON true
        LEFT JOIN LATERAL (SELECT total FROM meter_readings r WHERE r.meter_id = m.id
                           AND r.ts < :start ORDER BY r.ts DESC LIMIT 1) s ON true
        WHERE m.kind IN ('flat', 'building') AND m.install_date <= :last
          AND (m.removed_on IS NULL OR m.removed_on >= :first)
    """), {"start": start, "end": end, "first": first, "last": last}).all()
    return [MeterVolume(kind, resource, pid, int(bid), volume) for kind, resource, pid, bid, volume in rows]


def _intervals(conn: Connection, start: datetime, end: datetime) -> dict[tuple[int, str], list[Interval]]:
    """(building, service) → the outages that cut it off within the month: (start, end, id). A building
    that joined a grown outage counts from when it joined (``incidents.interruptions``)."""
    return cutoffs.by_building_service(cutoffs.interruptions(conn, start, end))


def _closed_months(conn: Connection, first: date, rules: BillingRules) -> list[ClosedMonth]:
    """The closed months before ``first`` with their charges (and corrections since) and interruptions."""
    out = []
    for q in conn.execute(text("SELECT period FROM billing_periods WHERE state = 'closed' AND period < :p "
                               "ORDER BY period"), {"p": first}).scalars():
        qp = f"{q.year:04d}-{q.month:02d}"
        rows = conn.execute(text(CORRECTIONS_SQL), {"q": q, "p": first, "qp": qp}).all()
        out.append(ClosedMonth(qp, [ClosedCharge(int(aid), service, charged, reduced, int(bid), int(sources), corrected)
                                    for aid, service, charged, reduced, bid, sources, corrected in rows],
                               _intervals(conn, *month_bounds(qp, rules.zone))))
    return out


def load_period(conn: Connection, period: str, rules: BillingRules) -> PeriodData:
    """What month ``period`` is computed from: the accounts open in it, the meters' volumes, the outages'
    intervals, and the closed months before it (for corrections)."""
    first, last = _month_days(period, rules)
    start, end = month_bounds(period, rules.zone)
    accounts = [Account(int(aid), int(pid), int(bid), int(residents), area, int(sources))
                for aid, pid, bid, residents, area, sources in conn.execute(text("""
        SELECT a.id, a.premises_id, p.building_id, a.residents, a.area_m2, a.electricity_sources
        FROM accounts a JOIN premises p ON p.id = a.premises_id
        WHERE a.opened_on <= :last AND (a.closed_on IS NULL OR a.closed_on >= :first)
        ORDER BY a.id
    """), {"first": first, "last": last})]
    return PeriodData(period, accounts, _meter_volumes(conn, start, end, first, last), _intervals(conn, start, end),
                      _closed_months(conn, first, rules))


def compute_period(conn: Connection, period: str, book: TariffBook, rules: BillingRules, *,
                   now: datetime) -> PeriodResult:
    """The charges of month ``period`` for every account open in it (nothing is written)."""
    return compute_charges(load_period(conn, period, rules), book, rules, now=now)


# ---- compute: pure (plain data in, charges out) ----------------------------------------------------------

def _reduction_line(charge: Charge, period: str, intervals: list[Interval], rules: BillingRules,
                    now: datetime) -> tuple[Decimal, tuple[int, ...], dict[str, Any]]:
    """The reduction of ``charge`` (roubles, outage ids, details) by the rule of :mod:`billing.rule`."""
    rec = recalculate(service=charge.service, period=period, charge_rub=charge.charged, intervals=intervals,
                      rules=rules, electricity_sources=charge.electricity_sources, now=now)
    r = rec.rounded()
    by_id = {oid: (a, b) for a, b, oid in intervals}
    details = {"interruption_h": str(r["interruption_h"]), "allowance_h": str(r["allowance_h"]),
               "excess_h": str(r["excess_h"]), "pct": str(r["reduction_pct"]), "charge_rub": str(charge.charged),
               "outages": [{"id": oid, "start": by_id[oid][0].isoformat(),
                            "end": by_id[oid][1].isoformat() if by_id[oid][1] else None} for oid in rec.outage_ids]}
    return rec.reduction_rub, tuple(int(o) for o in rec.outage_ids), details


def _volumes(meters: list[MeterVolume]) -> tuple[dict[tuple[int, str], Decimal | None],
                                                  dict[tuple[int, str], Decimal | None]]:
    """(flat volumes by (premises, resource), building volumes by (building, resource)): several meters of
    one key add up; one meter without a usable volume makes the key's volume unknown (``None``)."""
    flat_vol: dict[tuple[int, str], Decimal | None] = {}
    building_vol: dict[tuple[int, str], Decimal | None] = {}
    for m in meters:
        ok = m.volume is not None and m.volume >= 0
        vol = Decimal(str(round(m.volume, 4))) if ok else None  # type: ignore[arg-type]
        target, key = ((flat_vol, (m.premises_id, m.resource)) if m.kind == "flat"
                       else (building_vol, (m.building_id, m.resource)))
        if key in target:
            prev = target[key]
            target[key] = None if prev is None or vol is None else prev + vol
        else:
            target[key] = vol
    return flat_vol, building_vol  # type: ignore[return-value]


def _consumption(accounts: list[Account], flat_vol: dict[tuple[int, str], Decimal | None], book: TariffBook,
                 first: date) -> list[Charge]:
    """One charge per account and service with its consumption line (metered, normative or by area)."""
    tariffs = {s: book.at(s, first) for s in book.services}
    needed = set(book.services) | ({"cold_water", "hot_water"} if "sewer" in book.services else set())
    norms = {s: book.at(s, first) for s in needed}
    premises_area: dict[int, Decimal] = defaultdict(Decimal)
    for a in accounts:
        premises_area[a.premises_id] += a.area
    charges: list[Charge] = []
    for a in accounts:
        volumes: dict[str, tuple[Decimal, str]] = {}

        def volume(service: str, a: Account = a, volumes: dict[str, tuple[Decimal, str]] = volumes
                   ) -> tuple[Decimal, str]:
            """The account's volume of ``service``: its flat's meters by area share, else the normative."""
            if service not in volumes:
                metered = flat_vol.get((a.premises_id, service)) if service in _METERED else None
                if metered is not None:
                    share = Fraction(a.area) / Fraction(premises_area[a.premises_id])
                    volumes[service] = (_q4(Fraction(metered) * share), "meter")
                else:
                    volumes[service] = (_q4((norms[service].normative_per_person or 0) * a.residents), "normative")
            return volumes[service]

        for service in book.services:
            t = tariffs[service]
            if service == "heating":
                qty, basis = _q4(a.area * (t.normative_per_m2 or 0)), "area"
            elif service == "sewer":
                (cq, cb), (hq, hb) = volume("cold_water"), volume("hot_water")
                qty, basis = cq + hq, "meter" if cb == hb == "meter" else "normative"
            else:
                qty, basis = volume(service)
            c = Charge(a.id, a.building_id, a.electricity_sources, service, basis, qty, t.unit, t.price_rub, a.area)
            c.lines.append(Line("consumption", _rub(qty * t.price_rub), qty, t.unit,
                                details={"basis": basis, "price_rub": str(t.price_rub), "residents": a.residents,
                                         "area_m2": str(a.area)}))
            charges.append(c)
    return charges


def _common_lines(charges: list[Charge], accounts: list[Account],
                  building_vol: dict[tuple[int, str], Decimal | None]) -> None:
    """The common share (ОДН) of buildings with a meter of the service, by area, never negative."""
    building_area: dict[int, Decimal] = defaultdict(Decimal)
    for a in accounts:
        building_area[a.building_id] += a.area
    by_building_service: dict[tuple[int, str], list[Charge]] = defaultdict(list)
    for c in charges:
        by_building_service[(c.building_id, c.service)].append(c)
    for (bid, service), vb in building_vol.items():
        group = by_building_service.get((bid, service))
        if vb is None or not group or service not in ("cold_water", "hot_water", "electricity", "gas"):
            continue
        flats = sum((c.quantity for c in group), Decimal("0"))
        common = vb - flats
        if common <= 0:
            continue
        for c in group:
            share = Fraction(c.area) / Fraction(building_area[bid])
            qty = _q4(Fraction(common) * share)
            c.lines.append(Line("common", _rub(qty * c.price), qty, c.unit, details={
                "building_volume": str(vb), "flats_volume": str(flats), "common_volume": str(common),
                "area_share": str(round_half_up(share, 6))}))


def _reduction_lines(charges: list[Charge], period: str, intervals: dict[tuple[int, str], list[Interval]],
                     rules: BillingRules, now: datetime) -> None:
    for c in charges:
        iv = intervals.get((c.building_id, c.service))
        if not iv or c.charged <= 0:
            continue
        rub, oids, details = _reduction_line(c, period, iv, rules, now)
        if rub > 0:
            c.lines.append(Line("reduction", -rub, Decimal(details["excess_h"]), "h", oids, details))


def compute_charges(data: PeriodData, book: TariffBook, rules: BillingRules, *, now: datetime) -> PeriodResult:
    """The charges of ``data.period`` from plain data (no database): consumption, common share, reduction
    for the month's outages, corrections of closed earlier months (see the module)."""
    flat_vol, building_vol = _volumes(data.meters)
    charges = _consumption(data.accounts, flat_vol, book, period_first_day(data.period, rules))
    _common_lines(charges, data.accounts, building_vol)
    _reduction_lines(charges, data.period, data.intervals, rules, now)
    result = PeriodResult(data.period, charges)
    _corrections(result, data.closed, rules, now)
    return result


# The charges of closed month :q with what was corrected for it since (correction lines of later months
# but the one being computed, :p). One pass over charge_lines, grouped, then joined — not a correlated
# subquery per charge: on tables never analysed (autovacuum off) the planner ran that subquery as a
# parallel full scan of charge_lines for every charge (a rerun over 15 minutes, issue 22). MATERIALIZED
# makes "once" a guarantee whatever the statistics say.
CORRECTIONS_SQL = """
    WITH corrected AS MATERIALIZED (
        SELECT c2.account_id, c2.service, sum(l.amount_rub) AS amount
        FROM charge_lines l JOIN charges c2 ON c2.id = l.charge_id
        WHERE l.kind = 'correction' AND l.details->>'for_period' = :qp AND c2.period > :q AND c2.period <> :p
        GROUP BY c2.account_id, c2.service
    )
    SELECT c.account_id, c.service, c.charged_rub, c.reduction_rub, p.building_id, a.electricity_sources,
           COALESCE(k.amount, 0) AS corrected
    FROM charges c JOIN accounts a ON a.id = c.account_id JOIN premises p ON p.id = a.premises_id
    LEFT JOIN corrected k ON k.account_id = c.account_id AND k.service = c.service
    WHERE c.period = :q AND c.charged_rub > 0
"""


def _corrections(result: PeriodResult, closed: list[ClosedMonth], rules: BillingRules, now: datetime) -> None:
    """Correction lines in ``result`` for closed earlier months whose reduction is due differently now."""
    mine = {(c.account_id, c.service): c for c in result.charges}
    for month in closed:
        for k in month.charges:
            iv = month.intervals.get((k.building_id, k.service))
            due = Decimal("0")
            oids: tuple[int, ...] = ()
            details: dict[str, Any] = {}
            if iv:
                probe = Charge(k.account_id, k.building_id, k.electricity_sources, k.service, "", Decimal(0), "",
                               Decimal(0), lines=[Line("consumption", k.charged)])
                due, oids, details = _reduction_line(probe, month.period, iv, rules, now)
            # granted so far: the month's reduction and the refunds (negative corrections) since
            amount = -(due - k.reduced) - k.corrected
            if amount == 0:
                continue
            target = mine.get((k.account_id, k.service))
            if target is None:
                result.corrections_without_charge += 1
                continue
            target.lines.append(Line("correction", amount, None, None, oids, {
                "for_period": month.period, "reduction_due_rub": str(due), "reduction_granted_rub": str(k.reduced),
                "corrected_before_rub": str(k.corrected), **({"recalculation": details} if details else {})}))


def write_period(conn: Connection, first: date, result: PeriodResult, *, actor: str, now: datetime) -> None:
    """Replace the draft month's charges with ``result`` (in ``conn``'s transaction)."""
    conn.execute(text("""
        INSERT INTO billing_periods (period, state, computed_at, computed_by) VALUES (:p, 'draft', :now, :who)
        ON CONFLICT (period) DO UPDATE SET computed_at = EXCLUDED.computed_at, computed_by = EXCLUDED.computed_by
    """), {"p": first, "now": now, "who": actor})
    conn.execute(text("DELETE FROM charges WHERE period = :p"), {"p": first})
    n = len(result.charges)
    if not n:
        return
    ids = [r[0] for r in conn.execute(text(
        "SELECT nextval('charges_id_seq') FROM generate_series(1, :n)"), {"n": n})]
    raw = conn.connection.driver_connection
    with raw.cursor() as cur:
        with cur.copy("COPY charges (id, period, account_id, service, basis, quantity, unit, price_rub, charged_rub, "
                      "reduction_rub, correction_rub, total_rub) FROM STDIN") as copy:
            for cid, c in zip(ids, result.charges):
                charged, reduction, correction, total = c.sums()
                if reduction > charged:
                    raise BillingError(f"account {c.account_id} {c.service}: reduction exceeds the charge")
                copy.write_row((cid, first, c.account_id, c.service, c.basis, c.quantity, c.unit, c.price,
                                charged, reduction, correction, total))
        with cur.copy("COPY charge_lines (charge_id, kind, quantity, unit, amount_rub, outage_ids, details) "
                      "FROM STDIN") as copy:
            for cid, c in zip(ids, result.charges):
                for ln in c.lines:
                    copy.write_row((cid, ln.kind, ln.quantity, ln.unit, ln.amount, list(ln.outage_ids),
                                    json.dumps(ln.details, ensure_ascii=False)))


def analyze_charges(conn: Connection) -> None:
    """Statistics for the planner after a bulk write of charges (autovacuum may be off: nothing else would
    ever analyse them, and plans over never-analysed tables are guesses)."""
    conn.execute(text("ANALYZE charges, charge_lines, billing_periods"))
