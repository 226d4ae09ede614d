"""Demand shapes of household water use: how the flow through a meter varies over a day and a week.

Pure functions, no I/O: the simulator (``python -m meters simulate``) draws its readings from them, and
the DMA analysis may use the same shape as its expectation (e.g. to tell a night leak from night use).

``demand_factor(ts_local)`` is the flow at that local time divided by the meter's mean flow over a week:

- working days (Mon-Fri): a morning peak 07-09 (~1.6x), a lower day plateau, an evening peak 18-21 (~1.6x);
- weekends (Sat, Sun): the morning peak later and broader (09-11), the evening peak a little lower;
- the night minimum between 02:00 and 04:00 (~0.3x): what flows then is mostly leakage and the few
  night users, which is what the minimum night flow of a DMA measures;
- piecewise linear between the hourly points below, and normalised so that the mean over a whole week
  is exactly 1.0 (a meter's mean flow times the factor gives the flow at that time).

Typical household profiles of this kind are published by water utilities and in the DMA / water-loss
literature (e.g. the IWA water balance methodology); the points below are a plausible composite, not a
measurement of any one city.
"""
from __future__ import annotations

from datetime import datetime, timedelta

__all__ = ["WEEKDAY", "WEEKEND", "NIGHT_MINIMUM_HOURS", "demand_factor", "demand_hours", "mean_factor"]

# flow relative to the day's own average, at hh:00 local time (index = hour)
WEEKDAY: tuple[float, ...] = (
    0.55, 0.40, 0.30, 0.28, 0.32, 0.55, 1.05, 1.65, 1.55, 1.20, 1.00, 0.95,
    1.00, 0.95, 0.90, 0.90, 1.00, 1.20, 1.45, 1.60, 1.50, 1.30, 1.00, 0.75,
)
WEEKEND: tuple[float, ...] = (
    0.65, 0.48, 0.33, 0.29, 0.30, 0.36, 0.50, 0.80, 1.20, 1.55, 1.60, 1.45,
    1.30, 1.20, 1.05, 1.00, 1.05, 1.20, 1.40, 1.50, 1.40, 1.25, 1.05, 0.85,
)
NIGHT_MINIMUM_HOURS = (2, 4)  # local hours [from, to) of the night minimum


def _raw(profile: tuple[float, ...], next_profile: tuple[float, ...], hour: float) -> float:
    h = int(hour)
    frac = hour - h
    after = profile[h + 1] if h < 23 else next_profile[0]
    return profile[h] * (1 - frac) + after * frac


def _profiles(weekday: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The day's profile and the next day's (for 23:00-24:00)."""
    today = WEEKEND if weekday >= 5 else WEEKDAY
    tomorrow = WEEKEND if (weekday + 1) % 7 >= 5 else WEEKDAY
    return today, tomorrow


def _week_mean() -> float:
    # the exact mean of the piecewise-linear week: trapezoids between the hourly points
    total = 0.0
    for day in range(7):
        today, tomorrow = _profiles(day)
        for h in range(24):
            nxt = today[h + 1] if h < 23 else tomorrow[0]
            total += (today[h] + nxt) / 2
    return total / (7 * 24)


_NORM = _week_mean()


def demand_factor(ts_local: datetime) -> float:
    """Flow at local wall-clock time ``ts_local`` relative to the weekly mean (mean over a week = 1.0).

    ``ts_local`` must already be in the region's time zone (its ``tzinfo``, if any, is not converted):
    ``demand_factor(ts.astimezone(ZoneInfo("Europe/Moscow")))``.
    """
    hour = ts_local.hour + ts_local.minute / 60 + ts_local.second / 3600 + ts_local.microsecond / 3.6e9
    today, tomorrow = _profiles(ts_local.weekday())
    return _raw(today, tomorrow, hour) / _NORM


def mean_factor() -> float:
    """The mean of :func:`demand_factor` over a week (1.0 by construction; for tests and callers)."""
    return _week_mean() / _NORM


# the integral of demand_factor from Monday 00:00 to each minute of the week, in factor x hours
# (exact: the factor is linear within each hour, so trapezoids over minutes add up exactly)
def _prefix() -> list[float]:

    monday = datetime(2024, 1, 1)  # a Monday
    values = [demand_factor(monday + timedelta(minutes=m)) for m in range(7 * 1440 + 1)]
    out = [0.0]
    for m in range(7 * 1440):
        out.append(out[-1] + (values[m] + values[m + 1]) / 2 / 60)
    return out


_PREFIX = _prefix()
_WEEK = _PREFIX[-1]  # 168.0: the mean over a week is 1


def _cumulative(ts_local: datetime) -> float:
    ordinal = ts_local.toordinal() - 1  # date(1, 1, 1) is a Monday
    weeks, weekday = divmod(ordinal, 7)
    minute = weekday * 1440 + ts_local.hour * 60 + ts_local.minute
    frac = (ts_local.second + ts_local.microsecond / 1e6) / 60
    return weeks * _WEEK + _PREFIX[minute] + (_PREFIX[minute + 1] - _PREFIX[minute]) * frac


def demand_hours(a_local: datetime, b_local: datetime) -> float:
    """The integral of :func:`demand_factor` from ``a_local`` to ``b_local`` (local wall-clock times), in
    hours: the volume a meter of mean flow ``q`` per hour passes meanwhile is ``q * demand_hours(a, b)``.
    Over a whole week it is 168. O(1) (a prefix table over the minutes of a week)."""
    return _cumulative(b_local) - _cumulative(a_local)
