"""The JSON contract of ``python -m billing recalc FILE.json`` (see docs/billing.md).

Input: a JSON list of ``{"id", "service", "period": "YYYY-MM", "charge_rub",
"interruptions": [{"start", "end"}], "electricity_sources": 1|2}`` (times ISO 8601 with an
offset). Output: a list in the same order of ``{"id", "interruption_h", "allowance_h",
"excess_h", "reduction_pct", "reduction_rub"}``.

Validation looks at the whole item and raises :class:`~billing.errors.InvalidItem` for the
first bad one, naming it by index and id and listing all of its problems on one line.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from billing.errors import BillingError, InputFileError, InvalidItem
from billing.rule import (
    Recalculation,
    canonical_service,
    check_charge,
    format_number,
    month_bounds,
    recalculate,
)
from billing.rules_file import BillingRules

__all__ = ["RecalcItem", "dump_json", "parse_items", "read_json_file", "recalc_items"]

_FIELDS = ("id", "service", "period", "charge_rub", "interruptions")


@dataclass(frozen=True)
class RecalcItem:
    """One validated input item (``service`` in the project's vocabulary)."""

    index: int
    id: str | int
    service: str
    period: str
    charge_rub: Decimal
    interruptions: tuple[tuple[datetime, datetime], ...]
    electricity_sources: int | None


def _short(value: Any, limit: int = 60) -> str:
    """A one-line JSON rendering of ``value`` for messages (control characters escaped)."""
    try:
        text = json.dumps(value, default=str, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        text = repr(value)
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return text if len(text) <= limit else text[:limit] + "…"


def _constant(name: str) -> Decimal:
    return Decimal(name.replace("Infinity", "Inf"))  # NaN, Infinity, -Infinity: rejected by validation


def read_json_file(path: str) -> Any:
    """The parsed JSON of ``path`` (``-`` = stdin); decimals stay exact (``Decimal``).

    ``InputFileError`` for a missing/unreadable file, NUL bytes, text that is not UTF-8 or not JSON.
    """
    try:
        data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    nul = data.find(b"\x00")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise InputFileError(f"{path}: contains a NUL byte (line {line}, byte offset {nul})")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputFileError(f"{path}: not UTF-8 text (bad byte at offset {exc.start})") from None
    if not text.strip():
        raise InputFileError(f"{path}: empty file (expected a JSON list of items)")
    try:
        return json.loads(text, parse_float=Decimal, parse_constant=_constant)
    except json.JSONDecodeError as exc:
        raise InputFileError(f"{path}: not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except (ValueError, RecursionError) as exc:
        raise InputFileError(f"{path}: not valid JSON: {' '.join(str(exc).split())[:200]}") from None


def _label(index: int, item: Any) -> str:
    if isinstance(item, dict) and "id" in item and isinstance(item["id"], (str, int)) \
            and not isinstance(item["id"], bool):
        return f"item [{index}] (id {_short(item['id'])})"
    return f"item [{index}]"


def _time(value: Any, where: str, problems: list[str]) -> datetime | None:
    if value is None:
        problems.append(f"{where}: missing")
        return None
    if not isinstance(value, str):
        problems.append(f"{where}: must be an ISO 8601 string, got {_short(value)}")
        return None
    try:
        t = datetime.fromisoformat(value) if "\x00" not in value else None
    except ValueError:
        t = None
    if t is None:
        problems.append(f"{where}: not an ISO 8601 time: {_short(value)}")
        return None
    if t.tzinfo is None or t.utcoffset() is None:
        problems.append(f"{where}: {_short(value)} has no offset (write e.g. +03:00 or Z)")
        return None
    try:
        t.astimezone(UTC)
    except (OverflowError, ValueError):
        problems.append(f"{where}: {_short(value)} is out of range")
        return None
    return t


def _interruptions(value: Any, problems: list[str]) -> tuple[tuple[datetime, datetime], ...]:
    if not isinstance(value, list):
        problems.append(f"interruptions: must be a list of {{\"start\", \"end\"}}, got {_short(value)}")
        return ()
    out = []
    for n, it in enumerate(value):
        where = f"interruptions[{n}]"
        if not isinstance(it, dict):
            problems.append(f"{where}: must be an object with start and end, got {_short(it)}")
            continue
        start = _time(it.get("start"), f"{where}.start", problems)
        end = _time(it.get("end"), f"{where}.end", problems)
        if start is None or end is None:
            continue
        if end < start:
            problems.append(f"{where}: end {end.isoformat()} is before start {start.isoformat()}")
            continue
        out.append((start, end))
    return tuple(out)


def _item(index: int, item: Any, rules: BillingRules) -> RecalcItem:
    label = _label(index, item)
    if not isinstance(item, dict):
        raise InvalidItem(f"{label}: must be a JSON object, got {_short(item)}")
    problems: list[str] = []
    missing = [f for f in _FIELDS if f not in item]
    if missing:
        problems.append(f"missing field{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
    item_id = item.get("id")
    if "id" in item:
        if isinstance(item_id, bool) or not isinstance(item_id, (str, int)):
            problems.append(f"id must be a string or an integer, got {_short(item_id)}")
        elif isinstance(item_id, str) and "\x00" in item_id:
            problems.append("id contains a NUL character")
    service = None
    if "service" in item:
        try:
            service = canonical_service(item["service"])
        except BillingError as exc:
            problems.append(str(exc))
    period = item.get("period")
    if "period" in item:
        try:
            month_bounds(period, rules.zone)
        except BillingError as exc:
            problems.append(str(exc))
    charge = None
    if "charge_rub" in item:
        try:
            charge = check_charge(item["charge_rub"])
        except BillingError as exc:
            problems.append(str(exc))
    intervals = _interruptions(item["interruptions"], problems) if "interruptions" in item else ()
    sources = item.get("electricity_sources")
    if service == "electricity" and sources is not None:
        if isinstance(sources, bool) or not isinstance(sources, (int, Decimal)) or sources not in (1, 2):
            problems.append(f"electricity_sources must be 1 or 2, got {_short(sources)}")
            sources = None
        else:
            sources = int(sources)
    if problems:
        raise InvalidItem(f"{label}: {'; '.join(problems)}")
    return RecalcItem(index=index, id=item_id, service=service or "", period=period,
                      charge_rub=charge if charge is not None else Decimal(0), interruptions=intervals,
                      electricity_sources=sources if service == "electricity" else None)


def parse_items(raw: Any, rules: BillingRules, *, source: str = "input") -> list[RecalcItem]:
    """Validate the parsed input; ``InvalidItem`` names the first bad item and all its problems."""
    if not isinstance(raw, list):
        kind = {dict: "an object", str: "a string"}.get(type(raw), type(raw).__name__)
        raise InputFileError(f"{source}: expected a JSON list of items, got {kind}")
    items: list[RecalcItem] = []
    first_error: InvalidItem | None = None
    bad = 0
    for index, item in enumerate(raw):
        try:
            items.append(_item(index, item, rules))
        except InvalidItem as exc:
            bad += 1
            first_error = first_error or exc
    if first_error is not None:
        more = f" (and {bad - 1} more invalid item{'s' if bad > 2 else ''})" if bad > 1 else ""
        raise InvalidItem(f"{source}: {first_error}{more}")
    return items


def recalc_items(items: list[RecalcItem], rules: BillingRules) -> list[tuple[RecalcItem, Recalculation]]:
    """The recalculation of every item, in input order."""
    out = []
    for it in items:
        try:
            r = recalculate(service=it.service, period=it.period, charge_rub=it.charge_rub,
                            intervals=it.interruptions, rules=rules, electricity_sources=it.electricity_sources)
        except BillingError as exc:
            raise InvalidItem(f"{_label(it.index, {'id': it.id})}: {exc}") from None
        out.append((it, r))
    return out


def _encode(value: Any) -> str:
    if isinstance(value, Decimal):
        return format_number(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))}: {_encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_encode(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def dump_json(results: list[tuple[RecalcItem, Recalculation]]) -> str:
    """The output list as JSON text: figures as JSON numbers (exact decimals, never strings)."""
    rows = [{"id": it.id, **r.rounded()} for it, r in results]
    return _encode(rows)
