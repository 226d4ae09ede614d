"""Use-cases of district metered areas: the balance page's reads (``balance.read``), the map's alarm outlines
(``reports.read``), and the changes — derive, draw, the night check — each in one transaction with its audit
events (``data.import``: they replace stored areas and raise incidents; the commands run as an admin).

The domain (:mod:`dma.service`) works in the caller's transaction and hands back what the audit trail needs
(:class:`dma.service.AuditEvent`); this module records it."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine

from auth.model import Actor
from dma import service, store
from dma.errors import DmaError
from dma.rules import DmaRules, region_timezone, rules_from_settings
from ops import audit
from ops.base import allow, engine

__all__ = ["Overview", "alarm_outlines", "check_night", "check_night_on", "derive", "derive_on", "draw",
           "draw_on", "last_full_day", "overview"]


@dataclass(frozen=True)
class Overview:
    since: date
    until: date
    rules: DmaRules
    dmas: list[dict[str, Any]]
    days: list[service.DayBalance]
    nights: list[dict[str, Any]]
    alarms: list[dict[str, Any]]


def last_full_day() -> date:
    return datetime.now(ZoneInfo(region_timezone())).date() - timedelta(days=1)


def overview(actor: Actor, *, days: int = 30, until: date | None = None, bind: Engine | None = None) -> Overview:
    """Every DMA with its daily balance over the last ``days`` full days, the judged nights and the alarms."""
    allow(actor, "balance.read")
    until = until or last_full_day()
    since = until - timedelta(days=max(1, min(days, 366)) - 1)
    with engine(bind).connect() as conn:
        dmas = store.list_dmas(conn)
        rows = service.balance(conn, since, until)
        nights = store.all_nights(conn, since, until + timedelta(days=1))
        alarms = store.alarms(conn)
    return Overview(since, until, rules_from_settings(), dmas, rows, nights, alarms)


def balance(actor: Actor, since: date, until: date, *, dma_ids: Sequence[int] | None = None,
            bind: Engine | None = None) -> list[service.DayBalance]:
    """Inflow, billed, NRW and minimum night flow per DMA and local day."""
    allow(actor, "balance.read")
    with engine(bind).connect() as conn:
        return service.balance(conn, since, until, dma_ids=dma_ids)


def alarm_outlines(actor: Actor, *, bind: Engine | None = None) -> list[dict[str, Any]]:
    """The outlines of the DMAs in alarm, with their incident: drawn with the reports on the map (every
    role that reads reports sees them)."""
    allow(actor, "reports.read")
    with engine(bind).connect() as conn:
        return store.alarm_outlines(conn)


def _record(conn: Connection, events: list[service.AuditEvent]) -> None:
    for e in events:
        audit.record(conn, actor=e.actor, action=e.action, object_type=e.object_type, object_id=e.object_id,
                     details=e.details, at=e.at)


def derive_on(conn: Connection, actor: Actor, network_ids: Sequence[int] | None = None) -> list[dict[str, Any]]:
    """(Re)derive the DMAs of the water networks in the caller's transaction (the demo loader's), audited there."""
    allow(actor, "data.import")
    events: list[service.AuditEvent] = []
    out = service.derive(conn, actor=actor.author, events=events, network_ids=network_ids)
    _record(conn, events)
    return out


def derive(actor: Actor, network_ids: Sequence[int] | None = None, *,
           bind: Engine | None = None) -> list[dict[str, Any]]:
    """(Re)derive the DMAs of the water networks (all, or ``network_ids``) in one transaction."""
    with engine(bind).begin() as conn:
        return derive_on(conn, actor, network_ids)


def draw_on(conn: Connection, actor: Actor, *, name: str, geojson: Any, network_id: int | None = None) -> dict[str, Any]:
    """A DMA drawn as a polygon, on ``network_id`` (default: the first water network), audited."""
    allow(actor, "data.import")
    if network_id is None:
        nets = store.water_networks(conn)
        if not nets:
            raise DmaError("no water network; load one first")
        network_id = nets[0]
    events: list[service.AuditEvent] = []
    out = service.draw(conn, actor=actor.author, events=events, network_id=network_id, name=name, geojson=geojson)
    _record(conn, events)
    return out


def draw(actor: Actor, *, name: str, geojson: Any, network_id: int | None = None,
         bind: Engine | None = None) -> dict[str, Any]:
    """:func:`draw_on` in one transaction."""
    with engine(bind).begin() as conn:
        return draw_on(conn, actor, name=name, geojson=geojson, network_id=network_id)


def check_night_on(conn: Connection, actor: Actor, day: date, *, rules: DmaRules | None = None,
                   tz: str | None = None, now: datetime | None = None,
                   lang: str | None = None) -> list[dict[str, Any]]:
    """Judge ``day``'s night in every DMA in the caller's transaction; the alarms' incidents, notes and their
    audit events (by ``sensor:dma``) are written there."""
    allow(actor, "data.import")
    events: list[service.AuditEvent] = []
    out = service.check_night(conn, day, events=events, rules=rules, tz=tz, now=now, lang=lang)
    _record(conn, events)
    return out


def check_night(actor: Actor, day: date | None = None, *, bind: Engine | None = None) -> list[dict[str, Any]]:
    """Judge a night (default: the last one whose window is over) in one transaction."""
    day = day or service.default_night(region_timezone(), rules_from_settings())
    with engine(bind).begin() as conn:
        return check_night_on(conn, actor, day)
