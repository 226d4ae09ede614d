"""A broker crash (SIGKILL of a private Mosquitto, its persistence directory kept, started again) loses no
reading and stores none twice: the broker autosaves every second, the listener acknowledges only after its
commit, and the publisher - as a meter does - resends what is not acknowledged and what was acknowledged
just before the connection broke, and keeps what a broker that lost the listener's session dropped for
want of a subscriber (issue 22, item 2)."""
from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from meters.broker import AUTOSAVE_INTERVAL_S, Mosquitto
from meters.publisher import Publisher
from meters.simulate import SimStats, run
from tests.meters.conftest import client_id, count, wait_for

TZ = ZoneInfo("Europe/Moscow")
T0 = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.mark.parametrize("case", ["before the first save", "after a save"])
def test_simulate_across_broker_kill_loses_nothing(meters_db, make_listener, monkeypatch, case):
    """``meters simulate`` publishing while the broker is killed and started again at once; every published
    reading is stored exactly once. "after a save": the product's settings (autosave every second), killed
    once the broker has written its file. "before the first save": killed before it ever saved (autosave
    3600 s stands for the first 1-2 s after a start, when the losses under load happened): it comes back
    with no session, no subscription and nothing queued. The listener goes down with the broker and is
    back only after the simulator has reconnected and its resends were answered (its reconnect backoff is
    the longer one; under load the order of the two was a coin toss, and this was the losing side)."""
    publishers: list[Publisher] = []
    connect = Publisher.connect

    def connect_and_keep(self: Publisher, *a: object, **kw: object) -> Publisher:
        publishers.append(self)
        return connect(self, *a, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(Publisher, "connect", connect_and_keep)  # to watch the simulator's publisher
    with Mosquitto(autosave_interval_s=3600 if case == "before the first save" else AUTOSAVE_INTERVAL_S) as broker:
        saved = broker.dir / "mosquitto.db"
        cid = client_id()
        listener = make_listener(mqtt_url=broker.url, client_id=cid, flush_ms=50)
        out: dict[str, SimStats | BaseException] = {}

        def simulate() -> None:
            try:
                out["stats"] = run(db_url=str(meters_db.url.render_as_string(hide_password=False)),
                                   mqtt_url=broker.url, rate=300, duration_s=7.0,
                                   start=datetime.now(UTC) - timedelta(days=60), speed=86400, injections=[],
                                   faults=0.0, seed=5, tz=TZ, client_id=client_id(), flush_timeout_s=40)
            except BaseException as exc:  # noqa: BLE001 - handed to the test thread
                out["error"] = exc

        th = threading.Thread(target=simulate)
        th.start()
        wait_for(lambda: "error" in out or (count(meters_db, "SELECT count(*) FROM meter_readings") > 50
                                            and (case != "after a save" or saved.exists())),
                 timeout=30, what="readings stored")
        assert "error" not in out, out.get("error")
        assert saved.exists() == (case == "after a save")
        broker.kill()  # mid-run; the clients notice at once and reconnect after their delay (>= 1 s)
        before = listener.abort()  # what it took and did not commit is the broker's or the publisher's again
        broker.start()
        pub = publishers[0]
        wait_for(lambda: pub.reconnects >= 1 and pub.resent > 0, timeout=20, what="the simulator resending")
        sent = pub.sent
        wait_for(lambda: pub.acked >= sent, timeout=20, what="the broker answering the resends")
        listener = make_listener(mqtt_url=broker.url, client_id=cid, flush_ms=50)
        th.join(60)
        assert not th.is_alive()
        assert "error" not in out, out.get("error")
        stats = out["stats"]
        assert isinstance(stats, SimStats)
        assert stats.unacknowledged == 0
        end = time.monotonic() + 30  # a loss shows as a count below, not as a timeout
        while count(meters_db, "SELECT count(*) FROM meter_readings") < stats.published and time.monotonic() < end:
            time.sleep(0.05)
        listener.wait_idle(5)
    stored = count(meters_db, "SELECT count(*) FROM meter_readings")
    assert stored == stats.published, f"published {stats.published}, stored {stored}, lost {stats.published - stored}"
    assert stats.published > 300
    assert count(meters_db, "SELECT count(DISTINCT (meter_id, ts)) FROM meter_readings") == stats.published
    assert count(meters_db, "SELECT count(*) FROM meter_rejects") == 0
    assert before.stored + listener.stats.stored == stats.published  # none stored twice: copies are duplicates


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


def test_a_crash_before_the_listeners_session_was_saved_loses_nothing(meters_db, make_listener):
    """The cause of the end-to-end losses (issue 22): the broker died before it had saved the listener's
    new session (its first autosave comes 1-2 s after a start), so it came back without the subscription.
    The publisher's resends reached it before the listener had subscribed again, and the broker acknowledged
    them with "No matching subscribers" and dropped them. Such readings stay with the publisher now and
    are published again until a subscriber takes them."""
    with Mosquitto(autosave_interval_s=3600) as broker:  # nothing saved before the crash: certain, not timed
        cid = client_id()
        make_listener(mqtt_url=broker.url, client_id=cid).abort()  # subscribed (in memory only), then away
        pub = Publisher(broker.url, client_id=client_id()).connect()
        try:
            for i in range(50):
                pub.publish("M-3", T0 + timedelta(minutes=i), float(i))
            assert pub.flush()  # queued for the listener, in the broker's memory only
            broker.kill()
            broker.start()  # no sessions, no subscription
            wait_for(lambda: pub.reconnects >= 1, timeout=20, what="the publisher reconnecting")
            held = not pub.flush(timeout=1)  # resent while nobody is subscribed: "no matching subscribers"
            listener = make_listener(mqtt_url=broker.url, client_id=cid)  # back, subscribes again
            assert pub.flush(timeout=20)
            wait_for(lambda: count(meters_db, "SELECT count(*) FROM meter_readings") == 50, timeout=20,
                     what="the 50 readings")
            listener.wait_idle(5)
        finally:
            pub.close()
    assert count(meters_db, "SELECT count(DISTINCT ts) FROM meter_readings WHERE meter_id = "
                            "(SELECT id FROM meters WHERE serial = 'M-3')") == 50
    assert held  # kept by the publisher until the listener was back, not taken as delivered
    assert count(meters_db, "SELECT count(*) FROM meter_rejects") == 0


def test_the_resend_window_ends_at_the_last_acknowledgement():
    """The window reaches back from the broker's last PUBACK, not from the moment the publisher noticed the
    lost connection: a broker that hangs is noticed only by the keepalive (up to 45 s), and what it had
    acknowledged just before would fall out of a window measured from then. A window of 1 microsecond
    makes that certain without waiting: the last acknowledged reading is published again."""
    with Mosquitto(autosave_interval_s=3600) as broker:
        pub = Publisher(broker.url, client_id=client_id(), resend_window_s=1e-6).connect()
        try:
            for i in range(5):
                pub.publish("M-1", T0 + timedelta(minutes=i), float(i))
            assert pub.flush()
            broker.kill()
            broker.start()
            wait_for(lambda: pub.reconnects >= 1, timeout=20, what="the publisher reconnecting")
            assert pub.flush(timeout=20)
        finally:
            pub.close()
    assert pub.resent >= 1


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
