"""The audit trail (inspectors and admins): who did what and when — filters and CSV export."""
from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from ops import audit_log
from ops.incidents import rules
from views import errors
from views.common import t, tn
from views.formatting import fmt_dt, history_note, label
from views.session import actor, guard

FAIL_REASONS = ("password", "unknown", "disabled", "locked")


def _n(value: object) -> str:
    return f"{int(value):,}".replace(",", "\u202f") if isinstance(value, (int, float)) else str(value)


def details_text(action: str, d: dict[str, Any]) -> str:
    """The details of an event in words of the page's language (the CSV keeps them whole, as JSON)."""
    if action in ("incident.status", "incident.create"):
        return " → ".join(label("status", s) for s in (d.get("from"), d.get("to")) if s)
    if action == "auth.login":
        return t("audit.d.role", role=t(f"role.{d.get('role')}"))
    if action == "auth.login_failed":
        return t(f"audit.d.failed.{d.get('reason')}") if d.get("reason") in FAIL_REASONS else ""
    if action == "user.set_role":
        return t("audit.d.role_change", old=t(f"role.{d.get('from')}"), new=t(f"role.{d.get('to')}"))
    if action == "user.add":
        return t("audit.d.role", role=t(f"role.{d.get('role')}"))
    if action == "valve.status":
        return t("audit.d.valve", valve=d.get("ext_id", ""), old=t(f"legend.valve.{d.get('from')}"),
                 new=t(f"legend.valve.{d.get('to')}"))
    if action.startswith("outage.") and ("buildings" in d or "buildings_added" in d):
        parts = []
        if "buildings" in d:
            parts.append(tn("audit.d.buildings", d["buildings"], n=_n(d["buildings"])))
        if "residents" in d:
            parts.append(tn("audit.d.residents", d["residents"], n=_n(d["residents"])))
        if d.get("buildings_added"):
            parts.append(tn("audit.d.buildings_added", len(d["buildings_added"]), n=_n(len(d["buildings_added"]))))
        if d.get("valves_added"):
            parts.append(tn("audit.d.valves_added", len(d["valves_added"]), n=_n(len(d["valves_added"]))))
        return ", ".join(parts)
    if action in ("outage.start", "outage.restore") and ("incidents_resolved" in d or "reports_linked" in d):
        n = len(d.get("incidents_resolved") or d.get("reports_linked") or [])
        if action == "outage.restore":
            return tn("audit.d.reports_resolved", n, n=_n(n))
        return tn("audit.d.reports_linked", n, n=_n(n))
    if action in ("incident.note_add", "incident.note_edit"):
        return t("audit.d.note", id=d.get("note_id", ""))
    if action in ("data.import", "demo.reload"):
        return t("audit.d.import", file=d.get("file") or "", checksum=str(d.get("checksum") or "")[:12],
                 diff=d.get("diff") or "")
    return json.dumps(d, ensure_ascii=False, default=str) if d else ""


def object_label(kind: str | None, number: str | None) -> str:
    word = t(f"audit.object.{kind}") if kind else ""
    return f"{word} {number or ''}".strip()


def main() -> None:
    guard("audit")
    st.title(t("audit.title"))
    tz = ZoneInfo(rules().timezone)
    today = datetime.now(tz).date()
    c = st.columns([1, 1, 2, 1, 1])
    since = c[0].date_input(t("audit.since"), value=today - timedelta(days=7), format="DD.MM.YYYY", key="audit_since")
    until = c[1].date_input(t("audit.until"), value=today, format="DD.MM.YYYY", key="audit_until")
    who = c[2].text_input(t("audit.actor"), key="audit_actor", max_chars=100)
    otype = c[3].selectbox(t("audit.object_type"), [None, *audit_log.OBJECT_TYPES], key="audit_otype",
                           format_func=lambda o: t(f"audit.object.{o}") if o else t("audit.any"))
    oid = c[4].text_input(t("audit.object_id"), key="audit_oid", max_chars=40)
    actions = st.multiselect(t("audit.actions"), audit_log.TRAIL_ACTIONS, placeholder=t("common.choose"), key="audit_actions",
                             format_func=lambda a: t(f"audit.action.{a}"))
    flt = audit_log.AuditFilter(
        since=datetime.combine(since, time.min, tzinfo=tz), until=datetime.combine(until + timedelta(days=1), time.min, tzinfo=tz),
        actor=who or None, actions=tuple(actions), object_type=otype, object_id=oid or None, limit=2000)
    try:
        rows = audit_log.events(actor(), flt)
    except Exception as exc:
        errors.show(exc)
        return
    st.caption(tn("audit.count", len(rows)) + (" · " + tn("audit.limited", len(rows)) if len(rows) >= flt.limit else ""))
    st.dataframe(pd.DataFrame([{
        t("audit.col.at"): fmt_dt(r["at"], seconds=True), t("audit.col.actor"): r["actor"],
        t("audit.col.action"): t(f"audit.action.{r['action']}"),
        t("audit.col.object"): object_label(r["object_type"], r["object_id"]),
        t("audit.col.reason"): history_note(r["reason"]),
        t("audit.col.details"): details_text(r["action"], r["details"] or {}),
    } for r in rows]), hide_index=True, width="stretch", height=560)
    export = rows if len(rows) < flt.limit else audit_log.events(actor(), replace(flt, limit=audit_log.MAX_ROWS))
    st.download_button(t("audit.csv"), audit_log.to_csv(export, tz=rules().timezone),
                       f"audit-{since:%Y%m%d}-{until:%Y%m%d}.csv", "text/csv", key="audit_csv")


main()
