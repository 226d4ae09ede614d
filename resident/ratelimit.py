"""Per-IP token buckets, in process: a general one for every request and a stricter one for
account-code tries. A bucket holds ``capacity`` tokens and refills ``capacity`` per ``per_s``."""
from __future__ import annotations

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
