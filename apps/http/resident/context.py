"""What the address page and a report's page show, read once for a page and for the same page under a
refused form's errors: an address's outages, clocks and reports; a report with its history, deadline
and linked outage. Nothing personal: a report's description only as ``incidents.redact`` leaves it."""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from apps.http.resident.site import TOKEN, Page, Site, no_address
from incidents.redact import public_description
from incidents.service import rules_from_settings
from incidents.sla import due_at, sla_state
from resident import clock, queries
from resident.incidents import REOPEN_DAYS
from resident.texts import ORG_STATES, SYSTEM_NOTES, WITHOUT

PORTAL_SERVICES = ("no_water", "no_hot_water", "low_pressure", "no_heating", "burst", "sewer", "electricity",
                   "elevator", "roof_leak", "repair", "other")
HISTORY = re.compile(r"^outage #(\d+)(?: (approved|valves closed|restored|merged|extended))?$")
CLOSED = ("resolved", "closed", "rejected", "duplicate", "cancelled")
WITHDRAWN = ("rejected", "duplicate", "cancelled")


def address_context(site: Site, building_id: int, now: datetime,
                    mine_ids: dict[int, str] | None = None, *, fresh: bool = False) -> dict[str, Any]:
    """The address page's data; ``mine_ids`` the reports made in this browser (``site.mine``). Read from
    ``site.read_db`` (the standby may be a moment behind) unless ``fresh``: right after the resident's own
    write, which must show."""
    with (site.db if fresh else site.read_db)().connect() as conn:
        b = queries.building(conn, building_id)
        if b is None:
            raise no_address()
        outs = queries.outages_of_building(conn, building_id)
        clocks = clock.clocks(conn, building_id, now)
        reps = queries.reports_of_building(conn, building_id, now)
    rules = rules_from_settings(site.settings)
    services = [(c, rules.services[c].name) for c in PORTAL_SERVICES if c in rules.services]
    return {"building": b, "outages": outs, "clocks": clocks, "reports": [report_row(r, rules, now) for r in reps],
            "mine": mine_ids or {}, "services": services, "without": WITHOUT, "now": now,
            "pct_per_hour": clock.billing_rules().reduction_pct_per_hour}


def report_by_token(site: Site, token: str) -> dict[str, Any]:
    """The report with the public ``token`` (a report's page address), or the "no such report" page."""
    with site.db().connect() as conn:
        r = queries.report_by_token(conn, token) if TOKEN.fullmatch(token) else None
    if r is None:
        raise Page(404, "resident.err.no_report_title", "resident.err.no_report_link")
    return r


def report_context(site: Site, r: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A report's page: the report, its history, its outage, the organisation that answers for it (its
    planned visit, answer and photos: ``resident.queries.answer``), and "fixed?" — whether "yes" (a resolved
    report) and "not fixed" (``resident.incidents.reopen``'s rule) are open to it."""
    with site.db().connect() as conn:
        events = queries.timeline(conn, int(r["id"]))
        linked = queries.outage(conn, r["outage_id"], r["building_id"]) if r["outage_id"] is not None else None
        answer = queries.answer(conn, int(r["id"]))
    row = report_row(r, rules_from_settings(site.settings), now)
    row["description"] = public_description(r["description"], r["description_private"])
    row["private"] = bool(r["description_private"]) and bool(r["description"])
    reopen_ok = (r["status"] == "resolved" and not (r["attributes"] or {}).get("reopened_at")
                 and r["resolved_at"] is not None and (now - r["resolved_at"]).days < REOPEN_DAYS)
    # the planned visit while the crew is still to come; the answer and its photos once it is resolved
    answer["show_visit"] = answer.get("org_state") == "visit_planned" and answer.get("visit_at") is not None
    answer["show_answer"] = bool(answer.get("org_answer")) and r["status"] in ("resolved", "closed") \
        and answer.get("org_state") == "resolved"
    return {"r": row, "events": [event_row(e) for e in events], "reopen_ok": reopen_ok, "outage": linked,
            "answer": answer, "org_states": ORG_STATES, "fixed_ok": r["status"] == "resolved"}


def report_row(r: dict[str, Any], rules: Any, now: datetime) -> dict[str, Any]:
    """A report with its deadline and SLA state in the page's words."""
    try:
        due = due_at(r, rules)
        state = sla_state(due, r["resolved_at"], now, rules.at_risk_fraction, created_at=r["created_at"])
    except Exception:
        due, state = None, "on_time"
    rule = rules.services.get(r["service_code"])
    return {**r, "due": due, "overdue": state in ("overdue", "breached") and r["status"] not in WITHDRAWN,
            "sla": state, "closed": r["status"] in CLOSED,
            "due_by_outage": r.get("outage_id") is not None and r.get("outage_end") is not None
            and due == r.get("outage_end"),
            "service_name": rule.name if rule else r["service_code"],
            "reopened": bool((r["attributes"] or {}).get("reopened_at"))}


def event_row(e: dict[str, Any]) -> dict[str, Any]:
    """A history event; its note as a text key when the system wrote it (an outage linked, approved, …)."""
    note = e["note"] or ""
    m = HISTORY.match(note)
    key = None
    params: dict[str, Any] = {}
    if m:
        key, params = f"history.outage.{(m.group(2) or 'linked').replace(' ', '_')}", {"id": m.group(1)}
    elif note in SYSTEM_NOTES:
        key = SYSTEM_NOTES[note]
    return {"at": e["at"], "to": e["to_status"], "from": e["from_status"], "note_key": key, "note_params": params}
