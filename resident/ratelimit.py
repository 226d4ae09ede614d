"""Per-IP token buckets, in process: a general one for every request and a stricter one for
account-code tries. A bucket holds ``capacity`` tokens and refills ``capacity`` per ``per_s``."""
from __future__ import annotations

import ipaddress
import threading
import time
from collections import OrderedDict


class Buckets:
    def __init__(self, capacity: float, per_s: float, *, max_keys: int = 100_000) -> None:
        self.capacity = float(capacity)
        self.rate = float(capacity) / float(per_s)
        self.max_keys = max_keys
        self._state: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str, cost: float = 1.0, *, now: float | None = None) -> float:
        """Take ``cost`` tokens for ``key``: 0 when allowed, else the seconds until it would be."""
        at = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._state.pop(key, (self.capacity, at))
            tokens = min(self.capacity, tokens + (at - last) * self.rate)
            if tokens >= cost:
                self._state[key] = (tokens - cost, at)
                wait = 0.0
            else:
                self._state[key] = (tokens, at)
                wait = (cost - tokens) / self.rate
            while len(self._state) > self.max_keys:
                self._state.popitem(last=False)  # the longest-idle address goes first
            return wait


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
