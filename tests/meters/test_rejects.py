"""Every class of bad message becomes one row of meter_rejects naming the problem, and the listener goes
on storing the good ones around them."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from meters.publisher import payload_of
from meters.validate import topic_of
from tests.meters.conftest import wait_for

T0 = datetime(2026, 11, 1, tzinfo=UTC)
TOPIC = topic_of("M-1")


def test_each_bad_class_is_rejected_with_its_reason(meters_db, make_listener, publisher):
    listener = make_listener(flush_ms=50)
    future = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    bad: list[tuple[str, bytes, str]] = [
        (TOPIC, b'{"ts": "2026-11-01T00:00:00+00:00", "total": ', "malformed JSON"),
        (TOPIC, b"\xff\xfe not utf-8", "not UTF-8"),
        (TOPIC, b'{"ts": "2026-11-01T00:00:00+00:00", "total": 1}\x00', "NUL byte"),
        (TOPIC, b"[1, 2]", "not a JSON object"),
        (TOPIC, b'{"total": 5}', "missing field ts"),
        (TOPIC, b'{"ts": "2026-11-01T00:00:00+00:00"}', "missing field total"),
        (TOPIC, b'{"ts": "2026-11-01T00:00:00+00:00", "total": "12"}', "total must be a number"),
        (TOPIC, b'{"ts": "2026-11-01T00:00:00+00:00", "total": NaN}', "not a finite number"),
        (TOPIC, b'{"ts": "2026-11-01T00:00:00+00:00", "total": -3}', "negative total"),
        (TOPIC, b'{"ts": "2026-11-01T00:00:00", "total": 3}', "no UTC offset"),
        (TOPIC, b'{"ts": "yesterday", "total": 3}', "not an ISO 8601 time"),
        (TOPIC, ('{"ts": "%s", "total": 3}' % future).encode(), "in the future"),
        (topic_of("NO-SUCH-METER"), payload_of(T0, 1.0), "unknown meter serial 'NO-SUCH-METER'"),
        ("zhkh/meters/bad serial!/reading", payload_of(T0, 1.0), "is not zhkh/meters/{serial}/reading"),
    ]
    # good readings before, between and after the bad ones
    publisher.publish("M-1", T0, 100.0)
    for i, (topic, payload, _reason) in enumerate(bad):
        publisher.publish_raw(topic, payload)
        publisher.publish("M-2", T0 + timedelta(hours=i), 10.0 + i)
    # a register that went backwards: against the stored reading, and within one batch
    publisher.publish("M-1", T0 + timedelta(hours=1), 99.5)
    publisher.publish("M-3", T0, 7.0)
    publisher.publish("M-3", T0 + timedelta(hours=1), 6.0)
    assert publisher.flush()
    expected_rejects = len(bad) + 2
    wait_for(lambda: listener.stats.rejected == expected_rejects and listener.stats.stored == 2 + len(bad),
             what=f"{expected_rejects} rejects and {2 + len(bad)} readings")
    with meters_db.connect() as conn:
        rejects = conn.execute(text("SELECT topic, payload, reason FROM meter_rejects ORDER BY id")).all()
        stored = conn.execute(text("SELECT m.serial, count(*) FROM meter_readings r JOIN meters m ON m.id = r.meter_id "
                                   "GROUP BY 1 ORDER BY 1")).all()
    assert len(rejects) == expected_rejects
    reasons = [r.reason for r in rejects]
    for topic, payload, reason in bad:
        hits = [r for r in rejects if reason in r.reason]
        assert len(hits) == 1, (reason, reasons)
        assert hits[0].topic == topic
    nul = next(r for r in rejects if "NUL" in r.reason)
    assert "\\x00" in nul.payload  # the payload is kept, made storable
    backwards = [r for r in rejects if "decreasing total" in r.reason]
    assert len(backwards) == 2 and all("went backwards" in r.reason for r in backwards)
    assert {r.topic for r in backwards} == {topic_of("M-1"), topic_of("M-3")}
    assert stored == [("M-1", 1), ("M-2", len(bad)), ("M-3", 1)]
    # every message, good or bad, was acknowledged: nothing will be redelivered
    wait_for(lambda: listener.stats.acked == listener.stats.received, what="all acknowledged")


def test_out_of_order_reading_checked_against_both_neighbours(meters_db, make_listener, publisher):
    listener = make_listener(flush_ms=20)
    publisher.publish("M-1", T0, 10.0)
    publisher.publish("M-1", T0 + timedelta(hours=2), 20.0)
    assert publisher.flush()
    wait_for(lambda: listener.stats.stored == 2)
    publisher.publish("M-1", T0 + timedelta(hours=1), 25.0)  # late, and above the later reading
    publisher.publish("M-1", T0 + timedelta(hours=1, minutes=30), 15.0)  # late and in between: fine
    assert publisher.flush()
    wait_for(lambda: listener.stats.stored == 3 and listener.stats.rejected == 1)
    with meters_db.connect() as conn:
        reason = conn.execute(text("SELECT reason FROM meter_rejects")).scalar_one()
    assert "above the later reading 20" in reason
