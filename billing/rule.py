"""The ПП № 354 fee recalculation for interruptions — pure functions (no database, no clock).

Per account, service and month (a calendar month in the region's time zone):

- interruption hours = the length of the **union** of the interruption intervals clipped to the
  month (overlapping, nested or repeated outages count once);
- excess = interruption hours − the monthly allowance of the service (never below 0; whole hours
  only, rounded down, when the rules file says ``excess_whole_hours: true``);
- reduction = charge × 0.15 % × excess hours, never more than the whole charge.

Arithmetic is exact (``fractions.Fraction`` over integer microseconds and ``Decimal`` charges);
rounding happens once, at the edge: hours to 4 decimals, roubles half-up to kopecks
(:func:`round_half_up`). The hot-water temperature rule lives in :mod:`billing.hot_water`.
"""
from __future__ import annotations

import json
import math
import re
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from billing.errors import BillingError, InvalidInterval, InvalidPeriod, UnknownService
from billing.rules_file import BillingRules

__all__ = ["SERVICES", "SERVICE_ALIASES", "Recalculation", "UnionResult", "allowance_h", "aware_utc",
           "canonical_service", "check_charge", "format_number", "hours_of", "month_bounds",
           "outage_union", "recalculate", "round_half_up", "union_in_period"]

#: The project's resource names (``networks.resource`` / ``incidents.resource``) that ПП 354 regulates.
SERVICES: tuple[str, ...] = ("cold_water", "hot_water", "sewer", "heating", "gas", "electricity")
#: Other names accepted for the same services.
SERVICE_ALIASES: dict[str, str] = {"sewerage": "sewer", "wastewater": "sewer"}

_PERIOD = re.compile(r"([0-9]{4})-([0-9]{2})")
_US_PER_HOUR = 3_600_000_000
_ONE_US = timedelta(microseconds=1)


def canonical_service(name: str) -> str:
    """The project's name of service ``name`` (``sewerage`` → ``sewer``); ``UnknownService`` otherwise."""
    if isinstance(name, str):
        if name in SERVICES:
            return name
        if name in SERVICE_ALIASES:
            return SERVICE_ALIASES[name]
    shown = repr(name) if not isinstance(name, str) else _quote(name)
    raise UnknownService(f"unknown service {shown} (expected one of {', '.join(SERVICES)}; "
                         f"also {', '.join(SERVICE_ALIASES)})")


def _quote(text: str, limit: int = 60) -> str:
    """``text`` as a one-line JSON string, shortened to about ``limit`` characters."""
    shown = json.dumps(text[:limit])
    return shown + ("…" if len(text) > limit else "")


def month_bounds(period: str | date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Start (inclusive) and end (exclusive) of month ``period`` (``YYYY-MM``, or a ``date`` in
    the month, e.g. ``billing_periods.period``) in ``zone``, in UTC.

    Local midnights are taken with the zone's rules, so a month with a daylight-saving change is
    an hour shorter (March) or longer (October) than its days × 24.
    """
    if isinstance(period, date) and not isinstance(period, datetime):
        period = f"{period.year:04d}-{period.month:02d}"
    m = _PERIOD.fullmatch(period) if isinstance(period, str) else None
    if m is None:
        shown = _quote(period) if isinstance(period, str) else json.dumps(period, default=str)[:60]
        raise InvalidPeriod(f"period must be YYYY-MM, got {shown}")
    year, month = int(m.group(1)), int(m.group(2))
    if not 1 <= month <= 12:
        raise InvalidPeriod(f"period {_quote(period)}: month must be 01..12")
    if not 1900 <= year <= 9998:
        raise InvalidPeriod(f"period {_quote(period)}: year must be 1900..9998")
    nxt = (year + 1, 1) if month == 12 else (year, month + 1)
    start = datetime(year, month, 1, tzinfo=zone).astimezone(UTC)
    end = datetime(*nxt, 1, tzinfo=zone).astimezone(UTC)
    return start, end


def aware_utc(value: Any, what: str) -> datetime:
    """``value`` in UTC; ``InvalidInterval`` (naming ``what``) when it is naive or not a datetime."""
    if not isinstance(value, datetime):
        raise InvalidInterval(f"{what} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInterval(f"{what} {value.isoformat()} has no time zone offset")
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise InvalidInterval(f"{what} {value.isoformat()} is out of range") from None


@dataclass(frozen=True)
class UnionResult:
    """The union of interruption intervals within one period.

    ``duration_us`` is its exact length in microseconds; ``merged`` the disjoint pieces (UTC,
    ordered); ``sources`` the ids of the intervals that lie at least partly inside the period
    (in input order, each once) — the outages a reduction line names.
    """

    duration_us: int
    merged: tuple[tuple[datetime, datetime], ...]
    sources: tuple[Hashable, ...]

    @property
    def hours(self) -> Fraction:
        return Fraction(self.duration_us, _US_PER_HOUR)


def union_in_period(
    intervals: Iterable[Sequence[Any]],
    start: datetime,
    end: datetime,
    *,
    now: datetime | None = None,
) -> UnionResult:
    """The union of ``intervals`` clipped to ``[start, end)``.

    Each interval is ``(start, end)`` or ``(start, end, source_id)`` with time zone-aware
    datetimes. An interval still open (``end`` is ``None``, an outage not yet restored) lasts
    until ``now``; without ``now`` it is an error. An interval without a start (never began) is
    skipped. ``InvalidInterval`` for a naive time or an end before the start.
    """
    p_start, p_end = aware_utc(start, "period start"), aware_utc(end, "period end")
    now_utc = aware_utc(now, "now") if now is not None else None
    pieces: list[tuple[datetime, datetime]] = []
    sources: list[Hashable] = []
    for n, interval in enumerate(intervals):
        if len(interval) not in (2, 3):
            raise InvalidInterval(f"interval {n}: expected (start, end[, source_id]), got {len(interval)} values")
        source = interval[2] if len(interval) == 3 else None
        label = f"interval {n}" + (f" (source {source!r})" if source is not None else "")
        if interval[0] is None:
            continue
        a = aware_utc(interval[0], f"{label}: start")
        if interval[1] is None:
            if now_utc is None:
                raise InvalidInterval(f"{label}: no end and no 'now' to close it at")
            b = max(a, now_utc)
        else:
            b = aware_utc(interval[1], f"{label}: end")
        if b < a:
            raise InvalidInterval(f"{label}: end {b.isoformat()} is before start {a.isoformat()}")
        a, b = max(a, p_start), min(b, p_end)
        if b <= a:
            continue
        pieces.append((a, b))
        if source is not None and source not in sources:
            sources.append(source)
    pieces.sort()
    merged: list[tuple[datetime, datetime]] = []
    for a, b in pieces:
        if merged and a <= merged[-1][1]:
            if b > merged[-1][1]:
                merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    total = sum(((b - a) // _ONE_US for a, b in merged), 0)
    return UnionResult(duration_us=total, merged=tuple(merged), sources=tuple(sources))


def outage_union(
    intervals: Iterable[Sequence[Any]],
    period: str | date,
    rules: BillingRules,
    *,
    now: datetime | None = None,
) -> UnionResult:
    """Union hours of ``(start, end, outage_id)`` intervals within month ``period`` of the
    rules' time zone, and the outage ids that contributed (``.hours``, ``.sources``).

    For ``billing run``: an outage still active (``actual_end`` NULL) lasts until ``now`` and
    is then clipped to the month end; one that never started (``actual_start`` NULL) is skipped.
    """
    start, end = month_bounds(period, rules.zone)
    return union_in_period(intervals, start, end, now=now)


def allowance_h(service: str, rules: BillingRules, *, electricity_sources: int | None = None) -> Fraction:
    """The monthly allowance (hours) of ``service``.

    Electricity: 2 h with two independent sources, 24 h with one (ПП 354 Прил. 1 п. 9);
    ``None`` means the rules file's ``electricity_sources_default``. Other services ignore
    ``electricity_sources``.
    """
    service = canonical_service(service)
    a = rules.allowances_month_h
    if service == "electricity":
        sources = rules.electricity_sources_default if electricity_sources is None else electricity_sources
        if isinstance(sources, bool) or sources not in (1, 2):
            raise BillingError(f"electricity_sources must be 1 or 2, got {sources!r}")
        return Fraction(a.electricity.two_sources_h if sources == 2 else a.electricity.one_source_h)
    return Fraction(getattr(a, service))


def hours_of(duration_us: int) -> Fraction:
    """Exact hours of a duration in microseconds."""
    return Fraction(duration_us, _US_PER_HOUR)


def round_half_up(value: Fraction | Decimal | int, places: int) -> Decimal:
    """``value`` rounded to ``places`` decimals, halves away from zero (0.125 → 0.13)."""
    x = value if isinstance(value, Fraction) else Fraction(value)
    num, den = abs(x.numerator), x.denominator
    n = (2 * num * 10**places + den) // (2 * den)  # floor(|x| · 10^places + 1/2), in integers
    return Decimal(-n if x < 0 else n).scaleb(-places)


def format_number(value: Decimal) -> str:
    """A JSON number for ``value``: plain notation, trailing zeros dropped, at least one decimal."""
    text = format(value.normalize(), "f")
    if text in ("-0", "-0.0"):
        text = "0"
    return text if "." in text else text + ".0"


@dataclass(frozen=True)
class Recalculation:
    """The recalculation of one account's service for one month (exact values).

    ``interruption_h`` the union clipped to the month; ``allowance_h`` the monthly allowance;
    ``excess_h`` what counts (whole hours when the rules say so); ``reduction_pct`` percent of
    the charge (≤ 100); ``reduction_rub`` roubles, half-up to kopecks (≤ the charge);
    ``outage_ids`` the sources of the intervals inside the month.
    """

    service: str
    period: str | date
    charge_rub: Decimal
    interruption_h: Fraction
    allowance_h: Fraction
    excess_h: Fraction
    reduction_pct: Fraction
    reduction_rub: Decimal
    outage_ids: tuple[Hashable, ...]

    def rounded(self) -> dict[str, Decimal]:
        """The figures as printed: hours to 4 decimals, percent to 6, roubles to kopecks."""
        return {
            "interruption_h": round_half_up(self.interruption_h, 4),
            "allowance_h": round_half_up(self.allowance_h, 4),
            "excess_h": round_half_up(self.excess_h, 4),
            "reduction_pct": round_half_up(self.reduction_pct, 6),
            "reduction_rub": self.reduction_rub,
        }


def check_charge(charge_rub: Any) -> Decimal:
    """``charge_rub`` as a ``Decimal``: a finite, non-negative number of roubles (not a bool/str)."""
    if isinstance(charge_rub, bool) or not isinstance(charge_rub, (int, float, Decimal)):
        raise BillingError(f"charge_rub must be a number, got {type(charge_rub).__name__}")
    charge = Decimal(str(charge_rub)) if isinstance(charge_rub, float) else Decimal(charge_rub)
    if not charge.is_finite():
        raise BillingError(f"charge_rub must be a finite number, got {charge}")
    if charge < 0:
        raise BillingError(f"charge_rub must not be negative, got {charge}")
    if charge.adjusted() > 15:
        raise BillingError(f"charge_rub is implausibly large ({charge:.3e} roubles)")
    if charge and charge.as_tuple().exponent < -12:  # type: ignore[operator]
        charge = charge.quantize(Decimal("1e-12"))
    return charge


def recalculate(
    *,
    service: str,
    period: str | date,
    charge_rub: Decimal | int | float,
    intervals: Iterable[Sequence[Any]],
    rules: BillingRules,
    electricity_sources: int | None = None,
    now: datetime | None = None,
) -> Recalculation:
    """The ПП 354 reduction of one account's ``service`` charge for month ``period``.

    ``intervals``: when the account's building was cut off from the service — ``(start, end)``
    or ``(start, end, outage_id)``, time zone-aware; an open one (``end`` ``None``) lasts until
    ``now`` (see :func:`union_in_period`). Raises a :class:`~billing.errors.BillingError`
    subclass naming the problem.
    """
    service = canonical_service(service)
    charge = check_charge(charge_rub)
    allowance = allowance_h(service, rules, electricity_sources=electricity_sources)
    start, end = month_bounds(period, rules.zone)
    union = union_in_period(intervals, start, end, now=now)
    interruption = union.hours
    excess = max(Fraction(0), interruption - allowance)
    if rules.excess_whole_hours:
        excess = Fraction(math.floor(excess))
    pct = min(Fraction(100), Fraction(rules.reduction_pct_per_hour) * excess)
    rub = min(Fraction(charge), Fraction(charge) * pct / 100)
    return Recalculation(
        service=service, period=period, charge_rub=charge, interruption_h=interruption,
        allowance_h=allowance, excess_h=excess, reduction_pct=pct,
        reduction_rub=round_half_up(rub, 2), outage_ids=union.sources,
    )
