"""Who answers for what: organisations, and each report's responsible organisation.

At intake (``assign``) the category decides the side (the rules file's ``responsibility``):
``building`` → the management company of the report's building; ``network`` → the utility of the
report's network (the pipe it snapped to), else the utility of the networks of the report's
resource when there is exactly one, else the only active utility. A dispatcher may change it
(``ops.inspection.set_responsible_org``, audited).
"""
from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import BigInteger, Boolean, Connection, case, column, func, select, table, text, update
from sqlalchemy.sql.elements import ColumnElement

from incidents.errors import IncidentNotFound
from reports.errors import ReportsError, UnknownOrganisation
from reports.kpi_rules import ReportRules
from reports.rules import current

_incidents = table("incidents", column("id", BigInteger), column("category"), column("resource"),
                   column("building_id", BigInteger), column("network_id", BigInteger),
                   column("responsible_org_id", BigInteger))
_buildings = table("buildings", column("id", BigInteger), column("management_company_id", BigInteger))
_networks = table("networks", column("id", BigInteger), column("resource"), column("utility_id", BigInteger))
_organisations = table("organisations", column("id", BigInteger), column("kind"), column("active", Boolean))


def _responsible(i: Any, rules: ReportRules) -> ColumnElement[Any]:
    """The responsible organisation of report row ``i`` by the rules' ``responsibility``: the building's
    management company for a ``building`` category; else the utility of the report's network, of the
    only utility of its resource's networks, or the only active utility."""
    b, n, o = _buildings.alias("b"), _networks.alias("n"), _organisations.alias("o")
    building_side = sorted(k for k, side in rules.responsibility.items() if side == "building")
    network_side = func.coalesce(
        select(n.c.utility_id).where(n.c.id == i.c.network_id).scalar_subquery(),
        select(func.min(n.c.utility_id)).where(n.c.resource == i.c.resource, n.c.utility_id.is_not(None))
        .having(func.count(n.c.utility_id.distinct()) == 1).scalar_subquery(),
        select(func.min(o.c.id)).where(o.c.kind == "utility", o.c.active).having(func.count() == 1).scalar_subquery())
    return case((i.c.category.in_(building_side),
                 select(b.c.management_company_id).where(b.c.id == i.c.building_id).scalar_subquery()),
                else_=network_side)


def assign(conn: Connection, incident_id: int, rules: ReportRules) -> int | None:
    """Set the responsible organisation of a new report from its category; the id (or None)."""
    i = _incidents.alias("i")
    return conn.execute(update(i).values(responsible_org_id=_responsible(i, rules)).where(i.c.id == incident_id)
                        .returning(i.c.responsible_org_id)).scalar()


def backfill(conn: Connection, rules: ReportRules) -> int:
    """Assign every report that has no responsible organisation yet; how many got one."""
    i = _incidents.alias("i")
    responsible = _responsible(i, rules)
    return conn.execute(update(i).values(responsible_org_id=responsible)
                        .where(i.c.responsible_org_id.is_(None), responsible.is_not(None))).rowcount


def list_organisations(conn: Connection, *, active_only: bool = True) -> list[dict[str, Any]]:
    rows = conn.execute(text("""
        SELECT o.id, o.kind, o.name, o.short_name, o.inn, o.phone, o.email, o.address, o.active,
               (SELECT count(*) FROM buildings b WHERE b.management_company_id = o.id) AS buildings,
               (SELECT count(*) FROM networks n WHERE n.utility_id = o.id) AS networks
        FROM organisations o WHERE o.active OR NOT :a ORDER BY o.kind, o.name
    """), {"a": active_only}).mappings().all()
    return [dict(r) for r in rows]


def get_organisation(conn: Connection, org_id: int) -> dict[str, Any]:
    row = conn.execute(text("SELECT id, kind, name, short_name, inn, phone, email, address, active "
                            "FROM organisations WHERE id = :id"), {"id": org_id}).mappings().first()
    if row is None:
        raise UnknownOrganisation(f"no organisation with id {org_id}")
    return dict(row)


def set_responsible(conn: Connection, incident_id: int, org_id: int | None) -> tuple[int | None, int | None]:
    """Change a report's responsible organisation (row locked); (before, after)."""
    before = conn.execute(text("SELECT responsible_org_id FROM incidents WHERE id = :id FOR UPDATE"),
                          {"id": incident_id}).first()
    if before is None:
        raise IncidentNotFound(f"no incident with id {incident_id}")
    if org_id is not None:
        get_organisation(conn, org_id)
    conn.execute(text("UPDATE incidents SET responsible_org_id = :o, updated_at = now() WHERE id = :id"),
                 {"o": org_id, "id": incident_id})
    return before[0], org_id


def assign_at_intake(conn: Connection, incident_id: int) -> int | None:
    """The intake's hook: set a new report's responsible organisation by the rules in force. A broken
    reports rules file must not stop a resident's report: it is logged and the report stays unassigned."""
    try:
        rules = current()
    except ReportsError as exc:
        logging.getLogger(__name__).error("responsible organisation not set for report %s: %s", incident_id, exc)
        return None
    return assign(conn, incident_id, rules)
