"""What makes a message on ``zhkh/meters/{serial}/reading`` a reading, and what makes it a reject.

Pure functions (no broker, no database), used by the listener for every message:

- :func:`parse` checks one message on its own: topic, UTF-8, JSON object, ``ts`` (ISO 8601 *with* a UTC
  offset, not in the future beyond ``MAX_SKEW_S``), ``total`` (a finite number >= 0). It raises
  :class:`~meters.errors.BadMessage` whose text is the reason stored in ``meter_rejects``.
- :func:`decide` checks a batch of parsed readings against each other and against the readings already
  stored around them (same time, the latest before, the earliest after): a register only goes up, and
  a meter has one total per time. A resent message (same meter, time and total) is a duplicate, not a
  reject and not a second row.
"""
from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from meters.errors import BadMessage

__all__ = ["TOPIC_PATTERN", "MAX_SKEW_S", "MAX_PAYLOAD_CHARS", "Reading", "Neighbours", "parse",
           "decide", "safe_text", "topic_of"]

TOPIC_PATTERN = "zhkh/meters/{serial}/reading"
SUBSCRIPTION = "zhkh/meters/+/reading"
_TOPIC_RE = re.compile(r"zhkh/meters/([A-Za-z0-9._-]{1,64})/reading")
MAX_SKEW_S = 300  # a meter's clock may run this far ahead of the listener's
MAX_PAYLOAD_CHARS = 8192  # of a rejected payload kept in meter_rejects


def topic_of(serial: str) -> str:
    """The topic a meter publishes its readings on."""
    return f"zhkh/meters/{serial}/reading"


@dataclass(slots=True)
class Reading:
    """One parsed message: the meter's serial, the register's time and cumulative total."""

    serial: str
    ts: datetime
    total: float


@dataclass(slots=True)
class Neighbours:
    """What is stored for a reading's meter around its time (from the database)."""

    same_total: float | None = None  # a stored total at exactly this time
    prev_ts: datetime | None = None
    prev_total: float | None = None
    next_ts: datetime | None = None
    next_total: float | None = None


def safe_text(data: bytes | str | None, limit: int = MAX_PAYLOAD_CHARS) -> str:
    """Bytes or text as storable text: invalid UTF-8 replaced, NUL shown as ``\\x00``, cut at ``limit``."""
    if data is None:
        return ""
    text = data.decode("utf-8", errors="replace") if isinstance(data, (bytes, bytearray)) else str(data)
    text = text.replace("\x00", "\\x00")
    if len(text) > limit:
        text = text[:limit] + f"... [{len(text) - limit} more characters]"
    return text


def _show(value: object, limit: int = 80) -> str:
    return safe_text(repr(value), limit)


def parse(topic: str, payload: bytes, now: datetime) -> Reading:
    """The reading in one message, or :class:`BadMessage` naming the problem (``now``: aware)."""
    m = _TOPIC_RE.fullmatch(topic)
    if m is None:
        raise BadMessage(f"topic {_show(topic)} is not {TOPIC_PATTERN} with a serial of 1-64 letters, "
                         "digits, '.', '_' or '-'")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadMessage(f"payload is not UTF-8 text (byte {exc.start})") from None
    if "\x00" in text:
        raise BadMessage("payload contains a NUL byte")
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise BadMessage(f"malformed JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise BadMessage(f"payload is not a JSON object but {type(doc).__name__}: expected "
                         '{"ts": ISO 8601 with offset, "total": number}')
    missing = [k for k in ("ts", "total") if k not in doc]
    if missing:
        raise BadMessage(f"missing field{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
    total = doc["total"]
    if isinstance(total, bool) or not isinstance(total, (int, float)):
        raise BadMessage(f"total must be a number, got {type(total).__name__} {_show(total)}")
    try:
        total = float(total)
    except OverflowError:
        raise BadMessage("total is out of range") from None
    if not math.isfinite(total):
        raise BadMessage(f"total is not a finite number: {total}")
    if total < 0:
        raise BadMessage(f"negative total {total:g}")
    raw_ts = doc["ts"]
    if not isinstance(raw_ts, str):
        raise BadMessage(f"ts must be an ISO 8601 string, got {type(raw_ts).__name__} {_show(raw_ts)}")
    try:
        ts = datetime.fromisoformat(raw_ts)
    except ValueError:
        raise BadMessage(f"ts {_show(raw_ts)} is not an ISO 8601 time") from None
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise BadMessage(f"ts {_show(raw_ts)} has no UTC offset (write e.g. 2026-11-27T10:00:00+03:00)")
    if ts - now > timedelta(seconds=MAX_SKEW_S):
        raise BadMessage(f"ts {_show(raw_ts)} is in the future (more than {MAX_SKEW_S} s ahead of "
                         f"the listener's clock, {now.isoformat(timespec='seconds')})")
    return Reading(m.group(1), ts, total)


def decide(batch: Iterable[tuple[int, int, datetime, float]], stored: Mapping[int, Neighbours]
           ) -> tuple[list[int], list[int], list[tuple[int, str]]]:
    """Split a batch of ``(key, meter_id, ts, total)`` into stored, duplicate and rejected keys.

    ``stored[key]`` holds what the database has around that reading. Readings of a meter are taken in
    time order (ties: in ``key`` order, which is the order of arrival): the first total at a time wins,
    the same total again is a duplicate, another one conflicts; a total below the one before it (stored
    or accepted earlier in the batch) or above a later stored one means the register went backwards.
    """
    accepted: list[int] = []
    duplicates: list[int] = []
    rejected: list[tuple[int, str]] = []
    last_meter = None
    last: tuple[datetime, float] | None = None  # the latest reading of this meter accepted in the batch
    for key, meter_id, ts, total in sorted(batch, key=lambda r: (r[1], r[2], r[0])):
        if meter_id != last_meter:
            last_meter, last = meter_id, None
        nb = stored.get(key) or Neighbours()
        when = ts.isoformat()
        if last is not None and last[0] == ts:
            if last[1] == total:
                duplicates.append(key)
            else:
                rejected.append((key, f"conflicting total {total:g} at {when}: {last[1]:g} arrived first "
                                      "for this meter and time"))
            continue
        if nb.same_total is not None:
            if nb.same_total == total:
                duplicates.append(key)
            else:
                rejected.append((key, f"conflicting total {total:g} at {when}: {nb.same_total:g} is already "
                                      "stored for this meter and time"))
            continue
        prev = None
        if nb.prev_ts is not None:
            prev = (nb.prev_ts, nb.prev_total)
        if last is not None and (prev is None or last[0] > prev[0]):
            prev = last
        if prev is not None and total < prev[1]:
            rejected.append((key, f"decreasing total {total:g} at {when}: below {prev[1]:g} at "
                                  f"{prev[0].isoformat()} (the register went backwards)"))
            continue
        if nb.next_ts is not None and total > nb.next_total:
            rejected.append((key, f"decreasing total: {total:g} at {when} is above the later reading "
                                  f"{nb.next_total:g} at {nb.next_ts.isoformat()} (the register went backwards)"))
            continue
        accepted.append(key)
        last = (ts, total)
    return accepted, duplicates, rejected
