"""The demand shapes (pure) and the simulator: realistic totals published over MQTT land as readings;
faults produce the rejects they should; leaks add flow to their DMA's inlet."""
from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from apps.cli.meters import main
from meters.errors import BadArgument
from meters.shapes import demand_factor
from meters.simulate import (
    Injection,
    MeterState,
    next_reading,
    parse_injection,
    run,
    volume,
)
from tests.meters.conftest import count, wait_for

TZ = ZoneInfo("Europe/Moscow")
MONDAY = datetime(2026, 11, 23, tzinfo=TZ)


def test_demand_factor_shape():
    week = [demand_factor(MONDAY + timedelta(minutes=m)) for m in range(7 * 24 * 60)]
    assert sum(week) / len(week) == pytest.approx(1.0, abs=1e-3)
    for day in range(7):
        daily = week[day * 1440:(day + 1) * 1440]
        low = min(range(1440), key=daily.__getitem__)
        assert 2 * 60 <= low < 4 * 60  # the night minimum between 02 and 04
        assert max(daily) > 4 * min(daily)
    monday, saturday = week[:1440], week[5 * 1440:6 * 1440]
    assert 7 <= max(range(720), key=monday.__getitem__) // 60 < 9  # weekday morning peak
    assert 9 <= max(range(720), key=saturday.__getitem__) // 60 < 12  # later at the weekend
    assert 18 <= (720 + max(range(720), key=monday[720:].__getitem__)) // 60 < 21  # evening peak


def test_leak_adds_flow_to_its_dma_inlet_only():
    inj = [Injection("leak", 7, MONDAY + timedelta(hours=1), 2.0)]
    inlet = MeterState(1, "I-7", "dma_inlet", "cold_water", 7, mean_per_h=10.0)
    other = MeterState(2, "I-8", "dma_inlet", "cold_water", 8, mean_per_h=10.0)
    a, b = MONDAY, MONDAY + timedelta(hours=3)
    assert volume(inlet, a, b, TZ, inj) - volume(inlet, a, b, TZ, []) == pytest.approx(2.0 * 7200 / 1000)
    assert volume(other, a, b, TZ, inj) == volume(other, a, b, TZ, [])
    assert parse_injection("burst", "7@2026-11-23T01:00:2", TZ) == Injection("burst", 7, MONDAY.replace(hour=1), 2.0)
    with pytest.raises(BadArgument):
        parse_injection("leak", "7@yesterday:2", TZ)


def test_faults_stuck_spike_backwards():
    rng = random.Random(1)
    s = MeterState(1, "F", "flat", "cold_water", None, mean_per_h=0.02, total=100.0)
    totals = []
    ts = MONDAY
    for _ in range(400):
        ts += timedelta(minutes=30)
        totals.append(next_reading(s, ts, TZ, [], rng, faults=0.05))
    drops = sum(1 for x, y in zip(totals, totals[1:]) if y < x)
    flats = sum(1 for x, y in zip(totals, totals[1:]) if y == x)
    assert drops > 0 and flats > 0  # backwards glitches and a stuck register
    assert totals[-1] > 100.0


def test_simulated_readings_are_stored(meters_db, make_listener, broker, db_url):
    listener = make_listener(flush_ms=50)
    start = datetime.now(UTC) - timedelta(days=2)
    stats = run(db_url=db_url, mqtt_url=broker.url, rate=300, duration_s=1.0, start=start, speed=86400,
                injections=[], faults=0.0, seed=3, tz=TZ)
    assert stats.published >= 30           # a second at 300/s; fewer under load (the rate is measured in benchmarks)
    wait_for(lambda: listener.stats.stored + listener.stats.rejected >= stats.published, what="all readings")
    assert listener.stats.rejected == 0
    assert count(meters_db, "SELECT count(*) FROM meter_readings") == stats.published
    with meters_db.connect() as conn:
        ok = conn.execute(text("""SELECT bool_and(total >= prev) FROM (SELECT total, lag(total) OVER
                                  (PARTITION BY meter_id ORDER BY ts) AS prev FROM meter_readings) x
                                  WHERE prev IS NOT NULL""")).scalar_one()
    assert ok


def test_cli_bad_input_exits_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["simulate", "--rate", "abc"])
    assert exc.value.code == 2
    assert main(["simulate", "--rate", "5", "--leak", "nonsense"]) == 2
    assert "DMA_ID@ISO_TIME:LITRES_PER_SECOND" in capsys.readouterr().err
    assert main(["listen", "--mqtt-url", "http://nowhere"]) == 2
    assert "MQTT URL" in capsys.readouterr().err


def test_demand_hours_is_the_integral_of_the_factor():
    from meters.shapes import demand_hours

    a = datetime(2026, 11, 20, 22, 10, 30)  # a Friday night into the weekend
    b = a + timedelta(days=2, hours=5, minutes=7)
    minutes = int((b - a).total_seconds() // 60)
    numeric = sum(demand_factor(a + timedelta(minutes=m + 0.5)) for m in range(minutes)) / 60
    assert demand_hours(a, b) == pytest.approx(numeric, rel=1e-4)
    assert demand_hours(a, a + timedelta(days=7)) == pytest.approx(168.0, rel=1e-9)
    assert demand_hours(a, a) == 0.0


def test_simulate_publishes_with_a_session_of_its_own(monkeypatch):
    """The simulator, as a meter, has its own persistent MQTT session: --client-id, else the setting."""
    import meters.simulate as sim
    from settings import get_settings

    seen: list[object] = []

    def fake_run(**kw: object) -> sim.SimStats:
        seen.append(kw["client_id"])
        return sim.SimStats(published=1)

    monkeypatch.setattr(sim, "run", fake_run)
    assert main(["simulate", "--rate", "5", "--client-id", "meter-gw-7"]) == 0
    assert main(["simulate", "--rate", "5"]) == 0
    assert seen == ["meter-gw-7", get_settings().meters_simulator_client_id]
    assert seen[1] == "zhkh-meters-simulator"
