"""Two listeners of one MQTT v5 shared subscription (``$share/<group>/zhkh/meters/+/reading``, distinct client
ids: the cluster's two, docs/scaling.md) share the readings: each is stored once, both take part; one of
them dies (as a crash: nothing more acknowledged) and the other stores what follows; what the dead one
had received but not acknowledged is stored when it comes back with its id — nothing lost, nothing doubled.

Measured with Mosquitto 2.0.11: the broker keeps handing a share of the new readings to the dead listener's
persistent session too (queued until it reconnects), so the survivor takes only its own share until the dead
one is restarted with its client id — which the cluster's supervisor must do (docs/scaling.md, the broker's
path); a session without persistence would lose what was in flight instead."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from meters.errors import BadArgument
from meters.listen import Listener, ListenerConfig
from meters.publisher import Publisher
from tests.meters.conftest import client_id, count, wait_for

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _publish(pub: Publisher, serial: str, start: int, n: int) -> None:
    for i in range(start, start + n):
        pub.publish(serial, T0 + timedelta(minutes=i), float(i))


def test_two_listeners_share_the_readings_and_survive_one_dying(meters_db, make_listener, broker):
    group = f"g{client_id()[-8:]}"
    first, second = client_id(), client_id()
    a = make_listener(client_id=first, share_group=group, flush_ms=20)
    b = make_listener(client_id=second, share_group=group, flush_ms=20)
    assert a.config.subscription == f"$share/{group}/zhkh/meters/+/reading"
    pub = Publisher(broker.url, client_id=client_id()).connect()
    try:
        _publish(pub, "M-1", 0, 400)
        assert pub.flush()
        wait_for(lambda: count(meters_db, "SELECT count(*) FROM meter_readings") == 400, timeout=20,
                 what="the first 400 readings")
        assert a.stats.stored > 0 and b.stats.stored > 0, (a.stats.stored, b.stats.stored)
        assert a.stats.stored + b.stats.stored == 400

        a.abort()  # dies: what it holds is not acknowledged
        _publish(pub, "M-2", 0, 400)
        assert pub.flush()
        wait_for(lambda: count(meters_db, "SELECT count(*) FROM meter_readings WHERE meter_id = "
                                          "(SELECT id FROM meters WHERE serial = 'M-2')") > 0,
                 timeout=20, what="the survivor storing readings")
        # the dead one's persistent session keeps what the broker had handed it: back with its id, it stores it
        make_listener(client_id=first, share_group=group, flush_ms=20)
        wait_for(lambda: count(meters_db, "SELECT count(*) FROM meter_readings") == 800, timeout=30,
                 what="all 800 readings")
    finally:
        pub.close()
    assert count(meters_db, "SELECT count(*) FROM (SELECT DISTINCT meter_id, ts FROM meter_readings) d") == 800
    assert count(meters_db, "SELECT count(*) FROM meter_rejects") == 0


def test_a_share_group_with_a_wildcard_is_refused(db_url):
    with pytest.raises(BadArgument, match="share group"):
        Listener(ListenerConfig(db_url=db_url, share_group="a/b"), log=lambda _l: None)
