"""Who answers for what: organisations, and each report's responsible organisation.

At intake (``assign``) the category decides the side (the rules file's ``responsibility``):
``building`` → the management company of the report's building; ``network`` → the utility of the
report's network (the pipe it snapped to), else the utility of the networks of the report's
resource when there is exactly one, else the only active utility. A dispatcher may change it
(``ops.inspection.set_responsible_org``, audited).
"""
from __future__ import annotations

import json
import logging
from typing import Any

from sqlalchemy import Connection, text

from incidents.errors import IncidentNotFound
from reports.errors import ReportsError, UnknownOrganisation
from reports.kpi_rules import ReportRules
from reports.rules import current

_RESPONSIBLE = """
    CASE WHEN (:sides ::jsonb ->> i.category) = 'building' THEN
        (SELECT b.management_company_id FROM buildings b WHERE b.id = i.building_id)
    ELSE coalesce(
        (SELECT n.utility_id FROM networks n WHERE n.id = i.network_id),
        (SELECT min(n.utility_id) FROM networks n WHERE n.resource = i.resource AND n.utility_id IS NOT NULL
         HAVING count(DISTINCT n.utility_id) = 1),
        (SELECT min(o.id) FROM organisations o WHERE o.kind = 'utility' AND o.active HAVING count(*) = 1))
    END
"""


def _sides(rules: ReportRules) -> str:
    return json.dumps(rules.responsibility)


def assign(conn: Connection, incident_id: int, rules: ReportRules) -> int | None:
    """Set the responsible organisation of a new report from its category; the id (or None)."""
    return conn.execute(text(f"""
        UPDATE incidents i SET responsible_org_id = {_RESPONSIBLE} WHERE i.id = :id RETURNING responsible_org_id
    """), {"sides": _sides(rules), "id": incident_id}).scalar()


def backfill(conn: Connection, rules: ReportRules) -> int:
    """Assign every report that has no responsible organisation yet; how many got one."""
    return conn.execute(text(f"""
        UPDATE incidents i SET responsible_org_id = {_RESPONSIBLE}
        WHERE i.responsible_org_id IS NULL AND {_RESPONSIBLE} IS NOT NULL
    """), {"sides": _sides(rules)}).rowcount


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
