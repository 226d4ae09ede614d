"""Publishing readings with QoS 1 (the simulator, tests, the benchmark): a thin paho client that counts
the broker's acknowledgements, so a caller can wait until everything it sent is held by the broker."""
from __future__ import annotations

import json
import threading
import time
from datetime import datetime

import paho.mqtt.client as mqtt

from meters.errors import BrokerUnavailable
from meters.listen import parse_mqtt_url
from meters.validate import topic_of

__all__ = ["Publisher", "payload_of"]


def payload_of(ts: datetime, total: float) -> bytes:
    """The JSON payload of a reading: ``{"ts": ISO 8601 with offset, "total": number}``."""
    return json.dumps({"ts": ts.isoformat(), "total": round(total, 6)}, separators=(",", ":")).encode()


class Publisher:
    """A QoS 1 publisher; ``client_id`` set = a persistent session (unacknowledged messages are resent
    after a reconnect, e.g. across a broker restart)."""

    def __init__(self, mqtt_url: str, client_id: str | None = None, max_inflight: int = 1000) -> None:
        self.host, self.port, tls, user, password = parse_mqtt_url(mqtt_url)
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or "",
                                  clean_session=client_id is None, protocol=mqtt.MQTTv311)
        if tls:
            self.client.tls_set()
        if user:
            self.client.username_pw_set(user, password)
        self.client.max_inflight_messages_set(max_inflight)
        self.client.max_queued_messages_set(0)
        self.client.reconnect_delay_set(1, 2)
        self._connected = threading.Event()
        self._lock = threading.Lock()
        self.sent = 0
        self.acked = 0
        self.client.on_connect = lambda *a: self._connected.set()
        self.client.on_disconnect = lambda *a: self._connected.clear()
        self.client.on_publish = self._on_publish

    def _on_publish(self, *_a: object) -> None:
        with self._lock:
            self.acked += 1

    def connect(self, wait_s: float = 10.0) -> Publisher:
        self.client.connect_async(self.host, self.port, keepalive=30)
        self.client.loop_start()
        if not self._connected.wait(wait_s):
            self.close()
            raise BrokerUnavailable(f"cannot connect to the MQTT broker at {self.host}:{self.port} within {wait_s:g} s")
        return self

    def publish_raw(self, topic: str, payload: bytes, qos: int = 1) -> None:
        self.client.publish(topic, payload, qos=qos)
        with self._lock:
            self.sent += 1

    def publish(self, serial: str, ts: datetime, total: float) -> None:
        self.publish_raw(topic_of(serial), payload_of(ts, total))

    def pending(self) -> int:
        with self._lock:
            return self.sent - self.acked

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until the broker acknowledged every message sent; False on timeout."""
        end = time.monotonic() + timeout
        while self.pending() > 0:
            if time.monotonic() > end:
                return False
            time.sleep(0.005)
        return True

    def close(self) -> None:
        try:
            self.client.disconnect()
        finally:
            self.client.loop_stop()


def publish_series(mqtt_url: str, serials: list[str], per_meter: int, t0: datetime, step_s: float = 60.0,
                   max_inflight: int = 100) -> int:
    """Publish ``per_meter`` increasing readings of every serial (round-robin, one ``step_s`` apart from
    ``t0``) and wait for the broker's acknowledgements; for benchmarks and load tests. Returns the count."""
    from datetime import timedelta

    topics = [topic_of(s) for s in serials]
    pub = Publisher(mqtt_url, max_inflight=max_inflight).connect()
    try:
        for i in range(per_meter):
            ts = t0 + timedelta(seconds=i * step_s)
            for k, topic in enumerate(topics):
                pub.publish_raw(topic, payload_of(ts, 1000.0 + k + i * 0.5))
        pub.flush(timeout=600)
    finally:
        pub.close()
    return per_meter * len(topics)
