"""The application layer of the balance page: reads only, checked against ``balance.read``."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Engine

from auth.model import Actor
from dma import service, store
from dma.rules import DmaRules, region_timezone, rules_from_settings
from ops.base import allow, engine


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
    from datetime import datetime
    from zoneinfo import ZoneInfo

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


def alarm_outlines(actor: Actor, *, bind: Engine | None = None) -> list[dict[str, Any]]:
    """The outlines of the DMAs in alarm, with their incident: drawn with the reports on the map (every
    role that reads reports sees them)."""
    allow(actor, "reports.read")
    from sqlalchemy import text

    with engine(bind).connect() as conn:
        rows = conn.execute(text("""
            SELECT d.id, d.name, a.incident_id, a.opened_on, ST_AsGeoJSON(d.geom, 6) AS outline
            FROM dma_alarms a JOIN dmas d ON d.id = a.dma_id
            WHERE a.state = 'open' AND d.geom IS NOT NULL ORDER BY d.id"""))
        return [dict(r._mapping) for r in rows]
