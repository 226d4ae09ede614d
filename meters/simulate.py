"""``python -m meters simulate``: realistic readings of the demo city's meters, published over MQTT.

- The meters are read from the database (building, flat, DMA-inlet and source meters in service); each
  continues from its latest stored reading, so runs can follow each other.
- Flow = the meter's mean flow x :func:`meters.shapes.demand_factor` (daily double peak, weekend shift,
  night minimum) x noise. Mean flows: per flat and resource (``PER_FLAT_PER_DAY``); a building meter the
  sum of its flats (premises, else residents / 2.2, else 40) plus common use; a DMA inlet the sum of the
  building meters in its DMA plus background leakage (a constant flow, visible at night); a source the
  sum of the inlets.
- Faults (probability ``faults`` per reading): a stuck register (the total stops for a few readings), a
  spike (one interval with 20x the flow), a backwards glitch (one total below the last one: the listener
  rejects it).
- Leaks and bursts: ``DMA_ID@ISO:LPS`` adds LPS litres per second to that DMA's inlet meters (and to the
  source meters) from that time on.
- Simulated time runs ``speed`` times faster than the wall clock from ``start`` and is held at the wall
  clock when it catches up (a reading from the future would be rejected). Each meter reports in turn;
  ``rate`` readings are published per second of wall time.
"""
from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from meters import repo
from meters.errors import BadArgument, NoMeters
from meters.publisher import Publisher
from meters.shapes import demand_hours

__all__ = ["Injection", "parse_injection", "SimStats", "MeterState", "make_states", "run", "PER_FLAT_PER_DAY"]

# mean use per flat and day, in the resource's unit (m3, Gcal, kWh)
PER_FLAT_PER_DAY: dict[str, float] = {
    "cold_water": 0.35, "hot_water": 0.15, "sewer": 0.50, "gas": 1.0, "heating": 0.25, "electricity": 8.0,
}
SHAPED = {"cold_water", "hot_water", "sewer", "electricity", "gas"}  # heating follows the weather, not the clock
COMMON_USE = 0.03  # a building meter's share above its flats (cleaning, leaks in the building)
BACKGROUND_LEAKAGE = 0.08  # a DMA inlet's share above its buildings, as a constant flow


@dataclass(frozen=True)
class Injection:
    """A leak or burst: ``lps`` litres per second into DMA ``dma_id`` from ``at`` on."""

    kind: str
    dma_id: int
    at: datetime
    lps: float

    def m3_between(self, a: datetime, b: datetime) -> float:
        lo = max(a, self.at)
        return max(0.0, (b - lo).total_seconds()) * self.lps / 1000.0


def parse_injection(kind: str, spec: str, tz: ZoneInfo) -> Injection:
    """``DMA_ID@ISO:LPS`` (the time may carry an offset; without one it is the region's local time)."""
    try:
        dma, rest = spec.split("@", 1)
        when, lps = rest.rsplit(":", 1)
        at = datetime.fromisoformat(when)
        value = float(lps)
        dma_id = int(dma)
    except ValueError:
        raise BadArgument(f"--{kind} {spec!r}: expected DMA_ID@ISO_TIME:LITRES_PER_SECOND, "
                          "e.g. 3@2026-11-27T02:30+03:00:4.5") from None
    if not math.isfinite(value) or value <= 0:
        raise BadArgument(f"--{kind} {spec!r}: litres per second must be a positive number")
    if at.tzinfo is None:
        at = at.replace(tzinfo=tz)
    return Injection(kind, dma_id, at, value)


@dataclass
class MeterState:
    id: int
    serial: str
    kind: str
    resource: str
    dma_id: int | None
    mean_per_h: float  # mean flow, unit per hour
    leakage_per_h: float = 0.0  # constant part (DMA inlets)
    last_ts: datetime | None = None
    total: float = 0.0
    stuck_left: int = 0


@dataclass
class SimStats:
    published: int = 0
    meters: int = 0
    faults: dict[str, int] = field(default_factory=lambda: {"stuck": 0, "spike": 0, "backwards": 0})
    injections: int = 0
    sim_from: str = ""
    sim_to: str = ""
    elapsed_s: float = 0.0
    resent: int = 0  # acknowledged shortly before a lost connection, published again after it
    unacknowledged: int = 0  # not acknowledged by the broker when the run ended (lost with the process)

    def __str__(self) -> str:
        rate = self.published / self.elapsed_s if self.elapsed_s else 0.0
        extra = f"; resent after a reconnect {self.resent}" if self.resent else ""
        if self.unacknowledged:
            extra += f"; NOT acknowledged by the broker at the end: {self.unacknowledged}"
        return (f"published {self.published} readings of {self.meters} meters in {self.elapsed_s:.1f} s "
                f"({rate:.0f}/s), simulated {self.sim_from} .. {self.sim_to}; faults {self.faults}; "
                f"leaks/bursts {self.injections}{extra}")


def make_states(meters: list[dict[str, Any]], latest: dict[int, tuple[datetime, float]],
                seed: int) -> list[MeterState]:
    """Each meter's mean flow and starting register (its latest stored total, else a plausible one)."""
    rng = random.Random(seed)
    states: list[MeterState] = []
    building_mean: dict[tuple[int, str], float] = {}
    for m in meters:
        per_flat = PER_FLAT_PER_DAY.get(m["resource"], 0.35) / 24
        if m["kind"] == "flat":
            mean = per_flat * rng.lognormvariate(0, 0.35)
        elif m["kind"] == "building":
            flats = m["flats"] or (round(m["residents"] / 2.2) if m["residents"] else 40)
            mean = per_flat * max(1, flats) * (1 + COMMON_USE)
            if m["dma_id"] is not None:
                key = (m["dma_id"], m["resource"])
                building_mean[key] = building_mean.get(key, 0.0) + mean
        else:
            mean = 0.0  # inlets and sources: below, from what they feed
        states.append(MeterState(int(m["id"]), m["serial"], m["kind"], m["resource"], m["dma_id"], mean))
    inlets_total: dict[str, float] = {}
    for s in states:
        if s.kind == "dma_inlet":
            fed = building_mean.get((s.dma_id, s.resource), 0.0) if s.dma_id is not None else 0.0
            fed = fed or PER_FLAT_PER_DAY.get(s.resource, 0.35) / 24 * 600  # a DMA of ~600 flats
            s.mean_per_h = fed
            s.leakage_per_h = fed * BACKGROUND_LEAKAGE
            inlets_total[s.resource] = inlets_total.get(s.resource, 0.0) + fed * (1 + BACKGROUND_LEAKAGE)
    for s in states:
        if s.kind == "source":
            s.mean_per_h = inlets_total.get(s.resource) or PER_FLAT_PER_DAY.get(s.resource, 0.35) / 24 * 5000
            s.leakage_per_h = s.mean_per_h * 0.02
    for s in states:
        if s.id in latest:
            s.last_ts, s.total = latest[s.id]
        else:
            s.total = round(rng.uniform(0, 2 * 365 * 24) * (s.mean_per_h + s.leakage_per_h), 3)
    return states


def volume(s: MeterState, a: datetime, b: datetime, tz: ZoneInfo, injections: list[Injection]) -> float:
    """What flows through meter ``s`` between ``a`` and ``b`` (no noise): the shape integrated exactly."""
    hours = (b - a).total_seconds() / 3600
    if s.resource in SHAPED:
        vol = s.mean_per_h * demand_hours(a.astimezone(tz), b.astimezone(tz))
    else:
        vol = s.mean_per_h * hours
    vol += s.leakage_per_h * hours
    for inj in injections:
        if (s.kind == "dma_inlet" and s.dma_id == inj.dma_id and s.resource == "cold_water") or \
                (s.kind == "source" and s.resource == "cold_water"):
            vol += inj.m3_between(a, b)
    return vol


def next_reading(s: MeterState, ts: datetime, tz: ZoneInfo, injections: list[Injection], rng: random.Random,
                 faults: float, stats: SimStats | None = None) -> float | None:
    """The total meter ``s`` reports at ``ts`` (state advanced), or None if ``ts`` is not after its last."""
    if s.last_ts is not None and ts <= s.last_ts:
        return None
    start = s.last_ts or ts - timedelta(minutes=15)
    inc = volume(s, start, ts, tz, injections) * max(0.0, rng.gauss(1.0, 0.1))
    s.last_ts = ts
    if s.stuck_left > 0:
        s.stuck_left -= 1
        return round(s.total, 4)
    if faults > 0 and rng.random() < faults:
        kind = rng.choice(("stuck", "spike", "backwards"))
        if stats is not None:
            stats.faults[kind] += 1
        if kind == "stuck":
            s.stuck_left = rng.randint(3, 12)
            return round(s.total, 4)
        if kind == "spike":
            inc *= 20
        else:  # a glitch: this one reading below the last; the register itself goes on
            s.total += inc
            return round(max(0.0, s.total - inc - rng.uniform(0.5, 5.0)), 4)
    s.total += inc
    return round(s.total, 4)


def run(*, db_url: str, mqtt_url: str, rate: float, duration_s: float, start: datetime | None, speed: float,
        injections: list[Injection], faults: float, seed: int, tz: ZoneInfo,
        client_id: str | None = None, flush_timeout_s: float = 120.0) -> SimStats:
    """Publish readings for ``duration_s`` seconds of wall time at ``rate`` per second, then wait up to
    ``flush_timeout_s`` for the broker to acknowledge them all (a broker that is away meanwhile gets
    them on its return: the meters keep what is not acknowledged, :class:`meters.publisher.Publisher`).
    ``client_id``: the publisher's own persistent MQTT session (None: a clean one)."""

    with repo.connect(db_url) as conn:
        meters = repo.list_meters(conn)
        latest = repo.latest_readings(conn)
        known_dmas = {int(r[0]) for r in conn.execute("SELECT id FROM dmas").fetchall()}
    if not meters:
        raise NoMeters("no meters in the database: load them first (python -m billing demo for building and "
                       "flat meters, python -m dma demo for DMA inlet meters)")
    for inj in injections:
        if inj.dma_id not in known_dmas:
            raise BadArgument(f"--{inj.kind} {inj.dma_id}@...: no DMA with id {inj.dma_id} "
                              f"(known: {', '.join(map(str, sorted(known_dmas))) or 'none'})")
    states = make_states(meters, latest, seed)
    rng = random.Random(seed + 1)
    wall0 = datetime.now(UTC)
    sim0 = start or wall0 - timedelta(seconds=duration_s * (speed - 1))
    stats = SimStats(meters=len(states), injections=len(injections), sim_from=sim0.isoformat(timespec="seconds"))
    pub = Publisher(mqtt_url, client_id=client_id).connect()
    t0 = time.monotonic()
    i = 0
    try:
        while True:
            elapsed = time.monotonic() - t0
            if elapsed >= duration_s:
                break
            due = int(elapsed * rate) + 1 - stats.published
            if due <= 0:
                time.sleep(min(0.01, 1 / rate))
                continue
            now = datetime.now(UTC)
            sim_now = min(sim0 + timedelta(seconds=elapsed * speed), now).replace(microsecond=0)
            ts_local = sim_now.astimezone(tz)
            skipped = 0
            for _ in range(min(due, 5000)):
                s = states[i % len(states)]
                i += 1
                total = next_reading(s, ts_local, tz, injections, rng, faults, stats)
                if total is None:
                    skipped += 1
                    if skipped >= len(states):
                        break  # every meter has reported at this second: wait for the clock
                    continue
                pub.publish(s.serial, ts_local, total)
                stats.published += 1
            if skipped >= len(states):
                time.sleep(0.05)
        if not pub.flush(timeout=flush_timeout_s):
            stats.unacknowledged = pub.pending()
    finally:
        pub.close()
    stats.resent = pub.resent
    stats.elapsed_s = time.monotonic() - t0
    end = min(sim0 + timedelta(seconds=stats.elapsed_s * speed), datetime.now(UTC))
    stats.sim_to = end.isoformat(timespec="seconds")
    return stats
