"""Nothing acknowledged is lost and nothing is stored twice across a broker restart (a private Mosquitto
with persistence, stopped and started mid-stream) and a database outage (a TCP proxy in front of
PostgreSQL, cut and restored), also when the listener itself dies during the outage."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import make_url

from meters.broker import Mosquitto
from meters.publisher import Publisher
from tests.meters.conftest import client_id, count, wait_for
from tests.ui.proxy import Proxy

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _publish(pub: Publisher, serial: str, start: int, n: int) -> None:
    for i in range(start, start + n):
        pub.publish(serial, T0 + timedelta(minutes=i), float(i))


def test_broker_restart_mid_stream(meters_db, make_listener):
    with Mosquitto() as broker:
        # a slow flush: when the broker goes down, the listener holds a batch it has not acknowledged yet
        listener = make_listener(mqtt_url=broker.url, flush_ms=300)
        pub = Publisher(broker.url, client_id=client_id()).connect()
        try:
            _publish(pub, "M-1", 0, 500)
            assert pub.flush()
            broker.restart()
            _publish(pub, "M-1", 500, 500)  # queued by the publisher until it is back
            assert pub.flush(timeout=20)
            wait_for(lambda: count(meters_db, "SELECT count(*) FROM meter_readings") == 1000, timeout=20,
                     what="all 1000 readings")
            listener.wait_idle(5)
        finally:
            pub.close()
    assert count(meters_db, "SELECT count(DISTINCT ts) FROM meter_readings") == 1000
    assert count(meters_db, "SELECT count(*) FROM meter_rejects") == 0
    assert listener.stats.connects >= 2
    assert listener.stats.stored == 1000


def test_database_outage_holds_acks_and_loses_nothing(meters_db, make_listener, broker, publisher, db_url):
    proxy = Proxy(("127.0.0.1", make_url(db_url).port or 5432))
    proxy.up()
    via_proxy = make_url(db_url).set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    cid = client_id()
    try:
        listener = make_listener(db_url=via_proxy, client_id=cid, flush_ms=20)
        _publish(publisher, "M-1", 0, 100)
        assert publisher.flush()
        wait_for(lambda: listener.stats.stored == 100, what="the first 100")
        acked_before = listener.stats.acked

        # 1. the database goes away and comes back: the listener holds its batch, then writes it
        proxy.down()
        _publish(publisher, "M-1", 100, 100)
        assert publisher.flush()
        wait_for(lambda: listener.stats.received == 200 and listener.stats.db_failures >= 2,
                 what="the listener retrying")
        assert listener.stats.acked == acked_before  # nothing acknowledged while nothing is stored
        assert count(meters_db, "SELECT count(*) FROM meter_readings") == 100
        proxy.up()
        wait_for(lambda: listener.stats.stored == 200, timeout=15, what="the held batch after recovery")
        wait_for(lambda: listener.stats.acked == acked_before + 100, what="acks after the commit")

        # 2. the database goes away and the listener dies meanwhile: the broker still holds the messages
        proxy.down()
        _publish(publisher, "M-1", 200, 100)
        assert publisher.flush()
        wait_for(lambda: listener.stats.received == 300 and listener.stats.db_failures >= 4,
                 what="the listener retrying again")
        listener.abort()
        assert listener.stats.acked == acked_before + 100
        proxy.up()
        again = make_listener(db_url=via_proxy, client_id=cid, flush_ms=20)  # same session
        wait_for(lambda: count(meters_db, "SELECT count(*) FROM meter_readings") == 300, timeout=15,
                 what="the redelivered messages")
        assert again.stats.stored == 100
    finally:
        proxy.down()
    assert count(meters_db, "SELECT count(DISTINCT ts) FROM meter_readings") == 300
    assert count(meters_db, "SELECT count(*) FROM meter_rejects") == 0
