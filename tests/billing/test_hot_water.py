"""Hot water below the norm (billing/hot_water.py) on hand-computed cases.

Norm 60 °C; allowed deviation 3 °C by day, 5 °C at night (00:00–05:00 local); each full 3 °C
beyond it takes 0.1 % of the month's charge per hour; below 40 °C → cold-water tariff.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from fractions import Fraction

import pytest

from billing.errors import BillingError, InvalidInterval
from billing.hot_water import (
    TemperatureRecord,
    deviation_steps,
    hot_water_temperature_reduction,
)
from billing.rules_file import DEFAULT_RULES_FILE, BillingRules, load_billing_rules


@pytest.fixture(scope="module")
def moscow() -> BillingRules:
    return load_billing_rules()


@pytest.fixture(scope="module")
def helsinki() -> BillingRules:
    return load_billing_rules(DEFAULT_RULES_FILE.parent / "helsinki.yaml")


def rec(start: str, end: str, temp: object) -> TemperatureRecord:
    return TemperatureRecord(datetime.fromisoformat(start), datetime.fromisoformat(end), temp)  # type: ignore[arg-type]


@pytest.mark.parametrize(("temp", "night", "steps"), [
    (60, False, 0), (57, False, 0), (55, False, 0),      # within 3 °C, or beyond by < 3 °C
    (54, False, 1), (52, False, 1), (51, False, 2), (50.9, False, 2), (48, False, 3),
    (55, True, 0), (53, True, 0), (52, True, 1), (49, True, 2), (48.5, True, 2),
    (65, False, 0), (Decimal("53.99"), False, 1),
])
def test_deviation_steps(temp: object, night: bool, steps: int, moscow: BillingRules) -> None:
    assert deviation_steps(temp, night=night, params=moscow.hot_water_temperature) == steps  # type: ignore[arg-type]


def test_one_day_hour_at_54_takes_a_tenth_of_a_percent(moscow: BillingRules) -> None:
    r = hot_water_temperature_reduction([rec("2024-03-04T12:00+03:00", "2024-03-04T13:00+03:00", 54)],
                                        period="2024-03", charge_rub=1000, rules=moscow)
    assert r.reduction_pct == Fraction(1, 10) and r.reduction_rub == Decimal("1.00")
    assert r.cold_water_tariff_h == 0 and len(r.pieces) == 1 and not r.pieces[0].night


def test_a_record_across_the_night_is_split_at_midnight_and_five(moscow: BillingRules) -> None:
    # 53 °C from 22:00 to 07:00 Moscow: day 22–24 (1 step, 2 h), night 0–5 (0 steps), day 5–7 (1 step, 2 h)
    r = hot_water_temperature_reduction([rec("2024-03-04T22:00+03:00", "2024-03-05T07:00+03:00", 53)],
                                        period="2024-03", charge_rub=2500, rules=moscow)
    assert [(p.night, p.steps, p.hours) for p in r.pieces] == [(False, 1, 2), (True, 0, 5), (False, 1, 2)]
    assert r.reduction_pct == Fraction(2, 5) and r.reduction_rub == Decimal("10.00")


def test_the_night_is_local_time_of_the_rules_zone(helsinki: BillingRules) -> None:
    # 52 °C, 01:00–04:00 UTC = 03:00–06:00 Helsinki (+02:00 in January): 2 h night (1 step) + 1 h day (1 step)
    r = hot_water_temperature_reduction([rec("2024-01-10T01:00Z", "2024-01-10T04:00Z", 52)],
                                        period="2024-01", charge_rub=1000, rules=helsinki)
    assert [(p.night, p.hours) for p in r.pieces] == [(True, 2), (False, 1)]
    # 53 °C in the same hours: the night part is within the allowance, only the day hour counts
    r = hot_water_temperature_reduction([rec("2024-01-10T01:00Z", "2024-01-10T04:00Z", 53)],
                                        period="2024-01", charge_rub=1000, rules=helsinki)
    assert r.reduction_pct == Fraction(1, 10)


def test_minutes_count_exactly_and_hourly_records_add_up(moscow: BillingRules) -> None:
    hours = [rec(f"2024-03-04T{h:02d}:00+03:00", f"2024-03-04T{h + 1:02d}:00+03:00", 51) for h in range(10, 14)]
    hours.append(rec("2024-03-04T14:00+03:00", "2024-03-04T14:30+03:00", 48))  # 3 steps, half an hour
    r = hot_water_temperature_reduction(hours, period="2024-03", charge_rub=1000, rules=moscow)
    # 4 h × 0.2 % + 0.5 h × 0.3 % = 0.95 %
    assert r.reduction_pct == Fraction(95, 100) and r.reduction_rub == Decimal("9.50")


def test_below_40_is_billed_as_cold_water_not_reduced(moscow: BillingRules) -> None:
    r = hot_water_temperature_reduction([
        rec("2024-03-04T10:00+03:00", "2024-03-04T13:00+03:00", 39),
        rec("2024-03-04T13:00+03:00", "2024-03-04T14:00+03:00", 40),   # 40 °C itself is hot water: 20 − 3 = 17 → 5 steps
    ], period="2024-03", charge_rub=1000, rules=moscow)
    assert r.cold_water_tariff_h == 3
    assert r.cold_water_tariff_intervals == ((datetime.fromisoformat("2024-03-04T07:00+00:00"),
                                              datetime.fromisoformat("2024-03-04T10:00+00:00")),)
    assert r.reduction_pct == Fraction(5, 10) and r.reduction_rub == Decimal("5.00")


def test_records_are_clipped_to_the_month_and_capped(moscow: BillingRules) -> None:
    # 41 °C is 5 steps by day (19 − 3 = 16), 4 at night (19 − 5 = 14): April's 720 h would far exceed 100 %
    r = hot_water_temperature_reduction([rec("2024-03-31T00:00+03:00", "2024-05-02T00:00+03:00", 41)],
                                        period="2024-04", charge_rub=Decimal("812.34"), rules=moscow)
    assert sum(p.hours for p in r.pieces) == 720
    assert r.reduction_pct == 100 and r.reduction_rub == Decimal("812.34")
    outside = hot_water_temperature_reduction([rec("2024-03-01T00:00+03:00", "2024-03-02T00:00+03:00", 41)],
                                              period="2024-04", charge_rub=100, rules=moscow)
    assert outside.pieces == () and outside.reduction_rub == Decimal("0.00")


def test_half_up_kopecks(moscow: BillingRules) -> None:
    # 1 h at 54 °C → 0.1 %; 5 × 0.001 = 0.005 → 0.01
    r = hot_water_temperature_reduction([rec("2024-03-04T12:00+03:00", "2024-03-04T13:00+03:00", 54)],
                                        period="2024-03", charge_rub=5, rules=moscow)
    assert r.reduction_rub == Decimal("0.01")


def test_bad_records_are_refused(moscow: BillingRules) -> None:
    with pytest.raises(InvalidInterval, match="overlap"):
        hot_water_temperature_reduction([rec("2024-03-04T12:00+03:00", "2024-03-04T14:00+03:00", 50),
                                         rec("2024-03-04T13:00+03:00", "2024-03-04T15:00+03:00", 50)],
                                        period="2024-03", charge_rub=5, rules=moscow)
    with pytest.raises(InvalidInterval, match="before start"):
        hot_water_temperature_reduction([rec("2024-03-04T12:00+03:00", "2024-03-04T11:00+03:00", 50)],
                                        period="2024-03", charge_rub=5, rules=moscow)
    with pytest.raises(InvalidInterval, match="no time zone offset"):
        hot_water_temperature_reduction([(datetime(2024, 3, 4, 12), datetime(2024, 3, 4, 13), 50)],
                                        period="2024-03", charge_rub=5, rules=moscow)
    with pytest.raises(BillingError, match="temperature"):
        hot_water_temperature_reduction([rec("2024-03-04T12:00+03:00", "2024-03-04T13:00+03:00", "hot")],
                                        period="2024-03", charge_rub=5, rules=moscow)
    with pytest.raises(BillingError, match="charge_rub"):
        hot_water_temperature_reduction([], period="2024-03", charge_rub=-5, rules=moscow)
