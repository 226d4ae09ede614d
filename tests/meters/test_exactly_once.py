"""Each reading is stored exactly once: a resent message, duplicates within a batch and redeliveries add
no row; the counters say which were duplicates."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from meters.publisher import payload_of
from meters.validate import topic_of
from tests.meters.conftest import count, wait_for

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def test_same_message_twice_is_one_row(meters_db, make_listener, publisher):
    listener = make_listener(flush_ms=20)
    publisher.publish("M-1", T0, 10.5)
    assert publisher.flush()
    wait_for(lambda: listener.stats.stored == 1, what="the first copy")
    publisher.publish("M-1", T0, 10.5)  # resent later, in another batch
    assert publisher.flush()
    wait_for(lambda: listener.stats.duplicates == 1, what="the resent copy")
    assert count(meters_db, "SELECT count(*) FROM meter_readings") == 1
    assert count(meters_db, "SELECT count(*) FROM meter_rejects") == 0
    with meters_db.connect() as conn:
        from sqlalchemy import text

        row = conn.execute(text("SELECT m.serial, r.ts, r.total FROM meter_readings r JOIN meters m ON m.id = r.meter_id")).one()
    assert row == ("M-1", T0, 10.5)
    wait_for(lambda: listener.stats.acked == 2, what="both acknowledged")


def test_batch_with_duplicates(meters_db, make_listener, publisher):
    listener = make_listener(flush_ms=500, batch_size=10_000)  # everything lands in one or two batches
    sent = 0
    for i in range(200):
        for serial in ("M-1", "M-2"):
            for _copy in range(2 if i % 3 == 0 else 1):
                publisher.publish(serial, T0 + timedelta(minutes=15 * i), 100 + i)
                sent += 1
    assert publisher.flush()
    wait_for(lambda: listener.stats.stored + listener.stats.duplicates == sent, what="all messages")
    assert count(meters_db, "SELECT count(*) FROM meter_readings") == 400
    assert count(meters_db, "SELECT count(DISTINCT (meter_id, ts)) FROM meter_readings") == 400
    assert listener.stats.duplicates == sent - 400
    assert listener.stats.rejected == 0
    assert count(meters_db, "SELECT count(*) FROM meter_rejects") == 0


def test_same_time_other_total_is_a_conflict(meters_db, make_listener, publisher):
    listener = make_listener(flush_ms=20)
    publisher.publish("M-3", T0, 5.0)
    assert publisher.flush()
    wait_for(lambda: listener.stats.stored == 1)
    publisher.publish_raw(topic_of("M-3"), payload_of(T0, 6.0))
    assert publisher.flush()
    wait_for(lambda: listener.stats.rejected == 1)
    with meters_db.connect() as conn:
        from sqlalchemy import text

        reason = conn.execute(text("SELECT reason FROM meter_rejects")).scalar_one()
        total = conn.execute(text("SELECT total FROM meter_readings")).scalar_one()
    assert "conflicting total 6" in reason and "5 is already stored" in reason
    assert total == 5.0
