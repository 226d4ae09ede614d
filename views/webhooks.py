"""Organisations' webhooks (admin): each organisation's endpoint, the events waiting or failing with their next
try, the log of every delivery attempt; "retry now" for a waiting event. Endpoints are set on the command line
(``python -m orgs webhook set ORG_ID URL``: the secret on stdin, never in a page)."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from ops import webhooks
from views import errors
from views.common import t, tkey, tn
from views.formatting import fmt_dt
from views.session import actor, guard

LIMIT = 200


def _error(kind: str | None) -> str:
    """What went wrong, in the page's language (the technical text is in the worker's log, var/webhooks.log)."""
    return t(f"webhooks.err.{kind}") if kind else ""


def main() -> None:
    guard("webhooks")
    st.title(t("webhooks.title"))
    st.caption(t("webhooks.hint"))
    done = st.session_state.pop("webhooks_flash", None)
    if done:
        st.success(done)
    a = actor()
    try:
        hooks = webhooks.webhooks(a)
    except Exception as exc:
        errors.show(exc)
        return
    if not hooks:
        st.info(t("webhooks.none"))
    else:
        st.dataframe(pd.DataFrame([{
            t("webhooks.col.org"): f"{h['org_name']} (#{h['org_id']})", t("webhooks.col.url"): h["url"],
            t("webhooks.col.secret"): f"{h['secret_hint']}…", t("webhooks.col.pending"): h["pending"],
            t("webhooks.col.failing"): h["failing"], t("webhooks.col.delivered"): h["delivered"],
            t("webhooks.col.next"): fmt_dt(h["next_attempt_at"], seconds=True),
            t("webhooks.col.last_delivered"): fmt_dt(h["last_delivered_at"], seconds=True),
            t("webhooks.col.updated"): f"{fmt_dt(h['updated_at'])} · {h['updated_by']}",
        } for h in hooks]), hide_index=True, width="stretch")

    names = {h["org_id"]: f"{h['org_name']} (#{h['org_id']})" for h in hooks}
    org = st.selectbox(t("webhooks.org"), [None, *names], format_func=lambda o: t("webhooks.all") if o is None
                       else names[o], key=tkey("webhooks_org"))
    events = webhooks.events(a, org_id=org, limit=LIMIT)
    st.subheader(t("webhooks.events"))
    st.caption(tn("webhooks.events_count", len(events)))
    if events:
        st.dataframe(pd.DataFrame([{
            t("webhooks.col.created"): fmt_dt(e["created_at"], seconds=True), t("webhooks.col.org"): e["org_name"],
            t("webhooks.col.type"): t(f"webhooks.type.{e['type']}"), t("webhooks.col.order"): e["incident_id"],
            t("webhooks.col.state"): t(f"webhooks.state.{e['state']}"), t("webhooks.col.attempts"): e["attempts"],
            t("webhooks.col.next"): fmt_dt(e["next_attempt_at"], seconds=True) if e["state"] == "pending" else "",
            t("webhooks.col.status"): "" if e["last_status"] is None else str(e["last_status"]),
            t("webhooks.col.error"): _error(e["error_kind"]), t("webhooks.col.event_id"): e["event_id"],
        } for e in events]), hide_index=True, width="stretch")
    waiting = [e for e in events if e["state"] == "pending"]
    if waiting:
        with st.form("webhooks_retry"):
            pick = st.selectbox(t("webhooks.retry_pick"), [e["id"] for e in waiting], format_func=lambda i: next(
                f"{t('webhooks.type.' + e['type'])} · #{e['incident_id']} · {e['org_name']} · "
                f"{tn('webhooks.attempts', e['attempts'])}" for e in waiting if e["id"] == i))
            if st.form_submit_button(t("webhooks.retry"), type="primary"):
                try:
                    webhooks.retry_now(a, int(pick))
                except Exception as exc:
                    errors.show(exc)
                else:
                    st.session_state["webhooks_flash"] = t("webhooks.retried")
                    st.rerun()

    st.subheader(t("webhooks.log"))
    log = webhooks.deliveries(a, org_id=org, limit=LIMIT)
    if not log:
        st.info(t("webhooks.log_empty"))
        return
    st.dataframe(pd.DataFrame([{
        t("webhooks.col.at"): fmt_dt(d["at"], seconds=True), t("webhooks.col.org"): d["org_name"],
        t("webhooks.col.type"): t(f"webhooks.type.{d['type']}"), t("webhooks.col.order"): d["incident_id"],
        t("webhooks.col.result"): t("webhooks.ok") if d["ok"] else t("webhooks.failed"),
        t("webhooks.col.status"): "" if d["status_code"] is None else str(d["status_code"]),
        t("webhooks.col.ms"): d["duration_ms"], t("webhooks.col.error"): _error(d["error_kind"]),
        t("webhooks.col.url"): d["url"], t("webhooks.col.event_id"): d["event_id"],
    } for d in log]), hide_index=True, width="stretch")


main()
