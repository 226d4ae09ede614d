"""What the resident's page reads. Nothing here returns a reporter's name, phone or e-mail, nor an
account holder's name: the page shows no personal data of anybody, the looker included. A report's
description is read raw: the page shows it only through ``incidents.redact.public_description``."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, Connection, column, select, table, text

from gis.search import search_addresses
from incidents import interruptions as cutoffs

REPORT_DAYS = 90
_PUBLIC_FIELDS = (
    "id", "category", "resource", "priority", "status", "channel", "service_code", "address", "building_id",
    "description", "outage_id", "version", "created_at", "updated_at", "accepted_at", "resolved_at", "closed_at",
    "attributes", "public_token", "description_private")
_incidents = table("incidents", *(column(k, BigInteger) if k.endswith("id") else column(k) for k in _PUBLIC_FIELDS))
_outages = table("outages", column("id", BigInteger), column("planned_end"), column("state"))
_i, _o = _incidents.alias("i"), _outages.alias("o")
# what a resident may see of a report: no reporter, no operator's free notes
_PUBLIC_REPORT = (
    *(_i.c[k] for k in _PUBLIC_FIELDS),
    select(_o.c.planned_end).where(_o.c.id == _i.c.outage_id, _o.c.state != "cancelled")
    .scalar_subquery().label("outage_end"),
)


def _public_reports(*where: Any) -> Any:
    return select(*_PUBLIC_REPORT).select_from(_i).where(*where)


def suggestions(conn: Connection, query: str, limit: int = 8) -> list[dict[str, Any]]:
    """Addresses for the search box (id and address only)."""
    return [{"id": int(r["id"]), "address": r["address"]} for r in search_addresses(conn, query, limit)]


def building(conn: Connection, building_id: int) -> dict[str, Any] | None:
    row = conn.execute(text("""
        SELECT id, coalesce(address, concat_ws(' ', street, housenumber)) AS address, kind
        FROM buildings WHERE id = :b
    """), {"b": int(building_id)}).mappings().first()
    return dict(row) if row else None


def building_services(conn: Connection, building_id: int) -> list[str]:
    """The resources of the networks that supply the building (its service connections)."""
    return [r[0] for r in conn.execute(text("""
        SELECT DISTINCT n.resource FROM service_connections sc JOIN networks n ON n.id = sc.network_id
        WHERE sc.building_id = :b ORDER BY 1
    """), {"b": int(building_id)})]


def outages_of_building(conn: Connection, building_id: int) -> list[dict[str, Any]]:
    """Planned and active outages that include the building: state, kind, reason, times, resource, and
    ``since`` — when this building lost the service (``incidents.interruptions.span``: a building that
    joined a grown outage is off from when it joined, not from the outage's start)."""
    rows = conn.execute(text("""
        SELECT o.id, o.state, o.kind, o.reason, o.planned_start, o.planned_end, o.actual_start, o.actual_end,
               ob.added_at, n.resource
        FROM outage_buildings ob JOIN outages o ON o.id = ob.outage_id
        LEFT JOIN networks n ON n.id = o.network_id
        WHERE ob.building_id = :b AND o.state IN ('planned', 'active')
        ORDER BY (o.state = 'active') DESC, o.planned_start, o.id
    """), {"b": int(building_id)}).mappings().all()
    out = []
    for r in rows:
        found = cutoffs.span(r["actual_start"], r["actual_end"], r["added_at"])
        out.append({**dict(r), "since": found[0] if found else None})
    return out


def interruptions(conn: Connection, building_id: int, start: datetime, end: datetime) -> dict[str, list[tuple]]:
    """service → the (start, end, outage id) of outages that cut the building off within [start, end) —
    the same intervals the bill's recalculation takes (``incidents.interruptions``: from the valves
    closing, or from when the building joined a grown outage, to the water back; still active = open)."""
    found = cutoffs.by_building_service(cutoffs.interruptions(conn, start, end, building_ids=[building_id]))
    return {service: iv for (_, service), iv in found.items()}


def reports_of_building(conn: Connection, building_id: int, now: datetime, days: int = REPORT_DAYS,
                        limit: int = 50) -> list[dict[str, Any]]:
    stmt = _public_reports(_i.c.building_id == int(building_id), _i.c.created_at >= now - timedelta(days=days),
                           _i.c.status.not_in(("duplicate",)))
    rows = conn.execute(stmt.order_by(_i.c.created_at.desc(), _i.c.id.desc()).limit(limit)).mappings().all()
    return [dict(r) for r in rows]


def report(conn: Connection, incident_id: int) -> dict[str, Any] | None:
    row = conn.execute(_public_reports(_i.c.id == int(incident_id))).mappings().first()
    return dict(row) if row else None


def outage(conn: Connection, outage_id: int, building_id: int | None = None) -> dict[str, Any] | None:
    """What a resident may see of an outage a report is linked to: number, state, kind, resource,
    planned and actual times (the reason is public on the address page too), and ``since``: when
    ``building_id`` lost the service in it (``incidents.interruptions.span``: from its join if it
    joined a grown outage later)."""
    row = conn.execute(text("""
        SELECT o.id, o.state, o.kind, o.reason, o.planned_start, o.planned_end, o.actual_start, o.actual_end,
               n.resource, (SELECT ob.added_at FROM outage_buildings ob
                            WHERE ob.outage_id = o.id AND ob.building_id = :b) AS added_at
        FROM outages o LEFT JOIN networks n ON n.id = o.network_id WHERE o.id = :o
    """), {"o": int(outage_id), "b": building_id}).mappings().first()
    if row is None:
        return None
    found = cutoffs.span(row["actual_start"], row["actual_end"], row["added_at"])
    return {**dict(row), "since": found[0] if found else row["actual_start"]}


def report_by_token(conn: Connection, token: str) -> dict[str, Any] | None:
    """A report by its page's random token (what a resident's link names; the id alone opens nothing)."""
    row = conn.execute(_public_reports(_i.c.public_token == token)).mappings().first()
    return dict(row) if row else None


def answer(conn: Connection, incident_id: int) -> dict[str, Any]:
    """What the report's page shows of its responsible organisation's work: the organisation (name,
    phone — an organisation's, never a person's), its state, the planned visit, its answer and when, the
    resident's rating, and the photos of its resolutions (ids and sizes; the bytes only through
    ``report_photo``). Never the crew's login nor who at the organisation acted."""
    row = conn.execute(text("""
        SELECT o.id AS org_id, o.name AS org_name, o.short_name AS org_short_name, o.phone AS org_phone,
               i.org_state, i.visit_at, i.org_answer, i.org_resolved_at, i.resident_rating, i.resident_rated_at
        FROM incidents i LEFT JOIN organisations o ON o.id = i.responsible_org_id
        WHERE i.id = :i
    """), {"i": int(incident_id)}).mappings().first()
    out: dict[str, Any] = dict(row) if row else {}
    out["photos"] = [dict(r) for r in conn.execute(text("""
        SELECT id, width, height FROM work_order_photos WHERE incident_id = :i ORDER BY id
    """), {"i": int(incident_id)}).mappings()]
    return out


def report_photo(conn: Connection, token: str, photo_id: int) -> dict[str, Any] | None:
    """A photo of the report whose page's token is ``token`` (type and bytes), or None: a photo opens only
    with its own report's link, exactly as the report's page does (another report's token, or a number,
    opens nothing)."""
    row = conn.execute(text("""
        SELECT p.content_type, p.data FROM work_order_photos p JOIN incidents i ON i.id = p.incident_id
        WHERE p.id = :p AND i.public_token = :t
    """), {"p": int(photo_id), "t": token}).mappings().first()
    return dict(row) if row else None


def timeline(conn: Connection, incident_id: int) -> list[dict[str, Any]]:
    """Status changes (time, from, to, the note) — never who made them."""
    rows = conn.execute(text("""
        SELECT at, from_status, to_status, note FROM incident_events WHERE incident_id = :i ORDER BY at, id
    """), {"i": int(incident_id)}).mappings().all()
    return [dict(r) for r in rows]


# ---- the account holder's charges ---------------------------------------------------------------------

def account_by_number(conn: Connection, number: str) -> dict[str, Any] | None:
    row = conn.execute(text("""
        SELECT a.id, a.number, a.access_code_hash, a.residents, a.area_m2, p.number AS premises,
               p.building_id, coalesce(b.address, concat_ws(' ', b.street, b.housenumber)) AS address
        FROM accounts a JOIN premises p ON p.id = a.premises_id JOIN buildings b ON b.id = p.building_id
        WHERE a.number = :n
    """), {"n": number}).mappings().first()
    return dict(row) if row else None


def latest_charges(conn: Connection, account_id: int) -> tuple[Any, list[dict[str, Any]]]:
    """(period, charges of the account's latest period with their lines); (None, []) when none."""
    period = conn.execute(text("SELECT max(period) FROM charges WHERE account_id = :a"),
                          {"a": int(account_id)}).scalar()
    if period is None:
        return None, []
    charges = [dict(r) for r in conn.execute(text("""
        SELECT c.id, c.service, c.basis, c.quantity, c.unit, c.price_rub, c.charged_rub, c.reduction_rub,
               c.correction_rub, c.total_rub, bp.state AS period_state
        FROM charges c JOIN billing_periods bp ON bp.period = c.period
        WHERE c.account_id = :a AND c.period = :p ORDER BY c.service
    """), {"a": int(account_id), "p": period}).mappings()]
    ids = [c["id"] for c in charges]
    lines: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    if ids:
        for r in conn.execute(text("""
            SELECT id, charge_id, kind, quantity, unit, amount_rub, outage_ids, details
            FROM charge_lines WHERE charge_id = ANY(:ids) ORDER BY charge_id, id
        """), {"ids": ids}).mappings():
            lines[r["charge_id"]].append(dict(r))
    for c in charges:
        c["lines"] = lines[c["id"]]
    return period, charges
