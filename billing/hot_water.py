"""Hot water below the norm (ПП № 354 Прил. 1 п. 5) — a pure function of temperature records.

The norm at the draw-off point is ``norm_c`` (60 °C). The allowed deviation is 5 °C at night
(00:00–05:00 local time) and 3 °C by day. For each **full** 3 °C of deviation beyond the allowed
one, the month's hot-water charge is reduced by 0.1 % per hour. While the water is below 40 °C
it is billed at the cold-water tariff instead: those hours are flagged (``cold_water_tariff``)
and take no percentage reduction, so one hour is never compensated twice.

Example (day, norm 60 °C, allowed 3 °C): 54 °C → deviation 6, beyond 3 → 1 step → 0.1 %/h;
52 °C → beyond 5 → still 1 step; 51 °C → beyond 6 → 2 steps → 0.2 %/h; 39 °C → cold tariff.
All parameters come from the rules file (``hot_water_temperature``).
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

from billing.errors import BillingError, InvalidInterval
from billing.rule import aware_utc, check_charge, hours_of, month_bounds, round_half_up
from billing.rules_file import BillingRules, HotWaterTemperature

__all__ = ["HotWaterTemperatureResult", "TemperaturePiece", "TemperatureRecord",
           "deviation_steps", "hot_water_temperature_reduction"]

_ONE_US = timedelta(microseconds=1)


@dataclass(frozen=True)
class TemperatureRecord:
    """The hot-water temperature measured over ``[start, end)`` (time zone-aware)."""

    start: datetime
    end: datetime
    temperature_c: Decimal | float | int


@dataclass(frozen=True)
class TemperaturePiece:
    """A part of a record inside the month that lies wholly by day or wholly at night (UTC)."""

    start: datetime
    end: datetime
    temperature_c: Decimal
    night: bool
    steps: int
    hours: Fraction
    reduction_pct: Fraction
    cold_water_tariff: bool


@dataclass(frozen=True)
class HotWaterTemperatureResult:
    """Exact percent (≤ 100) and roubles (half-up to kopecks, ≤ the charge) of the reduction,
    and the hours to bill at the cold-water tariff; ``pieces`` shows the working."""

    reduction_pct: Fraction
    reduction_rub: Decimal
    cold_water_tariff_h: Fraction
    pieces: tuple[TemperaturePiece, ...]

    @property
    def cold_water_tariff_intervals(self) -> tuple[tuple[datetime, datetime], ...]:
        return tuple((p.start, p.end) for p in self.pieces if p.cold_water_tariff)


def _celsius(value: Any, what: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise BillingError(f"{what}: temperature must be a number, got {type(value).__name__}")
    t = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    if not t.is_finite() or not -50 <= t <= 150:
        raise BillingError(f"{what}: temperature {value} °C is not plausible")
    return t


def deviation_steps(temperature_c: Decimal | float | int, *, night: bool, params: HotWaterTemperature) -> int:
    """Full ``step_c`` steps of deviation below the norm beyond the allowed deviation (≥ 0)."""
    t = _celsius(temperature_c, "temperature")
    allowed = params.allowed_deviation_night_c if night else params.allowed_deviation_day_c
    beyond = params.norm_c - t - allowed
    return max(0, math.floor(beyond / params.step_c)) if beyond > 0 else 0


def _day_night_cuts(a: datetime, b: datetime, rules: BillingRules) -> list[datetime]:
    """The local night start/end instants strictly inside ``(a, b)`` (UTC)."""
    zone, p = rules.zone, rules.hot_water_temperature
    cuts: list[datetime] = []
    day = a.astimezone(zone).date() - timedelta(days=1)
    last = b.astimezone(zone).date()
    while day <= last:
        midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
        for h in (p.night_from_hour, p.night_to_hour):
            # aware + timedelta is wall-clock arithmetic: h o'clock on the local clock, DST or not
            t = (midnight + timedelta(hours=h)).astimezone(UTC)
            if a < t < b:
                cuts.append(t)
        day += timedelta(days=1)
    return sorted(set(cuts))


def _is_night(at: datetime, rules: BillingRules) -> bool:
    p = rules.hot_water_temperature
    return p.night_from_hour <= at.astimezone(rules.zone).hour < p.night_to_hour


def _records(records: Iterable[Any]) -> list[tuple[datetime, datetime, Decimal, int]]:
    out = []
    for n, r in enumerate(records):
        if isinstance(r, TemperatureRecord):
            start, end, temp = r.start, r.end, r.temperature_c
        else:
            try:
                start, end, temp = r
            except (TypeError, ValueError):
                raise BillingError(f"record {n}: expected (start, end, temperature_c)") from None
        a, b = aware_utc(start, f"record {n}: start"), aware_utc(end, f"record {n}: end")
        if b < a:
            raise InvalidInterval(f"record {n}: end {b.isoformat()} is before start {a.isoformat()}")
        out.append((a, b, _celsius(temp, f"record {n}"), n))
    out.sort()
    for (a0, b0, _, n0), (a1, _, _, n1) in zip(out, out[1:]):
        if a1 < b0:
            raise InvalidInterval(f"records {n0} and {n1} overlap (two temperatures for one time)")
    return out


def hot_water_temperature_reduction(
    records: Iterable[TemperatureRecord | tuple[datetime, datetime, Any]],
    *,
    period: str | date,
    charge_rub: Decimal | int | float,
    rules: BillingRules,
) -> HotWaterTemperatureResult:
    """The reduction of the month's hot-water charge for water below the norm.

    ``records``: temperatures at the draw-off point over intervals (hourly readings or longer
    spans), time zone-aware and not overlapping; the parts outside month ``period`` (rules' time
    zone) are ignored. Each record is split at the local night boundaries (00:00, 05:00); a
    piece reduces ``0.1 % × steps × hours`` (exact hours) unless it is below 40 °C, which is
    flagged for the cold-water tariff instead. The total is capped at 100 % of the charge.
    """
    params = rules.hot_water_temperature
    charge = check_charge(charge_rub)
    m_start, m_end = month_bounds(period, rules.zone)
    pieces: list[TemperaturePiece] = []
    for a, b, temp, _ in _records(records):
        a, b = max(a, m_start), min(b, m_end)
        if b <= a:
            continue
        bounds = [a, *_day_night_cuts(a, b, rules), b]
        for p_start, p_end in zip(bounds, bounds[1:]):
            night = _is_night(p_start, rules)
            steps = deviation_steps(temp, night=night, params=params)
            hours = hours_of((p_end - p_start) // _ONE_US)
            cold = temp < params.cold_water_below_c
            pct = Fraction(0) if cold else Fraction(params.reduction_pct_per_step_hour) * steps * hours
            pieces.append(TemperaturePiece(start=p_start, end=p_end, temperature_c=temp, night=night,
                                           steps=steps, hours=hours, reduction_pct=pct, cold_water_tariff=cold))
    pct = min(Fraction(100), sum((p.reduction_pct for p in pieces), Fraction(0)))
    rub = min(Fraction(charge), Fraction(charge) * pct / 100)
    cold_h = sum((p.hours for p in pieces if p.cold_water_tariff), Fraction(0))
    return HotWaterTemperatureResult(reduction_pct=pct, reduction_rub=round_half_up(rub, 2),
                                     cold_water_tariff_h=cold_h, pieces=tuple(pieces))
