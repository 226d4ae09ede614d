"""Reads shared by all the sessions of one replica for a short time (the control room's wall screens).

A use-case checks its caller's rights first and only then asks :func:`shared` for the data: a warm
entry never lets a caller skip :func:`ops.base.allow`. One computation per key at a time (the
sessions that arrive meanwhile wait for it and take its result); a failed computation is not kept.
An entry is kept ``max_age`` seconds, counted from the start of its computation, so what a caller
gets is never older than that.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")

MAX_ENTRIES = 256

_lock = threading.Lock()
_entries: dict[Hashable, tuple[float, Any]] = {}
_flights: dict[Hashable, threading.Lock] = {}


def shared(key: Hashable, max_age: float, compute: Callable[[], T]) -> T:
    """The value of ``key`` computed at most ``max_age`` seconds ago, else ``compute()`` now (once for
    all callers of the same key). ``max_age <= 0``: always computed, never kept."""
    if max_age <= 0:
        return compute()
    hit = _fresh(key, max_age)
    if hit is not None:
        return hit[1]  # type: ignore[no-any-return]
    with _lock:
        flight = _flights.setdefault(key, threading.Lock())
    with flight:
        hit = _fresh(key, max_age)   # computed by the caller we waited for
        if hit is not None:
            return hit[1]  # type: ignore[no-any-return]
        started = time.monotonic()
        value = compute()
        with _lock:
            if len(_entries) >= MAX_ENTRIES:   # a burst of distinct keys (dry-building sets): start afresh
                _entries.clear()
                for k in [k for k, f in _flights.items() if not f.locked()]:
                    del _flights[k]
            _entries[key] = (started, value)
        return value


def _fresh(key: Hashable, max_age: float) -> tuple[float, Any] | None:
    with _lock:
        hit = _entries.get(key)
    if hit is not None and time.monotonic() - hit[0] <= max_age:
        return hit
    return None


def forget() -> None:
    """Drop every entry (tests; a replica's data reloaded)."""
    with _lock:
        _entries.clear()


def db_key(eng: Any) -> str:
    """The part of a key that names the database (tests run several)."""
    return str(eng.url.render_as_string(hide_password=True))
