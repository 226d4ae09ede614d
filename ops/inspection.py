"""Use-cases of the inspectorate: KPIs of the organisations, the signed PDF report, and the
dispatcher's change of a report's responsible organisation (audited)."""
from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, text

from auth.model import Actor
from incidents import service as incidents
from ops import audit, webhooks
from ops.base import allow, check_incident_scope, engine, org_scope, utcnow
from ops.incidents import _text_or_raise
from reports import inspection_data, kpi_queries, orgs, pdf
from reports import kpis as kpi_mod
from reports import rules as report_rules
from settings import get_settings


def organisations(actor: Actor, *, bind: Engine | None = None) -> list[dict[str, Any]]:
    allow(actor, "reports.read")
    with engine(bind).connect() as conn:
        return orgs.list_organisations(conn)


def kpis(actor: Actor, first: date | str, last: date | str, *, org_id: int | None = None,
         now: datetime | None = None, bind: Engine | None = None) -> dict[str, Any]:
    """KPIs of the period (days ``first``…``last`` in the region's time zone) per organisation."""
    allow(actor, "inspection.read")
    sla = incidents.rules_from_settings()
    p = kpi_mod.period(first, last, sla.timezone)
    with engine(bind).connect() as conn:
        return kpi_queries.compute(conn, p, sla, report_rules.current(), org_id=org_id, now=now)


def inspection_pdf(actor: Actor, first: date | str, last: date | str, *, org_id: int | None = None,
                   bbox: tuple[float, float, float, float] | None = None, lang: str = "ru",
                   author: str | None = None, now: datetime | None = None, bind: Engine | None = None) -> bytes:
    """The signed map report (PDF bytes) of an organisation, an area or the whole service: its data read
    (``reports.inspection_data``), then drawn (``reports.pdf``) once the connection is back in the pool."""
    allow(actor, "inspection.read")
    sla = incidents.rules_from_settings()
    rules = report_rules.current()
    p = kpi_mod.period(first, last, sla.timezone)
    now = (now or datetime.now(timezone.utc)).astimezone(ZoneInfo(sla.timezone))
    with engine(bind).connect() as conn:
        data = inspection_data.gather(conn, p, sla, rules, org_id=org_id, bbox=bbox, now=now,
                                      demo_network_name=get_settings().demo_network_name)

    return pdf.render(data, lang=lang, author=author or actor.display_name or actor.author)


def org_breaches(actor: Actor, *, now: datetime | None = None, bind: Engine | None = None) -> list[dict[str, Any]]:
    """The organisations whose reports are past their deadline while they hold them, now: ``{org_id,
    name, ids}`` (the reports, oldest first), most breaches first — the escalation the control room shows,
    for the inspector with the reports behind it."""
    allow(actor, "inspection.read")
    with engine(bind).connect() as conn:
        found = incidents.org_breach_reports(conn, now=now)
        names = {o["id"]: o["name"] for o in orgs.list_organisations(conn, active_only=False)}
    rows = [{"org_id": org, "name": names.get(org, f"#{org}"), "ids": ids} for org, ids in found.items()]
    return sorted(rows, key=lambda r: (-len(r["ids"]), r["name"]))


def set_responsible_org(actor: Actor, incident_id: int, org_id: int | None, reason: str = "", *,
                        bind: Engine | None = None) -> int | None:
    """Name another organisation responsible for a report (audited with the reason)."""
    allow(actor, "reports.assign_org")
    _text_or_raise("reason", reason or "", allow_empty=True, max_chars=1000)
    now = utcnow()
    with engine(bind).begin() as conn:
        before, after = orgs.set_responsible(conn, incident_id, org_id)
        audit.record(conn, actor=actor.author, action="incident.set_org", object_type="incident",
                     object_id=incident_id, at=now, reason=reason or "",
                     details={"before": before, "after": after})
        if before != after:
            if before is not None:
                webhooks.queue_change(conn, incident_id, "work_order.withdrawn", now=now, org_id=before)
            if after is not None:
                webhooks.queue_change(conn, incident_id, "work_order.created", now=now)
    return after


def building_companies(actor: Actor, *, bind: Engine | None = None) -> dict[int, int | None]:
    """Each building's management company (for the map of zones)."""
    allow(actor, "map.read")
    with engine(bind).connect() as conn:
        return dict(conn.execute(text("SELECT id, management_company_id FROM buildings")).all())


def reports_by_ids(actor: Actor, ids: list[int], *, bind: Engine | None = None) -> list[Any]:
    """The reports behind a figure (drill-down), oldest first."""
    allow(actor, "reports.read")
    return incidents.list_incidents(engine(bind), ids=list(ids), limit=len(ids) + 1, newest_first=False,
                                    org_id=org_scope(actor)) if ids else []


def responsible_of(actor: Actor, incident_id: int, *, bind: Engine | None = None) -> int | None:
    """The id of the organisation responsible for a report (None: nobody yet)."""
    allow(actor, "reports.read")
    with engine(bind).connect() as conn:
        check_incident_scope(actor, conn, incident_id)
        return conn.execute(text("SELECT responsible_org_id FROM incidents WHERE id = :i"), {"i": incident_id}).scalar()
