"""Publishing readings with QoS 1 (the simulator, tests, the benchmark): a paho client that counts the
broker's acknowledgements, so a caller can wait until everything it sent is held by the broker, and that
behaves as a smart meter does across a broker crash (docs/meters.md, "Broker crash"):

- a reading is kept until the broker acknowledges it (PUBACK); unacknowledged ones are resent after a
  reconnect (paho's in-flight queue; readings published while the broker is away wait there);
- with ``client_id`` set, an MQTT v5 session of its own (``clean_start=False``, a session expiry);
- a PUBACK only means the reading is in the broker's memory; Mosquitto writes its memory to disk every
  ``autosave_interval`` (1 s), so a crash loses what it acknowledged since its last save. The publisher
  therefore keeps what was acknowledged in the last ``resend_window_s`` seconds up to the broker's last
  PUBACK before the connection was lost (its last sign of life: a hung broker is noticed only by the
  keepalive) and publishes it again after the reconnect. The listener stores a (meter, time) once, so a copy
  that did survive costs nothing but a ``duplicate``;
- a PUBACK with reason "No matching subscribers" (MQTT v5, 0x10) is not a delivery once readings have been
  delivered to a subscriber before: the broker came back without the listener's session (it crashed before
  its first save of it, or the session expired) and dropped the reading. Such readings are kept and
  published again (0.2 s, doubling to 2 s) until a subscriber takes them; ``flush`` waits for them. Before
  anything was ever routed (no listener has ever subscribed) the answer is taken as it always was.
"""
from __future__ import annotations

import json
import threading
import time
from collections import deque
from datetime import datetime, timedelta
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from meters.errors import BrokerUnavailable
from meters.listen import parse_mqtt_url
from meters.validate import topic_of

__all__ = ["Publisher", "payload_of", "RESEND_WINDOW_S"]

# > the broker's autosave interval (1 s, i.e. up to ~2 s between saves) plus its restart and our
# reconnect delay: what was acknowledged this long before the connection broke may be gone from a
# broker that crashed, and is published again
RESEND_WINDOW_S = 10.0
NO_MATCHING_SUBSCRIBERS = 0x10  # MQTT v5 PUBACK reason: accepted, and dropped for want of a subscriber
HELD_RETRY_S = (0.2, 2.0)  # first and longest pause before publishing unrouted readings again
MAX_PENDING = 60000  # paho numbers messages 1..65535: more unacknowledged than this and numbers would clash


def payload_of(ts: datetime, total: float) -> bytes:
    """The JSON payload of a reading: ``{"ts": ISO 8601 with offset, "total": number}``."""
    return json.dumps({"ts": ts.isoformat(), "total": round(total, 6)}, separators=(",", ":")).encode()


class Publisher:
    """A QoS 1 publisher (MQTT v5). ``client_id`` set = a persistent session of its own (``clean_start``
    false, ``session_expiry_s``); either way unacknowledged messages are resent after a reconnect, and what
    the broker acknowledged in the last ``resend_window_s`` up to its last PUBACK before a lost connection is
    published again."""

    def __init__(self, mqtt_url: str, client_id: str | None = None, max_inflight: int = 1000,
                 resend_window_s: float = RESEND_WINDOW_S, session_expiry_s: int = 7 * 86400) -> None:
        self.host, self.port, tls, user, password = parse_mqtt_url(mqtt_url)
        self.client_id = client_id
        self.session_expiry_s = session_expiry_s
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or "",
                                  protocol=mqtt.MQTTv5)
        if tls:
            self.client.tls_set()
        if user:
            self.client.username_pw_set(user, password)
        self.client.max_inflight_messages_set(max_inflight)
        self.client.max_queued_messages_set(0)
        self.client.reconnect_delay_set(1, 2)
        self.resend_window_s = resend_window_s
        self._connected = threading.Event()
        self._lock = threading.Lock()
        self.sent = 0  # publishes, resends included
        self.acked = 0  # PUBACKs received
        self.resent = 0  # acknowledged readings published again after a lost connection
        self.reconnects = 0
        self.session_present = False
        self._ever_connected = False
        self._lost_at: float | None = None  # monotonic time the connection was lost, until resent
        self._last_ack_at: float | None = None  # monotonic time of the latest PUBACK
        self._window_end: float | None = None  # the last PUBACK before the connection was lost, until resent
        self._resend_due = False
        self._unacked: dict[int, tuple[str, bytes]] = {}  # mid -> message, until its PUBACK
        self._early: dict[int, bool] = {}  # PUBACKs that came before publish() returned the mid -> unrouted
        self.routed = False  # a reading was delivered to a subscriber (or queued for one): someone listens
        self.unrouted = 0  # PUBACKs "no matching subscribers" after that: readings held and published again
        self._held: list[tuple[str, bytes]] = []  # unrouted readings waiting for a subscriber
        self._held_retry_at = 0.0
        self._held_pause = HELD_RETRY_S[0]
        self._recent: deque[tuple[float, str, bytes]] = deque()  # (acked at, topic, payload)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish

    def _on_connect(self, _c: Any, _u: Any, flags: Any, reason: Any, _props: Any) -> None:
        if getattr(reason, "is_failure", False):
            return
        self.session_present = bool(getattr(flags, "session_present", False))  # the broker kept our session
        with self._lock:
            if self._ever_connected:
                self.reconnects += 1
                self._resend_due = True
            self._ever_connected = True
        self._connected.set()

    def _on_disconnect(self, *_a: object) -> None:
        with self._lock:
            if self._connected.is_set() and self._lost_at is None:
                self._lost_at = time.monotonic()
                # the window ends at the broker's last sign of life, not when the loss was noticed: a broker
                # that hangs is noticed by the keepalive only (up to 1.5 x 30 s), and what it acknowledged
                # just before hanging would otherwise fall out of the window
                last = self._last_ack_at
                self._window_end = self._lost_at if last is None else min(last, self._lost_at)
        self._connected.clear()

    def _on_publish(self, _c: Any, _u: Any, mid: int, reason: Any = None, *_a: object) -> None:
        now = time.monotonic()
        with self._lock:
            self.acked += 1
            self._last_ack_at = now
            msg = self._unacked.pop(mid, None)
            unrouted = self._unrouted(reason)
            if msg is None:
                self._early[mid] = unrouted
                return
            self._delivered(now, msg, unrouted)

    def _unrouted(self, reason: Any) -> bool:
        """Whether this PUBACK says the broker dropped the reading for want of the subscriber it had."""
        if getattr(reason, "value", 0) != NO_MATCHING_SUBSCRIBERS:
            self.routed = True
            self._held_pause = HELD_RETRY_S[0]
            return False
        return self.routed

    def _delivered(self, now: float, msg: tuple[str, bytes], unrouted: bool) -> None:
        if unrouted:  # the broker has it nowhere: keep it until a subscriber is back
            self.unrouted += 1
            if not self._held:
                self._held_retry_at = now + self._held_pause
            self._held.append(msg)
            return
        self._recent.append((now, *msg))
        self._prune(now)

    def _prune(self, now: float) -> None:
        if self._lost_at is not None:
            return  # kept until resent
        limit = now - self.resend_window_s
        while self._recent and self._recent[0][0] < limit:
            self._recent.popleft()

    def connect(self, wait_s: float = 10.0) -> Publisher:
        kw: dict[str, Any] = {"clean_start": True}  # no id: a fresh session each time (paho still resends)
        if self.client_id:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = self.session_expiry_s
            kw = {"clean_start": False, "properties": props}
        self.client.connect_async(self.host, self.port, keepalive=30, **kw)
        self.client.loop_start()
        if not self._connected.wait(wait_s):
            self.close()
            raise BrokerUnavailable(f"cannot connect to the MQTT broker at {self.host}:{self.port} within {wait_s:g} s")
        return self

    def _send(self, topic: str, payload: bytes) -> None:
        while self.pending() >= MAX_PENDING:  # the broker is away for long: hold the caller, keep what we have
            time.sleep(0.05)
        info = self.client.publish(topic, payload, qos=1)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):  # NO_CONN: queued, sent on reconnect
            raise BrokerUnavailable(f"publishing to {topic}: {mqtt.error_string(info.rc)}")
        now = time.monotonic()
        with self._lock:
            self.sent += 1
            if info.mid in self._early:
                self._delivered(now, (topic, payload), self._early.pop(info.mid))
            else:
                self._unacked[info.mid] = (topic, payload)

    def _retry_held(self) -> None:
        """Publish the unrouted readings again once their pause is over (a listener that lost its session
        subscribes again when it reconnects; until then the broker answers "no matching subscribers")."""
        with self._lock:
            if not self._held or not self._connected.is_set() or time.monotonic() < self._held_retry_at:
                return
            again, self._held = self._held, []
            self._held_pause = min(self._held_pause * 2, HELD_RETRY_S[1])
        for topic, payload in again:
            self._send(topic, payload)

    def _resend_if_due(self) -> None:
        """After a reconnect: publish again what was acknowledged shortly before the connection was lost."""
        with self._lock:
            if not self._resend_due or not self._connected.is_set():
                return
            lost = self._window_end if self._window_end is not None else time.monotonic()
            again = [(t, p) for at, t, p in self._recent if at >= lost - self.resend_window_s]
            self._recent.clear()
            self._resend_due = False
            self._lost_at = None
            self._window_end = None
            self.resent += len(again)
        for topic, payload in again:
            self._send(topic, payload)

    def publish_raw(self, topic: str, payload: bytes, qos: int = 1) -> None:
        self._resend_if_due()
        self._retry_held()
        if qos != 1:
            self.client.publish(topic, payload, qos=qos)
            return
        self._send(topic, payload)

    def publish(self, serial: str, ts: datetime, total: float) -> None:
        self.publish_raw(topic_of(serial), payload_of(ts, total))

    def pending(self) -> int:
        """Readings the publisher still holds: not acknowledged, or acknowledged as unrouted."""
        with self._lock:
            return self.sent - self.acked + len(self._held)

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until the broker acknowledged every message sent (and any resend after a reconnect is
        done, and every unrouted reading was taken by a subscriber); False on timeout."""
        end = time.monotonic() + timeout
        while True:
            self._resend_if_due()
            self._retry_held()
            with self._lock:
                done = (self.sent == self.acked and not self._held and not self._resend_due
                        and self._lost_at is None)
            if done:
                return True
            if time.monotonic() > end:
                return False
            time.sleep(0.005)

    def close(self) -> None:
        try:
            self.client.disconnect()
        finally:
            self.client.loop_stop()


def publish_series(mqtt_url: str, serials: list[str], per_meter: int, t0: datetime, step_s: float = 60.0,
                   max_inflight: int = 100) -> int:
    """Publish ``per_meter`` increasing readings of every serial (round-robin, one ``step_s`` apart from
    ``t0``) and wait for the broker's acknowledgements; for benchmarks and load tests. Returns the count."""

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
