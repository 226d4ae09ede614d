"""The audit trail (inspectors and admins): who did what and when — filters and CSV export."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from ops import audit_log
from ops.incidents import rules
from views import errors
from views.audit_details import details_text, object_label
from views.common import t, tkey, tn
from views.formatting import fmt_dt, history_note
from views.session import actor, guard


def main() -> None:
    guard("audit")
    st.title(t("audit.title"))
    tz = ZoneInfo(rules().timezone)
    today = datetime.now(tz).date()
    c = st.columns([1, 1, 2, 1, 1])
    since = c[0].date_input(t("audit.since"), value=today - timedelta(days=7), format="DD.MM.YYYY", key="audit_since")
    until = c[1].date_input(t("audit.until"), value=today, format="DD.MM.YYYY", key="audit_until")
    who = c[2].text_input(t("audit.actor"), key="audit_actor", max_chars=100)
    otype = c[3].selectbox(t("audit.object_type"), [None, *audit_log.OBJECT_TYPES], key=tkey("audit_otype"),
                           format_func=lambda o: t(f"audit.object.{o}") if o else t("audit.any"))
    oid = c[4].text_input(t("audit.object_id"), key="audit_oid", max_chars=40)
    actions = st.multiselect(t("audit.actions"), audit_log.TRAIL_ACTIONS, placeholder=t("common.choose"), key=tkey("audit_actions"),
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
