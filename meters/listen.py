"""``python -m meters listen``: meter readings from MQTT into ``meter_readings``, each exactly once.

Exactly once = at-least-once delivery + idempotent storage + acknowledgement only after the commit:

- MQTT v5, QoS 1, a fixed client id and a persistent session (``clean_start=False`` with a session
  expiry): messages published while the listener is away, or delivered but not acknowledged, are
  (re)delivered by the broker when it comes back.
- ``manual_ack``: a message is acknowledged (PUBACK) only after the transaction holding its reading (or
  its reject) has committed. While the database is down nothing is acknowledged; the batch is retried
  with backoff and the broker keeps the rest. A crash loses nothing acknowledged.
- ``INSERT ... ON CONFLICT (meter_id, ts) DO NOTHING``: a redelivered or resent message finds its row
  and adds none (:func:`meters.validate.decide` counts it as a duplicate).
- Acknowledgements carry the connection they were received on: a message received before a reconnect
  is never acknowledged on the new connection (its packet id may by then name another message, which
  would be acknowledged before it is stored); the broker redelivers it and the copy is acknowledged.

Messages are gathered by a network thread (paho) into a queue; one writer thread takes a batch (up to
``batch_size`` messages or ``flush_ms`` after the first), validates it and writes it in one transaction.
The broker sends at most ``receive_max`` unacknowledged messages (MQTT v5 Receive Maximum), which bounds
the memory held during a database outage.
"""
from __future__ import annotations

import queue
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from meters import repo
from meters.errors import BadArgument, BadMessage, BrokerUnavailable
from meters.validate import SUBSCRIPTION, decide, parse, safe_text

__all__ = ["ListenerConfig", "ListenerStats", "Listener", "parse_mqtt_url"]


def parse_mqtt_url(url: str) -> tuple[str, int, bool, str | None, str | None]:
    """``mqtt://[user[:password]@]host[:port]`` (``mqtts://`` for TLS) -> host, port, tls, user, password."""
    try:
        u = urlsplit(url)
        port = u.port
    except ValueError as exc:
        raise BadArgument(f"MQTT URL {url!r}: {exc}") from None
    if u.scheme not in ("mqtt", "mqtts", "tcp") or not u.hostname:
        raise BadArgument(f"MQTT URL {url!r}: expected mqtt://host[:port] or mqtts://host[:port]")
    tls = u.scheme == "mqtts"
    return (u.hostname, port or (8883 if tls else 1883), tls,
            unquote(u.username) if u.username else None, unquote(u.password) if u.password else None)


@dataclass
class ListenerConfig:
    db_url: str
    mqtt_url: str = "mqtt://127.0.0.1:1883"
    client_id: str = "zhkh-meters-listener"
    batch_size: int = 2000
    flush_ms: int = 100
    receive_max: int = 10000  # unacknowledged messages the broker may send (MQTT v5, <= 65535)
    session_expiry_s: int = 7 * 86400  # the broker keeps the session (and queued messages) this long
    keepalive_s: int = 30
    # an MQTT v5 shared subscription ``$share/<group>/...``: listeners of one group (each with its own
    # client id) share the readings, each message goes to one of them (the cluster runs two; docs/scaling.md)
    share_group: str = ""

    @property
    def subscription(self) -> str:
        return f"$share/{self.share_group}/{SUBSCRIPTION}" if self.share_group else SUBSCRIPTION


@dataclass
class ListenerStats:
    received: int = 0  # messages handed over by the broker (redeliveries included)
    stored: int = 0  # new rows in meter_readings
    duplicates: int = 0  # messages whose reading was already stored (resent or redelivered)
    rejected: int = 0  # rows written to meter_rejects
    batches: int = 0
    acked: int = 0
    not_acked: int = 0  # committed, but received on an earlier connection: the broker redelivers them
    dropped_on_stop: int = 0  # arrived while stopping: left to the broker (not acknowledged)
    db_failures: int = 0  # batch attempts that failed for want of the database
    connects: int = 0
    last_error: str = ""
    by_reason: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Msg:
    __slots__ = ("epoch", "mid", "qos", "topic", "payload", "received_at")

    def __init__(self, epoch: int, mid: int, qos: int, topic: str, payload: bytes, received_at: datetime) -> None:
        self.epoch, self.mid, self.qos = epoch, mid, qos
        self.topic, self.payload, self.received_at = topic, payload, received_at


def log_stderr(line: str) -> None:
    sys.stderr.write(f"{datetime.now(UTC).isoformat(timespec='seconds')} meters listen: {line}\n")
    sys.stderr.flush()


def _reason_class(reason: str) -> str:
    return reason.split(" ", 2)[0] if not reason.startswith("unknown") else "unknown serial"


class Listener:
    """The MQTT client and the batch writer; :meth:`start`, then :meth:`stop` (or :meth:`abort`)."""

    def __init__(self, config: ListenerConfig, log: Callable[[str], None] = log_stderr) -> None:
        if not 1 <= config.batch_size <= 100_000 or not 1 <= config.flush_ms <= 60_000:
            raise BadArgument("batch size must be in 1..100000 and flush interval in 1..60000 ms")
        if not 1 <= config.receive_max <= 65535:
            raise BadArgument("receive maximum must be in 1..65535")
        if any(ch in config.share_group for ch in "/+#"):
            raise BadArgument(f"share group {config.share_group!r}: no '/', '+' or '#' in a share name (MQTT v5)")
        self.config = config
        self.stats = ListenerStats()
        self._log = log
        self._host, self._port, tls, user, password = parse_mqtt_url(config.mqtt_url)
        self._q: queue.SimpleQueue[_Msg] = queue.SimpleQueue()
        self._ack_lock = threading.Lock()
        self._epoch = 0
        self._connected = threading.Event()
        self._subscribed = threading.Event()
        self._stopping = threading.Event()
        self._abort = threading.Event()
        self._idle = threading.Event()
        self._conn: psycopg.Connection[Any] | None = None
        self._meter_cache: dict[str, int] = {}
        self._writer: threading.Thread | None = None
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=config.client_id, protocol=mqtt.MQTTv5,
                        manual_ack=True)
        if tls:
            c.tls_set()
        if user:
            c.username_pw_set(user, password)
        c.reconnect_delay_set(1, 5)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        c.on_subscribe = lambda *_a: self._subscribed.set()
        self.client = c

    # ---- MQTT side (paho's network thread)

    def _on_connect(self, client: mqtt.Client, _u: Any, flags: Any, reason: Any, _props: Any) -> None:
        if reason.is_failure:
            self.stats.last_error = f"broker refused the connection: {reason}"
            self._log(self.stats.last_error)
            return
        with self._ack_lock:
            self._epoch += 1
        if self.stats.connects and not getattr(flags, "session_present", True):
            # a broker that crashed before saving our session (or let it expire) dropped what was published
            # for us meanwhile with "no matching subscribers"; the publishers keep and resend such readings
            self._log("the broker had lost this listener's session (a crash before it was saved, or expiry); "
                      "subscribing again")
        client.subscribe(self.config.subscription, qos=1)
        self.stats.connects += 1
        self._connected.set()
        self._log(f"connected to {self._host}:{self._port} as {self.config.client_id!r}, "
                  f"subscribed to {self.config.subscription}")

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _flags: Any, reason: Any, _props: Any) -> None:
        with self._ack_lock:
            self._epoch += 1
            self._connected.clear()
        self._subscribed.clear()
        if not self._stopping.is_set():
            self._log(f"disconnected from the broker ({reason}); reconnecting")

    def _on_message(self, _c: mqtt.Client, _u: Any, m: mqtt.MQTTMessage) -> None:
        if self._stopping.is_set():  # not taken, not acknowledged: the broker keeps it for the next session
            self.stats.dropped_on_stop += 1
            return
        try:
            topic = m.topic
        except UnicodeDecodeError:
            topic = safe_text(m._topic)  # noqa: SLF001 - paho keeps the raw topic there
        self.stats.received += 1
        self._q.put(_Msg(self._epoch, m.mid, m.qos, topic, m.payload, datetime.now(UTC)))

    # ---- lifecycle

    def start(self, *, wait_s: float | None = None) -> Listener:
        """Connect (in the background, retrying) and start the writer; with ``wait_s``, wait for the broker."""
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.config.session_expiry_s
        props.ReceiveMaximum = self.config.receive_max
        self.client.connect_async(self._host, self._port, keepalive=self.config.keepalive_s,
                                  clean_start=False, properties=props)
        self.client.loop_start()
        self._writer = threading.Thread(target=self._run, name="meters-writer", daemon=True)
        self._writer.start()
        if wait_s is not None and not self._subscribed.wait(wait_s):
            self.abort()

            raise BrokerUnavailable(f"cannot connect to the MQTT broker at {self._host}:{self._port} "
                                    f"within {wait_s:g} s")
        return self

    def wait_idle(self, timeout: float) -> bool:
        """True once the queue is empty and the last batch is written (tests, benchmark)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self._idle.is_set() and self._q.empty():
                return True
            time.sleep(0.01)
        return False

    def stop(self, timeout: float = 10.0) -> ListenerStats:
        """Take no more messages, write and acknowledge those taken, disconnect. If the database stays
        down longer than ``timeout`` the rest is left unacknowledged (the broker redelivers it)."""
        self._stopping.set()
        if self._writer is not None:
            self._writer.join(timeout)
            if self._writer.is_alive():
                self._abort.set()
                self._writer.join(5)
        self._disconnect()
        return self.stats

    def abort(self) -> ListenerStats:
        """Stop at once, writing and acknowledging nothing more (as a crash would)."""
        self._stopping.set()
        self._abort.set()
        self._disconnect()
        if self._writer is not None:
            self._writer.join(5)
        return self.stats

    def _disconnect(self) -> None:
        try:
            self.client.disconnect()
        finally:
            self.client.loop_stop()
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # noqa: BLE001 - closing a dead connection
                pass
            self._conn = None

    # ---- the writer thread

    def _run(self) -> None:
        cfg = self.config
        while not self._abort.is_set():
            try:
                first = self._q.get(timeout=0.05)
            except queue.Empty:
                self._idle.set()
                if self._stopping.is_set():
                    return
                continue
            self._idle.clear()
            batch = [first]
            deadline = time.monotonic() + cfg.flush_ms / 1000
            while len(batch) < cfg.batch_size:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    batch.append(self._q.get(timeout=left))
                except queue.Empty:
                    break
            if not self._commit(batch):
                return  # aborted: nothing acknowledged
            self._ack(batch)

    def _ack(self, batch: list[_Msg]) -> None:
        acked = skipped = 0
        with self._ack_lock:
            for m in batch:
                if m.qos == 0:
                    continue
                if m.epoch == self._epoch and self._connected.is_set():
                    self.client.ack(m.mid, m.qos)
                    acked += 1
                else:
                    skipped += 1
        self.stats.acked += acked
        self.stats.not_acked += skipped

    def _commit(self, batch: list[_Msg]) -> bool:
        """Write the batch, retrying while the database is unavailable; False if aborted meanwhile."""
        delay = 0.2
        while not self._abort.is_set():
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = repo.connect(self.config.db_url)
                try:
                    self._write(batch)
                except (psycopg.OperationalError, psycopg.InterfaceError):
                    raise
                except psycopg.Error as exc:  # the database refused something: one message at a time
                    self._log(f"batch of {len(batch)} refused ({type(exc).__name__}: "
                              f"{' '.join(str(exc).split())[:200]}); writing its messages one by one")
                    self._meter_cache.clear()
                    for m in batch:
                        self._write_alone(m)
                self.stats.batches += 1
                if delay > 0.2:
                    self._log("database available again; writing")
                return True
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                self.stats.db_failures += 1
                self.stats.last_error = f"database unavailable: {' '.join(str(exc).split())[:200]}"
                if delay == 0.2:
                    self._log(f"{self.stats.last_error}; {len(batch)} message(s) held unacknowledged, retrying")
                if self._conn is not None:
                    try:
                        self._conn.close()
                    except Exception:  # noqa: BLE001
                        pass
                    self._conn = None
                self._abort.wait(delay)
                delay = min(delay * 2, 5.0)
        return False

    def _write_alone(self, m: _Msg) -> None:
        try:
            self._write([m])
            return
        except (psycopg.OperationalError, psycopg.InterfaceError):
            raise
        except psycopg.Error as exc:
            reason = f"the database refused the reading: {' '.join(str(exc).split())[:300]}"
        try:
            self._write([m], refused=reason)
        except (psycopg.OperationalError, psycopg.InterfaceError):
            raise
        except psycopg.Error as exc:  # not even the reject could be written: say so, never stop
            self.stats.last_error = f"message on {safe_text(m.topic, 100)} lost: {reason}; {exc}"
            self._log(self.stats.last_error)

    def _write(self, batch: list[_Msg], refused: str | None = None) -> None:
        """One transaction: the batch's readings and rejects. Counters change only after the commit."""
        conn = self._conn
        assert conn is not None
        now = datetime.now(UTC)
        rejects: list[tuple[str, str, str, datetime]] = []
        parsed: list[tuple[int, Any]] = []
        for i, m in enumerate(batch):
            if refused is not None:
                rejects.append((safe_text(m.topic), safe_text(m.payload), refused, m.received_at))
                continue
            try:
                parsed.append((i, parse(m.topic, m.payload, now)))
            except BadMessage as exc:
                rejects.append((safe_text(m.topic), safe_text(m.payload), str(exc), m.received_at))
            except Exception as exc:  # noqa: BLE001 - a message never stops the listener
                rejects.append((safe_text(m.topic), safe_text(m.payload),
                                f"cannot read the message: {type(exc).__name__}: {safe_text(str(exc), 200)}",
                                m.received_at))
        stored = duplicates = 0
        with conn.transaction():
            repo.lock_batch(conn)
            missing = {r.serial for _, r in parsed if r.serial not in self._meter_cache}
            if missing:
                self._meter_cache.update(repo.meter_ids(conn, sorted(missing)))
            cands = []
            for i, r in parsed:
                mid = self._meter_cache.get(r.serial)
                if mid is None:
                    m = batch[i]
                    rejects.append((safe_text(m.topic), safe_text(m.payload),
                                    f"unknown meter serial {r.serial!r}", m.received_at))
                else:
                    cands.append((i, mid, r.ts, r.total))
            nb = repo.neighbours(conn, [c[0] for c in cands], [c[1] for c in cands], [c[2] for c in cands])
            accepted, dups, rejected = decide(cands, nb)
            by_key = {c[0]: c for c in cands}
            for k, reason in rejected:
                m = batch[k]
                rejects.append((safe_text(m.topic), safe_text(m.payload), reason, m.received_at))
            stored = repo.insert_readings(conn, [(by_key[k][1], by_key[k][2], by_key[k][3], batch[k].received_at)
                                                 for k in accepted])
            duplicates = len(dups) + (len(accepted) - stored)
            repo.insert_rejects(conn, rejects)
        s = self.stats
        s.stored += stored
        s.duplicates += duplicates
        s.rejected += len(rejects)
        for r in rejects:
            cls = _reason_class(r[2])
            s.by_reason[cls] = s.by_reason.get(cls, 0) + 1

