"""Pure functions of the water balance and the night flow (no database): cumulative meter totals
interpolated to instants, consumption per day, non-revenue water, minimum night flow, its baseline,
the verdict of a night and the alarm's state machine. Missing data gives ``None`` — never zero."""
from __future__ import annotations

import bisect
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from dma.rules import DmaRules

Reading = tuple[datetime, float]   # (time, cumulative total m³), sorted by time
VERDICTS: tuple[str, ...] = ("no_data", "learning", "normal", "high")
ALARM_STATES: tuple[str, ...] = ("open", "cleared")


def total_at(readings: Sequence[Reading], t: datetime, *, max_gap: timedelta) -> float | None:
    """The register's total at ``t``: a reading at ``t``, or linear between the readings either
    side when they are at most ``max_gap`` apart. ``None`` outside the readings, across a longer
    gap, or across a fall of the total (a replaced or reset register)."""
    if not readings:
        return None
    times = [r[0] for r in readings]
    i = bisect.bisect_left(times, t)
    if i < len(readings) and times[i] == t:
        return readings[i][1]
    if i == 0 or i == len(readings):
        return None
    (t0, v0), (t1, v1) = readings[i - 1], readings[i]
    if t1 - t0 > max_gap or v1 < v0:
        return None
    return v0 + (v1 - v0) * ((t - t0) / (t1 - t0))


def consumption(readings: Sequence[Reading], start: datetime, end: datetime, *,
                max_gap: timedelta) -> float | None:
    """Volume through the meter from ``start`` to ``end`` (difference of interpolated totals);
    ``None`` when either end is unknown or the total fell in between."""
    a = total_at(readings, start, max_gap=max_gap)
    b = total_at(readings, end, max_gap=max_gap)
    if a is None or b is None:
        return None
    inner = [v for (t, v) in readings if start < t < end]
    seq = [a, *inner, b]
    if any(y < x for x, y in zip(seq, seq[1:])):
        return None
    return b - a


def day_bounds(day: date, tz: str) -> tuple[datetime, datetime]:
    """Local midnight to the next local midnight of ``day`` in ``tz`` (23 or 25 h on DST days)."""
    z = ZoneInfo(tz)
    start = datetime(day.year, day.month, day.day, tzinfo=z)
    nxt = day + timedelta(days=1)
    return start, datetime(nxt.year, nxt.month, nxt.day, tzinfo=z)


def night_window(day: date, tz: str, rules: DmaRules) -> tuple[datetime, datetime]:
    """The night window of ``day`` (the night that ends on the morning of ``day``), local time."""
    z = ZoneInfo(tz)
    return (datetime.combine(day, rules.night_start, tzinfo=z), datetime.combine(day, rules.night_end, tzinfo=z))


def net_volume(meters: Sequence[tuple[int, Sequence[Reading]]], start: datetime, end: datetime, *,
               max_gap: timedelta) -> float | None:
    """Σ sign × consumption over signed meters (+1 feeds the area, −1 carries water out of it);
    ``None`` when there is no meter or any one has no data."""
    if not meters:
        return None
    total = 0.0
    for sign, readings in meters:
        c = consumption(readings, start, end, max_gap=max_gap)
        if c is None:
            return None
        total += sign * c
    return total


def flow_rates(meters: Sequence[tuple[int, Sequence[Reading]]], start: datetime, end: datetime, *,
               max_gap: timedelta) -> list[float] | None:
    """The area's net inflow rate (m³/h) over the intervals between the window's ends and every
    reading of any of its meters inside it; ``None`` when any interval lacks data."""
    if not meters:
        return None
    cuts = {start, end}
    for _sign, readings in meters:
        cuts.update(t for t, _ in readings if start < t < end)
    points = sorted(cuts)
    rates = []
    for a, b in zip(points, points[1:]):
        v = net_volume(meters, a, b, max_gap=max_gap)
        if v is None:
            return None
        rates.append(v / ((b - a).total_seconds() / 3600.0))
    return rates


def min_night_flow(meters: Sequence[tuple[int, Sequence[Reading]]], day: date, tz: str,
                   rules: DmaRules) -> float | None:
    """Minimum night flow (m³/h) of ``day``'s night window, ``None`` without full data."""
    start, end = night_window(day, tz, rules)
    rates = flow_rates(meters, start, end, max_gap=timedelta(hours=rules.max_gap_h))
    return min(rates) if rates else None


def nrw(inflow: float | None, billed: float | None) -> tuple[float | None, float | None]:
    """Non-revenue water: (volume = inflow − billed, % of inflow); ``None`` parts when unknown
    (the percentage also when inflow is not positive)."""
    if inflow is None or billed is None:
        return None, None
    vol = inflow - billed
    return vol, (100.0 * vol / inflow if inflow > 0 else None)


def baseline(history: Sequence[float | None], rules: DmaRules) -> float | None:
    """Median of the last ``baseline_nights`` known values of ``history`` (oldest first; the caller
    passes ``None`` for nights without data and for nights judged high, so a lasting leak never
    becomes its own baseline); ``None`` with fewer than ``min_history_nights`` of them."""
    known = [v for v in history if v is not None][-rules.baseline_nights:]
    if len(known) < rules.min_history_nights:
        return None
    return float(statistics.median(known))


def night_verdict(mnf: float | None, base: float | None, rules: DmaRules) -> str:
    """``no_data`` | ``learning`` (no baseline yet) | ``high`` | ``normal``."""
    if mnf is None:
        return "no_data"
    if base is None:
        return "learning"
    if mnf > base * (1 + rules.rise_pct / 100.0) and mnf - base > rules.rise_abs_m3h:
        return "high"
    return "normal"


@dataclass(frozen=True)
class AlarmState:
    """An open alarm as the state machine sees it."""

    normal_nights: int = 0


def alarm_step(state: AlarmState | None, verdict: str, rules: DmaRules) -> tuple[str, AlarmState | None]:
    """One night of the alarm: (action, state after). Actions: ``raise`` (a high night, no open
    alarm), ``persist`` (high again while open), ``recovering`` (a normal night while open, not yet
    enough), ``clear`` (``clear_after_nights`` normal nights in a row), ``quiet`` (nothing open,
    nothing high), ``wait`` (no data or no baseline: the state does not change)."""
    if verdict in ("no_data", "learning"):
        return "wait", state
    if verdict == "high":
        return ("persist" if state is not None else "raise"), AlarmState(0)
    if state is None:
        return "quiet", None
    n = state.normal_nights + 1
    if n >= rules.clear_after_nights:
        return "clear", None
    return "recovering", AlarmState(n)
