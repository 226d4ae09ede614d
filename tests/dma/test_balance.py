"""Hand-made cases of every rule of the balance and the night flow (pure functions)."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from dma.balance import (
    AlarmState,
    alarm_step,
    baseline,
    consumption,
    day_bounds,
    flow_rates,
    min_night_flow,
    night_verdict,
    nrw,
    total_at,
)
from dma.rules import DmaRules, load_rules

UTC = timezone.utc
GAP = timedelta(hours=6)
R = DmaRules()


def t(h: float, day: int = 1) -> datetime:
    return datetime(2026, 3, day, tzinfo=UTC) + timedelta(hours=h)


def test_total_interpolates_between_readings_and_refuses_outside_gaps_and_falls() -> None:
    rs = [(t(0), 100.0), (t(2), 110.0), (t(10), 150.0)]
    assert total_at(rs, t(0), max_gap=GAP) == 100.0
    assert total_at(rs, t(1.5), max_gap=GAP) == pytest.approx(107.5)
    assert total_at(rs, t(-1), max_gap=GAP) is None           # before the first reading
    assert total_at(rs, t(11), max_gap=GAP) is None           # after the last
    assert total_at(rs, t(5), max_gap=GAP) is None            # 8 h gap > 6 h
    assert total_at(rs, t(5), max_gap=timedelta(hours=9)) == pytest.approx(125.0)
    assert total_at([(t(0), 50.0), (t(1), 10.0)], t(0.5), max_gap=GAP) is None   # register reset
    assert total_at([], t(0), max_gap=GAP) is None


def test_day_consumption_interpolated_to_local_midnights() -> None:
    # Helsinki is UTC+2 in March before the change: local midnight of 2 March = 22:00 UTC on 1 March
    start, end = day_bounds(date(2026, 3, 2), "Europe/Helsinki")
    assert start.astimezone(UTC) == t(22) and end.astimezone(UTC) == t(22, day=2)
    rs = [(t(21), 1000.0), (t(23), 1004.0), (t(21, 2), 1050.0), (t(23, 2), 1060.0)]
    # 22:00 -> 1002; 22:00 next day -> 1055 ; day = 53
    assert consumption(rs, start, end, max_gap=timedelta(hours=24)) == pytest.approx(53.0)
    # a long gap inside the day does not matter (the register is cumulative) ...
    assert consumption(rs, start, end, max_gap=GAP) == pytest.approx(53.0)
    # ... but a midnight inside a long gap has no total: the day has no data, not 0
    sparse = [(t(12), 1000.0), (t(23), 1004.0), (t(21, 2), 1050.0), (t(23, 2), 1060.0)]
    assert consumption(sparse, start, end, max_gap=GAP) is None
    assert consumption(sparse, start, end, max_gap=timedelta(hours=12)) is not None


def test_dst_days_are_23_and_25_hours() -> None:
    # spring: local midnight is 22:00 UTC (UTC+2) the day before, the next one 21:00 UTC (UTC+3)
    start, end = day_bounds(date(2026, 3, 29), "Europe/Helsinki")
    assert (start.astimezone(UTC), end.astimezone(UTC)) == (datetime(2026, 3, 28, 22, tzinfo=UTC),
                                                            datetime(2026, 3, 29, 21, tzinfo=UTC))
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=23)
    # autumn: back from UTC+3 to UTC+2, a 25-hour day
    start, end = day_bounds(date(2026, 10, 25), "Europe/Helsinki")
    assert (start.astimezone(UTC), end.astimezone(UTC)) == (datetime(2026, 10, 24, 21, tzinfo=UTC),
                                                            datetime(2026, 10, 25, 22, tzinfo=UTC))
    # an ordinary day is 24 hours
    start, end = day_bounds(date(2026, 3, 2), "Europe/Helsinki")
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=24)


def test_nrw_volume_and_percent_and_unknowns() -> None:
    assert nrw(200.0, 170.0) == (30.0, 15.0)
    assert nrw(None, 170.0) == (None, None)
    assert nrw(200.0, None) == (None, None)
    assert nrw(0.0, 0.0) == (0.0, None)


def test_flow_rates_net_of_outflow_and_minimum_night_flow() -> None:
    # night of 2 March, Helsinki (UTC+2): 02:00-04:00 local = 00:00-02:00 UTC on 2 March
    inlet = [(t(0, 2), 0.0), (t(0.5, 2), 10.0), (t(1, 2), 16.0), (t(2, 2), 30.0)]
    out = [(t(0, 2), 0.0), (t(2, 2), 4.0)]          # 2 m³/h carried on to a downstream area
    rates = flow_rates([(1, inlet), (-1, out)], t(0, 2), t(2, 2), max_gap=GAP)
    assert rates == pytest.approx([18.0, 10.0, 12.0])
    assert min_night_flow([(1, inlet), (-1, out)], date(2026, 3, 2), "Europe/Helsinki", R) == pytest.approx(10.0)
    # a meter without data inside the window -> no data
    assert min_night_flow([(1, inlet), (-1, out[:1])], date(2026, 3, 2), "Europe/Helsinki", R) is None
    assert min_night_flow([], date(2026, 3, 2), "Europe/Helsinki", R) is None


def test_baseline_median_of_last_n_known_nights() -> None:
    r = DmaRules(baseline_nights=5, min_history_nights=3)
    assert baseline([9.0, 1.0, 2.0, None, 3.0, 100.0], r) == 3.0      # last 5 known: 9,1,2,3,100
    assert baseline([7.0, 1.0, 2.0, 3.0, 4.0, 5.0], r) == 3.0         # the 7 is older than the last 5
    assert baseline([1.0, 2.0, 3.0, None, None, None, None, None], r) == 2.0   # unknown nights are skipped
    assert baseline([1.0, None, 2.0], r) is None                       # 2 known < 3
    assert baseline([], r) is None


def test_night_verdict_needs_both_relative_and_absolute_rise() -> None:
    r = DmaRules(rise_pct=30, rise_abs_m3h=0.5)
    assert night_verdict(None, 2.0, r) == "no_data"
    assert night_verdict(3.0, None, r) == "learning"
    assert night_verdict(2.7, 2.0, r) == "high"          # +35 %, +0.7
    assert night_verdict(2.5, 2.0, r) == "normal"        # +25 %
    assert night_verdict(1.4, 1.0, r) == "normal"        # +40 % but only +0.4 m³/h
    assert night_verdict(1.6, 1.0, r) == "high"


def test_alarm_raises_persists_and_clears_after_m_normal_nights() -> None:
    r = DmaRules(clear_after_nights=2, min_history_nights=1)
    s = None
    actions = []
    for v in ["normal", "high", "high", "no_data", "normal", "high", "normal", "normal", "normal", "high"]:
        a, s = alarm_step(s, v, r)
        actions.append(a)
    assert actions == ["quiet", "raise", "persist", "wait", "recovering", "persist", "recovering", "clear",
                       "quiet", "raise"]
    assert alarm_step(AlarmState(1), "learning", r) == ("wait", AlarmState(1))


def test_rules_file_loads_and_bad_values_are_named(tmp_path) -> None:
    from dma.errors import InvalidRules
    from dma.rules import DEFAULT_FILE

    assert load_rules(DEFAULT_FILE).baseline_nights == 14
    bad = tmp_path / "r.yaml"
    bad.write_text("rise_pct: -3\n")
    with pytest.raises(InvalidRules, match="rise_pct"):
        load_rules(bad)
    bad.write_text("night_start: '04:00'\nnight_end: '02:00'\n")
    with pytest.raises(InvalidRules, match="night_end"):
        load_rules(bad)
