"""The KPIs' data from the database: the reports that can matter to a period with their events and
deadlines, the buildings with their organisations and flats, the outages' spans; :func:`compute` loads
them and applies the formulas of :mod:`reports.kpis`."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, text

from billing.rules_file import BillingRules
from billing.rules_setting import current_rules
from incidents import interruptions as cutoffs
from incidents.sla import Rules, due_at
from incidents.workflow import OPEN_STATUSES
from reports.kpi_rules import ReportRules
from reports.kpis import Period, Report, figures, outage_excess
from reports.orgs import get_organisation, list_organisations

__all__ = ["billing_rules", "compute", "load_buildings", "load_outage_spans", "load_reports", "load_returns"]


def load_reports(conn: Connection, p: Period, sla: Rules, window_days: float) -> list[Report]:
    """Reports that can matter to the period: created before its end and (created within the
    look-back window, or with an event since its start, or still open)."""
    rows = conn.execute(text("""
        SELECT i.id, i.category, i.service_code, i.priority, i.status, i.building_id,
               i.responsible_org_id AS org_id, i.created_at, i.address, i.duplicate_of, i.outage_id,
               i.org_accepted_at, i.org_resolved_at, i.resident_rating AS rating, i.resident_rated_at AS rated_at,
               (SELECT w.visit_at FROM work_order_events w WHERE w.incident_id = i.id AND w.kind = 'visit_planned'
                  AND w.org_id = i.responsible_org_id ORDER BY w.at, w.id LIMIT 1) AS first_visit_at,
               (SELECT o.planned_end FROM outages o WHERE o.id = i.outage_id AND o.state <> 'cancelled') AS outage_end
        FROM incidents i
        WHERE i.created_at < :end AND (i.created_at >= :back OR i.status = ANY(:open)
              OR EXISTS (SELECT 1 FROM incident_events e WHERE e.incident_id = i.id AND e.at >= :start))
        ORDER BY i.id
    """), {"end": p.end, "start": p.start, "back": p.start - timedelta(days=window_days + 1),
           "open": sorted(OPEN_STATUSES)}).mappings().all()
    links = {r["id"]: {"outage_id": r["outage_id"], "outage_end": r["outage_end"]} for r in rows}
    out = {r["id"]: Report(**{k: v for k, v in r.items() if k not in ("outage_id", "outage_end")}) for r in rows}
    if out:
        for e in conn.execute(text("""
            SELECT incident_id, at, from_status, to_status FROM incident_events
            WHERE incident_id = ANY(:ids) ORDER BY incident_id, at, id
        """), {"ids": list(out)}):
            out[e.incident_id].events.append((e.at, e.from_status, e.to_status))
    for r in out.values():
        # the same deadline as the queue and the residents' page (a report an outage explains: its end)
        r.due = due_at({"created_at": r.created_at, "service_code": r.service_code, "category": r.category,
                        **links[r.id]}, sla)
    return list(out.values())


def load_returns(conn: Connection, p: Period) -> list[tuple[int, int, datetime]]:
    """Every "not ours" hand-back of a report created in the period: (organisation, report, created)."""
    rows = conn.execute(text("""
        SELECT DISTINCT w.org_id, w.incident_id, i.created_at
        FROM work_order_events w JOIN incidents i ON i.id = w.incident_id
        WHERE w.kind = 'returned' AND i.created_at >= :start AND i.created_at < :end
        ORDER BY w.org_id, w.incident_id
    """), {"start": p.start, "end": p.end}).all()
    return [(int(r[0]), int(r[1]), r[2]) for r in rows]


def load_buildings(conn: Connection, rules: ReportRules) -> dict[int, dict[str, Any]]:
    """Every building with its management company, flats and the utilities whose networks feed it."""
    rows = conn.execute(text("""
        SELECT b.id, b.address, b.management_company_id AS mc, b.residents,
               (SELECT count(*) FROM premises p WHERE p.building_id = b.id AND p.kind = 'flat') AS premises_flats,
               coalesce((SELECT array_agg(DISTINCT n.utility_id) FROM service_connections sc
                         JOIN networks n ON n.id = sc.network_id
                         WHERE sc.building_id = b.id AND n.utility_id IS NOT NULL), '{}') AS utilities
        FROM buildings b
    """)).mappings().all()
    out: dict[int, dict[str, Any]] = {}
    for r in rows:
        flats = float(r["premises_flats"]) if r["premises_flats"] else (r["residents"] or 0) / rules.residents_per_flat
        out[r["id"]] = {"address": r["address"], "mc": r["mc"], "flats": flats, "utilities": list(r["utilities"])}
    return out


def load_outage_spans(conn: Connection, p: Period, now: datetime) -> list[dict[str, Any]]:
    """Each (outage, building) interruption overlapping the period, clipped to it — the same intervals
    the bill counts (``incidents.interruptions``: a building that joined late counts from then)."""
    out = []
    for i in cutoffs.interruptions(conn, p.start, p.end):
        s, e = max(i.start, p.start), min(i.end if i.end is not None else now, p.end, max(now, p.start))
        if e > s:
            out.append({"outage_id": i.outage_id, "resource": i.resource, "utility_id": i.utility_id,
                        "building_id": i.building_id, "s": s, "e": e})
    return out


def billing_rules() -> BillingRules:
    """The ПП 354 billing rules in force (``ZHKH_BILLING_RULES_FILE``): the same allowances and union
    the residents' fee reductions use."""
    return current_rules()


def compute(conn: Connection, p: Period, sla: Rules, rules: ReportRules, *, org_id: int | None = None,
            now: datetime | None = None, include_service: bool = True) -> dict[str, Any]:
    """The KPIs of every active organisation (or of ``org_id``), plus the whole service."""
    now = now or datetime.now(ZoneInfo(p.zone))
    if org_id is not None:
        orgs = [get_organisation(conn, org_id)]
    else:
        orgs = list_organisations(conn)
    window = max(rules.reopen_window_days, rules.repeat_window_days)
    reports = load_reports(conn, p, sla, window)
    buildings = load_buildings(conn, rules)
    excess = outage_excess(load_outage_spans(conn, p, now), p, sla, billing_rules())
    return figures(orgs, reports, buildings, excess, p, sla, rules, now=now,
                   include_service=include_service and org_id is None, returns=load_returns(conn, p))
