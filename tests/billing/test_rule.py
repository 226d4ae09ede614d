"""The pure ПП 354 rule (billing/rule.py) and its rules files, on hand-computed cases."""
from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

from billing.errors import (
    BillingError,
    InvalidInterval,
    InvalidPeriod,
    InvalidRules,
    UnknownService,
)
from billing.rule import (
    allowance_h,
    canonical_service,
    format_number,
    month_bounds,
    outage_union,
    recalculate,
    round_half_up,
    union_in_period,
)
from billing.rules_file import DEFAULT_RULES_FILE, BillingRules, load_billing_rules

RULES_DIR = DEFAULT_RULES_FILE.parent


@pytest.fixture(scope="module")
def moscow() -> BillingRules:
    return load_billing_rules()


@pytest.fixture(scope="module")
def helsinki() -> BillingRules:
    return load_billing_rules(RULES_DIR / "helsinki.yaml")


def t(text: str) -> datetime:
    return datetime.fromisoformat(text)


def iv(start: str, end: str | None, source: object = None) -> tuple:
    return (t(start), t(end) if end else None) if source is None else (t(start), t(end) if end else None, source)


def calc(rules: BillingRules, service: str, period: str, charge: object, intervals: list, **kw: object):
    return recalculate(service=service, period=period, charge_rub=charge, intervals=intervals, rules=rules, **kw)


# ---- union of intervals

def test_overlapping_outages_count_once(moscow: BillingRules) -> None:
    # 08:00–20:00 and 18:00–22:30 → 08:00–22:30 = 14.5 h; cold water: 14.5 − 8 = 6.5 h excess
    r = calc(moscow, "cold_water", "2024-01", 1000, [
        iv("2024-01-10T08:00:00+03:00", "2024-01-10T20:00:00+03:00"),
        iv("2024-01-10T18:00:00+03:00", "2024-01-10T22:30:00+03:00"),
    ])
    assert r.interruption_h == Fraction(29, 2)
    assert r.allowance_h == 8 and r.excess_h == Fraction(13, 2)
    assert r.reduction_pct == Fraction(39, 40)  # 0.15 × 6.5 = 0.975 %
    assert r.reduction_rub == Decimal("9.75")


def test_nested_and_duplicated_outages_count_once(moscow: BillingRules) -> None:
    r = calc(moscow, "hot_water", "2024-01", 200, [
        iv("2024-01-05T00:00+03:00", "2024-01-05T10:00+03:00"),
        iv("2024-01-05T02:00+03:00", "2024-01-05T03:00+03:00"),   # inside the first
        iv("2024-01-05T00:00+03:00", "2024-01-05T10:00+03:00"),   # the same again
    ])
    assert r.interruption_h == 10 and r.excess_h == 2
    assert r.reduction_pct == Fraction(3, 10) and r.reduction_rub == Decimal("0.60")


def test_adjacent_outages_add_up_and_merge() -> None:
    u = union_in_period([iv("2024-01-05T00:00Z", "2024-01-05T05:00Z"), iv("2024-01-05T05:00Z", "2024-01-05T09:00Z")],
                        t("2024-01-01T00:00Z"), t("2024-02-01T00:00Z"))
    assert u.hours == 9 and len(u.merged) == 1


def test_zero_length_and_outside_intervals_count_nothing(moscow: BillingRules) -> None:
    r = calc(moscow, "gas", "2024-01", 100, [
        iv("2024-01-05T10:00+03:00", "2024-01-05T10:00+03:00"),
        iv("2023-12-05T10:00+03:00", "2023-12-31T23:59+03:00"),
        iv("2024-02-01T00:00+03:00", "2024-02-03T00:00+03:00"),
    ])
    assert r.interruption_h == 0 and r.excess_h == 0 and r.reduction_rub == Decimal("0.00")


def test_minutes_are_exact(moscow: BillingRules) -> None:
    # gas: 4 h allowance; 5 h 7 min → 1 h 7 min excess = 67/60 h; 0.15 × 67/60 = 0.1675 %
    r = calc(moscow, "gas", "2024-05", 1200, [iv("2024-05-02T10:00+03:00", "2024-05-02T15:07+03:00")])
    assert r.excess_h == Fraction(67, 60)
    assert r.reduction_pct == Fraction(67, 400)
    assert r.reduction_rub == Decimal("2.01")  # 1200 × 0.001675 = 2.01
    assert r.rounded()["excess_h"] == Decimal("1.1167")


# ---- month boundaries in the region's time zone

def test_outage_across_midnight_of_the_month_is_split(moscow: BillingRules) -> None:
    # Jan 31 22:00 → Feb 1 04:00 Moscow, written in UTC and in +01:00
    for start, end in (("2024-01-31T19:00:00Z", "2024-02-01T01:00:00Z"),
                       ("2024-01-31T20:00:00+01:00", "2024-02-01T02:00:00+01:00"),
                       ("2024-01-31T22:00:00+03:00", "2024-02-01T04:00:00+03:00")):
        jan = calc(moscow, "cold_water", "2024-01", 100, [iv(start, end)])
        feb = calc(moscow, "cold_water", "2024-02", 100, [iv(start, end)])
        assert (jan.interruption_h, feb.interruption_h) == (2, 4)


def test_the_month_is_taken_in_the_rules_time_zone(moscow: BillingRules, helsinki: BillingRules) -> None:
    # 23:30–23:50 Helsinki on Jan 31 (+02:00) is 00:30–00:50 on Feb 1 in Moscow
    one = [iv("2024-01-31T23:30+02:00", "2024-01-31T23:50+02:00")]
    assert calc(helsinki, "gas", "2024-01", 1, one).interruption_h == Fraction(1, 3)
    assert calc(moscow, "gas", "2024-01", 1, one).interruption_h == 0
    assert calc(moscow, "gas", "2024-02", 1, one).interruption_h == Fraction(1, 3)


def test_dst_months_in_helsinki_are_743_and_745_hours(helsinki: BillingRules) -> None:
    start, end = month_bounds("2024-03", helsinki.zone)
    assert (end - start).total_seconds() == 743 * 3600
    start, end = month_bounds("2024-10", helsinki.zone)
    assert (end - start).total_seconds() == 745 * 3600
    whole = [iv("2024-02-15T00:00Z", "2024-11-15T00:00Z")]
    march = calc(helsinki, "heating", "2024-03", 5000, whole)
    assert march.interruption_h == 743 and march.excess_h == 719
    assert march.reduction_pct == 100 and march.reduction_rub == Decimal("5000.00")
    assert calc(helsinki, "heating", "2024-10", 5000, whole).interruption_h == 745


def test_an_outage_over_the_spring_forward_night_counts_real_hours(helsinki: BillingRules) -> None:
    # 00:00 (+02:00) to 06:00 (+03:00) on 31 March 2024 in Helsinki: the clock skips 03:00→04:00, 5 real hours
    r = calc(helsinki, "electricity", "2024-03", 100, [iv("2024-03-31T00:00+02:00", "2024-03-31T06:00+03:00")],
             electricity_sources=1)
    assert r.interruption_h == 5 and r.excess_h == 0
    # and over the autumn night (04:00 → 03:00 on 27 October): 00:00–06:00 local is 7 hours
    r = calc(helsinki, "electricity", "2024-10", 100, [iv("2024-10-27T00:00+03:00", "2024-10-27T06:00+02:00")],
             electricity_sources=2)
    assert r.interruption_h == 7 and r.excess_h == 5
    assert r.reduction_pct == Fraction(3, 4) and r.reduction_rub == Decimal("0.75")


def test_month_bounds_of_moscow_are_utc_plus_3() -> None:
    from zoneinfo import ZoneInfo

    start, end = month_bounds("2024-12", ZoneInfo("Europe/Moscow"))
    assert start == datetime(2024, 11, 30, 21, tzinfo=UTC) and end == datetime(2024, 12, 31, 21, tzinfo=UTC)
    # a date (billing_periods.period is the month's first day) means its month
    assert month_bounds(date(2024, 12, 1), ZoneInfo("Europe/Moscow")) == (start, end)


@pytest.mark.parametrize("period", ["2024-1", "2024-13", "2024-00", "24-01", "2024/01", "", "2024-01-01",
                                    "1899-12", "9999-12", "２０２４-01"])
def test_bad_periods_are_refused(period: str, moscow: BillingRules) -> None:
    with pytest.raises(InvalidPeriod, match="period"):
        month_bounds(period, moscow.zone)


# ---- the cap, the rate, rounding

def test_the_reduction_never_exceeds_the_charge(moscow: BillingRules) -> None:
    # a whole January without cold water: 744 − 8 = 736 h → 110.4 % → capped at 100 %
    r = calc(moscow, "cold_water", "2024-01", Decimal("1234.56"), [iv("2023-12-25T00:00+03:00", "2024-02-03T00:00+03:00")])
    assert r.interruption_h == 744 and r.excess_h == 736
    assert r.reduction_pct == 100 and r.reduction_rub == Decimal("1234.56")
    # just below the cap: 8 + 666 h excess → 99.9 %
    r = calc(moscow, "cold_water", "2024-01", 1000, [iv("2024-01-01T00:00+03:00", "2024-01-28T18:00+03:00")])
    assert r.interruption_h == 666 and r.reduction_pct == Fraction(987, 10)
    assert r.reduction_rub == Decimal("987.00")


def test_kopecks_round_half_up(moscow: BillingRules) -> None:
    # heating, 24 h + 3 h 20 min → excess 10/3 h → 0.5 %; 29 × 0.005 = 0.145 exactly → 0.15
    # (binary floating point would make it 0.14499999… and round to 0.14)
    r = calc(moscow, "heating", "2024-02", 29, [iv("2024-02-01T00:00+03:00", "2024-02-02T03:20+03:00")])
    assert r.reduction_pct == Fraction(1, 2) and r.reduction_rub == Decimal("0.15")
    # cold water, 8 h 20 min → excess 1/3 h → 0.05 %; 50 × 0.0005 = 0.025 → 0.03 (not banker's 0.02)
    r = calc(moscow, "cold_water", "2024-02", 50, [iv("2024-02-03T00:00+03:00", "2024-02-03T08:20+03:00")])
    assert r.reduction_rub == Decimal("0.03")
    # and just under the half: 49.99 × 0.0005 = 0.024995 → 0.02
    r = calc(moscow, "cold_water", "2024-02", Decimal("49.99"), [iv("2024-02-03T00:00+03:00", "2024-02-03T08:20+03:00")])
    assert r.reduction_rub == Decimal("0.02")


def test_round_half_up_and_format_number() -> None:
    assert round_half_up(Fraction(1, 8), 2) == Decimal("0.13")
    assert round_half_up(Fraction(-1, 8), 2) == Decimal("-0.13")
    assert round_half_up(Fraction(2, 3), 4) == Decimal("0.6667")
    assert round_half_up(Decimal("2.5"), 0) == Decimal("3")
    assert format_number(Decimal("8.0000")) == "8.0"
    assert format_number(Decimal("743.0000")) == "743.0"
    assert format_number(Decimal("0.0000")) == "0.0"
    assert format_number(Decimal("1234.50")) == "1234.5"
    assert format_number(Decimal("1E+3")) == "1000.0"


def test_zero_charge_reduces_nothing(moscow: BillingRules) -> None:
    r = calc(moscow, "gas", "2024-01", 0, [iv("2024-01-02T00:00+03:00", "2024-01-03T00:00+03:00")])
    assert r.excess_h == 20 and r.reduction_pct == 3 and r.reduction_rub == Decimal("0.00")


@pytest.mark.parametrize("charge", [-1, Decimal("-0.01"), float("nan"), float("inf"), Decimal("NaN"),
                                    "100", True, None, Decimal("1e20")])
def test_bad_charges_are_refused(charge: object, moscow: BillingRules) -> None:
    with pytest.raises(BillingError, match="charge_rub"):
        calc(moscow, "gas", "2024-01", charge, [])


# ---- allowances per service

@pytest.mark.parametrize(("service", "sources", "hours"), [
    ("cold_water", None, 8), ("hot_water", None, 8), ("sewer", None, 8), ("sewerage", None, 8),
    ("wastewater", None, 8), ("heating", None, 24), ("gas", None, 4),
    ("electricity", 2, 2), ("electricity", 1, 24), ("electricity", None, 2),
    ("gas", 1, 4),  # electricity_sources means nothing for other services
])
def test_every_service_has_its_allowance(service: str, sources: int | None, hours: int, moscow: BillingRules) -> None:
    assert allowance_h(service, moscow, electricity_sources=sources) == hours
    # and it is what the recalculation subtracts: 30 h of interruption
    r = calc(moscow, service, "2024-04", 1000, [iv("2024-04-10T00:00+03:00", "2024-04-11T06:00+03:00")],
             electricity_sources=sources)
    assert r.interruption_h == 30 and r.excess_h == 30 - hours
    assert r.reduction_rub == round_half_up(Fraction(1000) * Fraction(15, 10000) * (30 - hours), 2)


def test_electricity_sources_other_than_1_or_2_are_refused(moscow: BillingRules) -> None:
    for bad in (0, 3, True, "2"):
        with pytest.raises(BillingError, match="electricity_sources"):
            allowance_h("electricity", moscow, electricity_sources=bad)  # type: ignore[arg-type]


def test_unknown_services_are_refused() -> None:
    for bad in ("water", "Cold_Water", "", "none", "electricity "):
        with pytest.raises(UnknownService, match="unknown service"):
            canonical_service(bad)
    assert canonical_service("sewerage") == "sewer"


# ---- whole hours

def test_whole_hours_option_counts_only_full_hours_of_excess(moscow: BillingRules, tmp_path: Path) -> None:
    rules_file = tmp_path / "whole.yaml"
    rules_file.write_text(f"extends: {DEFAULT_RULES_FILE}\nregion: whole\nexcess_whole_hours: true\n", encoding="utf-8")
    whole = load_billing_rules(rules_file)
    assert whole.excess_whole_hours and whole.time_zone == "Europe/Moscow"
    six_and_a_half = [iv("2024-01-10T08:00+03:00", "2024-01-10T22:30+03:00")]
    exact = calc(moscow, "cold_water", "2024-01", 1000, six_and_a_half)
    floored = calc(whole, "cold_water", "2024-01", 1000, six_and_a_half)
    assert exact.excess_h == Fraction(13, 2) and floored.excess_h == 6
    assert floored.interruption_h == Fraction(29, 2)  # the interruption itself stays exact
    assert floored.reduction_pct == Fraction(9, 10) and floored.reduction_rub == Decimal("9.00")
    # 59 minutes of excess is no full hour
    almost = calc(whole, "gas", "2024-01", 1000, [iv("2024-01-10T08:00+03:00", "2024-01-10T12:59+03:00")])
    assert almost.excess_h == 0 and almost.reduction_rub == Decimal("0.00")


# ---- outage union for `billing run`: sources, open outages

def test_outage_union_names_the_outages_inside_the_month(moscow: BillingRules) -> None:
    u = outage_union([
        iv("2024-03-05T10:00+03:00", "2024-03-05T20:00+03:00", 11),
        iv("2024-03-05T12:00+03:00", "2024-03-05T13:00+03:00", 12),   # nested: still a source
        iv("2024-02-05T12:00+03:00", "2024-02-05T13:00+03:00", 13),   # another month
        iv("2024-03-07T12:00+03:00", "2024-03-07T12:00+03:00", 14),   # zero length
        iv("2024-02-29T23:00+03:00", "2024-03-01T02:00+03:00", 15),   # crosses into the month
        iv("2024-03-05T19:00+03:00", "2024-03-05T21:00+03:00", 11),   # the same outage twice
    ], "2024-03", moscow)
    assert u.hours == 13  # 10:00–21:00 + 00:00–02:00
    assert u.sources == (11, 12, 15)
    r = calc(moscow, "cold_water", "2024-03", 100, [iv("2024-03-05T10:00+03:00", "2024-03-05T20:00+03:00", "o-1"),
                                                    iv("2024-04-05T10:00+03:00", "2024-04-05T20:00+03:00", "o-2")])
    assert r.outage_ids == ("o-1",)


def test_open_outages_last_until_now_and_are_clipped_to_the_month(moscow: BillingRules) -> None:
    now = t("2024-03-05T15:00+03:00")
    u = outage_union([iv("2024-03-05T10:00+03:00", None, 1)], "2024-03", moscow, now=now)
    assert u.hours == 5 and u.sources == (1,)
    later = t("2024-04-10T00:00+03:00")
    u = outage_union([iv("2024-03-31T20:00+03:00", None, 1)], "2024-03", moscow, now=later)
    assert u.hours == 4
    # an outage that never started counts nothing; an open one without `now` is an error
    assert outage_union([(None, None, 3)], "2024-03", moscow).hours == 0
    with pytest.raises(InvalidInterval, match="no end"):
        outage_union([iv("2024-03-05T10:00+03:00", None, 1)], "2024-03", moscow)


def test_bad_intervals_are_refused(moscow: BillingRules) -> None:
    with pytest.raises(InvalidInterval, match="before start"):
        calc(moscow, "gas", "2024-01", 1, [iv("2024-01-05T10:00+03:00", "2024-01-05T09:00+03:00", 7)])
    with pytest.raises(InvalidInterval, match="no time zone offset"):
        calc(moscow, "gas", "2024-01", 1, [(datetime(2024, 1, 5, 10), datetime(2024, 1, 5, 11))])
    # an end before the start is an error even outside the month
    with pytest.raises(InvalidInterval, match="before start"):
        calc(moscow, "gas", "2024-01", 1, [iv("2023-01-05T10:00+03:00", "2023-01-05T09:00+03:00")])


# ---- rules files

def test_shipped_rules_files_hold_the_pp354_figures(moscow: BillingRules, helsinki: BillingRules) -> None:
    a = moscow.allowances_month_h
    assert (a.cold_water, a.hot_water, a.sewer, a.heating, a.gas) == (8, 8, 8, 24, 4)
    assert (a.electricity.two_sources_h, a.electricity.one_source_h) == (2, 24)
    assert moscow.reduction_pct_per_hour == Decimal("0.15") and not moscow.excess_whole_hours
    assert moscow.time_zone == "Europe/Moscow" and helsinki.time_zone == "Europe/Helsinki"
    assert helsinki.allowances_month_h == a
    hw = moscow.hot_water_temperature
    assert (hw.allowed_deviation_day_c, hw.allowed_deviation_night_c, hw.step_c) == (3, 5, 3)
    assert hw.reduction_pct_per_step_hour == Decimal("0.1") and hw.cold_water_below_c == 40


@pytest.mark.parametrize(("text", "message"), [
    ("region: x\n  bad: [\n", "not valid YAML"),
    ("- a list\n", "expected a mapping"),
    ("extends: default.yaml\nregion: x\ntime_zone: Mars/Olympus\n", "unknown time zone"),
    ("extends: default.yaml\nregion: x\nallowances_month_h: {gas: -1}\n", "allowances_month_h.gas"),
    ("extends: default.yaml\nregion: x\nelectricity_sources_default: 3\n", "electricity_sources_default"),
    ("extends: default.yaml\nregion: x\nsurprise: 1\n", "surprise"),
    ("extends: default.yaml\nregion: x\nhot_water_temperature: {night_from_hour: 6}\n", "night_to_hour"),
    ("region: x\n", "time_zone"),
    ("extends: missing.yaml\nregion: x\n", "cannot read"),
    ("extends: self.yaml\nregion: x\n", "cycle"),
])
def test_a_broken_rules_file_is_named_with_its_problem(text: str, message: str, tmp_path: Path) -> None:
    (tmp_path / "default.yaml").write_text(DEFAULT_RULES_FILE.read_text(encoding="utf-8"), encoding="utf-8")
    path = tmp_path / "self.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InvalidRules, match=message) as err:
        load_billing_rules(path)
    assert "self.yaml" in str(err.value) or "cannot read" in str(err.value)
