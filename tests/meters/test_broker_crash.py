"""A broker crash (SIGKILL of a private Mosquitto, its persistence directory kept, restarted after a pause)
loses no reading and stores none twice: the broker autosaves every second, the listener acknowledges only
after its commit, and the publisher - as a meter does - resends what is not acknowledged and what was
acknowledged just before the connection broke (issue 22, item 2)."""
from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from meters.broker import Mosquitto
from meters.publisher import Publisher
from meters.simulate import SimStats, run
from tests.meters.conftest import client_id, count, wait_for

TZ = ZoneInfo("Europe/Moscow")
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def test_simulate_across_broker_kill_loses_nothing(meters_db, make_listener):
    with Mosquitto() as broker:
        listener = make_listener(mqtt_url=broker.url, flush_ms=50)
        out: dict[str, SimStats | BaseException] = {}

        def simulate() -> None:
            try:
                out["stats"] = run(db_url=str(meters_db.url.render_as_string(hide_password=False)),
                                   mqtt_url=broker.url, rate=300, duration_s=7.0,
                                   start=datetime.now(UTC) - timedelta(days=60), speed=86400, injections=[],
                                   faults=0.0, seed=5, tz=TZ, client_id=client_id())
            except BaseException as exc:  # noqa: BLE001 - handed to the test thread
                out["error"] = exc

        th = threading.Thread(target=simulate)
        th.start()
        wait_for(lambda: "error" in out or count(meters_db, "SELECT count(*) FROM meter_readings") > 100,
                 what="readings stored")
        assert "error" not in out, out.get("error")
        time.sleep(1.0)  # the scenario: running a while since the last autosave
        broker.kill()
        time.sleep(2.0)  # the broker is down; the simulator goes on publishing (held by the publisher)
        broker.start()
        th.join(180)
        assert not th.is_alive()
        assert "error" not in out, out.get("error")
        stats = out["stats"]
        assert isinstance(stats, SimStats)
        assert stats.unacknowledged == 0
        wait_for(lambda: count(meters_db, "SELECT count(*) FROM meter_readings") >= stats.published, timeout=120,
                 what=f"all {stats.published} readings stored")
        listener.wait_idle(5)
    assert stats.published > 300
    assert count(meters_db, "SELECT count(*) FROM meter_readings") == stats.published
    assert count(meters_db, "SELECT count(DISTINCT (meter_id, ts)) FROM meter_readings") == stats.published
    assert count(meters_db, "SELECT count(*) FROM meter_rejects") == 0
    assert listener.stats.stored == stats.published  # nothing stored twice; copies counted as duplicates


def test_acknowledged_but_not_saved_is_resent_after_a_crash(meters_db, make_listener):
    """The loss window: the broker acknowledged the readings (in its memory) and died before writing them.
    A long autosave interval makes the window certain; the publisher's resend closes it."""
    with Mosquitto(autosave_interval_s=3600) as broker:
        cid = client_id()
        make_listener(mqtt_url=broker.url, client_id=cid).stop()  # its session exists; it is away
        broker.restart()  # a clean stop writes the session to disk
        pub = Publisher(broker.url, client_id=client_id()).connect()
        try:
            for i in range(50):
                pub.publish("M-2", T0 + timedelta(minutes=i), float(i))
            assert pub.flush()  # all 50 acknowledged: in the broker's memory only
            broker.kill()
            broker.start()
            wait_for(lambda: pub.reconnects >= 1, timeout=20, what="the publisher reconnecting")
            assert pub.flush(timeout=20)
            assert pub.resent == 50
            listener = make_listener(mqtt_url=broker.url, client_id=cid)  # back: its queue is delivered
            wait_for(lambda: count(meters_db, "SELECT count(*) FROM meter_readings") == 50, timeout=20,
                     what="the 50 readings")
            listener.wait_idle(5)
        finally:
            pub.close()
    assert count(meters_db, "SELECT count(DISTINCT ts) FROM meter_readings WHERE meter_id = "
                            "(SELECT id FROM meters WHERE serial = 'M-2')") == 50
    assert count(meters_db, "SELECT count(*) FROM meter_rejects") == 0


def test_the_publisher_has_a_persistent_session_of_its_own(broker):
    cid = client_id()
    first = Publisher(broker.url, client_id=cid).connect()
    assert not first.session_present  # new
    first.close()
    again = Publisher(broker.url, client_id=cid).connect()
    try:
        assert again.session_present  # clean_start false + a session expiry: the broker kept it
    finally:
        again.close()
    anonymous = Publisher(broker.url).connect()
    anonymous.close()
    assert not anonymous.session_present
