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
