"""How long a building was without a service: the one answer every consumer reads.

A building is cut off by an outage from the moment the outage reached it until the outage ended:

- from ``actual_start`` (the valves closed) — or, for a building that joined an outage that grew later
  (a stuck valve, a second break merged in), from ``outage_buildings.added_at``, whichever is later;
- until ``actual_end`` (the water back); an active outage is still running (``end`` is None) and the
  caller decides until when it counts (its ``now``).

An outage that never started (``actual_start`` NULL) or was cancelled cuts nobody off. The bill's
ПП 354 reduction (``billing.charges``), the residents' allowance clock and "off since …"
(``resident``), and the KPIs (``reports.kpis``) all read :func:`interruptions` (or :func:`span` for a
row they already have), so the page, the bill and the report count the same hours.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, BIGINT


@dataclass(frozen=True)
class Interruption:
    """One building cut off by one outage: ``start`` → ``end`` (None: still running)."""

    outage_id: int
    building_id: int
    network_id: int | None
    resource: str | None
    utility_id: int | None
    start: datetime
    end: datetime | None
    joined_late: bool          # the building joined the outage after its valves closed

    def clipped(self, period_start: datetime, period_end: datetime, now: datetime) -> tuple[datetime, datetime] | None:
        """The part inside [period_start, period_end), a running one counted until ``now``; None when empty."""
        s = max(self.start, period_start)
        e = min(self.end if self.end is not None else now, period_end)
        return (s, e) if e > s else None


def span(actual_start: datetime | None, actual_end: datetime | None,
         added_at: datetime | None) -> tuple[datetime, datetime | None] | None:
    """When a building was without the service in an outage: (start, end or None while running), or None
    when the outage never cut it off (never started, or the building joined after it ended)."""
    if actual_start is None:
        return None
    start = max(actual_start, added_at) if added_at is not None else actual_start
    if actual_end is not None and actual_end < start:
        return None
    return start, actual_end


_SQL = text("""
    SELECT o.id, ob.building_id, o.network_id, n.resource, n.utility_id, o.actual_start, o.actual_end, ob.added_at
    FROM outages o JOIN outage_buildings ob ON ob.outage_id = o.id
    LEFT JOIN networks n ON n.id = o.network_id
    WHERE o.actual_start IS NOT NULL AND o.state <> 'cancelled'
      AND greatest(o.actual_start, coalesce(ob.added_at, o.actual_start)) < :end
      AND (o.actual_end IS NULL OR o.actual_end > :start)
      AND (CAST(:buildings AS bigint[]) IS NULL OR ob.building_id = ANY(CAST(:buildings AS bigint[])))
      AND (CAST(:outages AS bigint[]) IS NULL OR o.id = ANY(CAST(:outages AS bigint[])))
    ORDER BY o.id, ob.building_id
""").bindparams(bindparam("buildings", type_=ARRAY(BIGINT)), bindparam("outages", type_=ARRAY(BIGINT)))


def interruptions(conn: Connection, start: datetime, end: datetime, *, building_ids: Iterable[int] | None = None,
                  outage_ids: Iterable[int] | None = None) -> list[Interruption]:
    """Every (outage, building) interruption that overlaps [start, end), unclipped (the caller clips it
    to its period; a running one has ``end`` None). Optionally only of some buildings or outages."""
    rows = conn.execute(_SQL, {
        "start": start, "end": end,
        "buildings": None if building_ids is None else sorted({int(b) for b in building_ids}),
        "outages": None if outage_ids is None else sorted({int(o) for o in outage_ids})}).all()
    out = []
    for oid, bid, net, resource, utility, a, b, added in rows:
        found = span(a, b, added)
        if found is None or (found[1] is not None and found[1] <= start):
            continue
        out.append(Interruption(outage_id=int(oid), building_id=int(bid), network_id=net, resource=resource,
                                utility_id=utility, start=found[0], end=found[1],
                                joined_late=added is not None and added > a))
    return out


def by_building_service(found: Iterable[Interruption]) -> dict[tuple[int, str], list[tuple[datetime, datetime | None, int]]]:
    """(building, service) → [(start, end, outage id)], the intervals ``billing.rule.outage_union`` takes."""
    out: dict[tuple[int, str], list[tuple[datetime, datetime | None, int]]] = {}
    for i in found:
        if i.resource is not None:
            out.setdefault((i.building_id, i.resource), []).append((i.start, i.end, i.outage_id))
    return out


__all__ = ["Interruption", "span", "interruptions", "by_building_service"]
