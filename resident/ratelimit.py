"""Per-IP rate limits of the residents' page, shared by every replica: a general one for every request
and a stricter one for account-code tries. A bucket holds ``capacity`` tokens and refills ``capacity``
per ``per_s``.

The buckets live in PostgreSQL (``rate_limit_buckets``, migration 0025), not in the process: behind
HAProxy two replicas (or ten) would each give a client the whole rate. A hit is one statement (an
UPSERT, atomic per row: concurrent hits of one client on two replicas queue on the row's lock), so
the limit costs one round trip to the leader per request."""
from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Callable

from sqlalchemy import Engine, text

SWEEP_S = 60.0   # how often a process deletes the buckets that are full again (rows no longer needed)

# GCRA: ``tat`` is when the bucket will be full again; a hit moves it ``inc`` seconds on, unless that puts it
# more than ``burst`` (the whole period) ahead of now — then the hit is refused and the row kept as it was
_HIT = text("""
    INSERT INTO rate_limit_buckets AS b (bucket, key, tat, allowed)
    VALUES (:bucket, :key, CASE WHEN :inc <= :burst THEN now() + make_interval(secs => :inc) ELSE now() END,
            :inc <= :burst)
    ON CONFLICT (bucket, key) DO UPDATE SET
        allowed = greatest(b.tat, now()) + make_interval(secs => :inc) <= now() + make_interval(secs => :burst),
        tat = CASE WHEN greatest(b.tat, now()) + make_interval(secs => :inc) <= now() + make_interval(secs => :burst)
                   THEN greatest(b.tat, now()) + make_interval(secs => :inc) ELSE b.tat END
    RETURNING allowed, extract(epoch FROM b.tat - now())::float8 AS ahead
""")
_SWEEP = text("DELETE FROM rate_limit_buckets WHERE tat < now()")


class Buckets:
    """One limit (``name``: ``general``, ``code_tries``) over the database of ``db``. The row's name carries
    the rate too, so replicas configured alike share a bucket and a changed limit starts from full ones."""

    def __init__(self, db: Callable[[], Engine], name: str, capacity: float, per_s: float) -> None:
        self.db = db
        self.capacity = float(capacity)
        self.per_s = float(per_s)
        self.name = f"{name}:{self.capacity:g}/{self.per_s:g}s"
        self._swept = time.monotonic()
        self._lock = threading.Lock()

    def take(self, key: str, cost: float = 1.0) -> float:
        """Take ``cost`` tokens for ``key``: 0 when allowed, else the seconds until it would be. Blocking
        (one statement on the leader): call it from a worker thread."""
        inc = cost * self.per_s / self.capacity
        with self.db().begin() as conn:
            row = conn.execute(_HIT, {"bucket": self.name, "key": key[:64], "inc": inc, "burst": self.per_s}).one()
        if self._sweep_due():   # once a minute per process, in a transaction of its own
            with self.db().begin() as conn:
                conn.execute(_SWEEP)
        return 0.0 if row.allowed else max(0.0, float(row.ahead) + inc - self.per_s)

    def _sweep_due(self) -> bool:
        now = time.monotonic()
        with self._lock:
            if now - self._swept < SWEEP_S:
                return False
            self._swept = now
            return True


def trusted_networks(spec: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """``ZHKH_TRUSTED_PROXIES``: comma-separated addresses or CIDR networks; a bad entry is an error."""
    out = []
    for part in (p.strip() for p in spec.split(",")):
        if part:
            try:
                out.append(ipaddress.ip_network(part, strict=False))
            except ValueError:
                raise ValueError(f"ZHKH_TRUSTED_PROXIES: {part!r} is not an address or a network") from None
    return tuple(out)


def _trusted(address: str, networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return False
    return any(ip in n for n in networks)


def client_address(peer: str | None, forwarded_for: list[str],
                   networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]) -> str:
    """The client's address: the TCP peer, unless the peer is a trusted proxy — then the right-most
    ``X-Forwarded-For`` entry that is not a trusted proxy (entries further left were written by the
    client and prove nothing). All headers of the name count, in order."""
    peer = peer or "unknown"
    if not networks or not _trusted(peer, networks):
        return peer
    chain = [e.strip() for h in forwarded_for for e in h.split(",") if e.strip()]
    for entry in reversed(chain):
        if not _trusted(entry, networks):
            return entry[:64]
    return chain[0][:64] if chain else peer
