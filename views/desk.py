"""An organisation's desk (``org_dispatcher``): its own work orders only — accept, assign to a crew, plan a
visit, resolve with an answer and photos, hand back ("not ours"). Everything goes through ``ops.orgs``,
which decides the scope; this page only offers the actions."""
from __future__ import annotations

import uuid
from datetime import datetime, time
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from i18n import N_
from incidents.errors import IncidentError
from incidents.model import QueueItem
from incidents.workflow import OPEN_STATUSES, STATUSES
from ops import orgs as org_ops
from ops.incidents import rules
from views import errors
from views.common import pick_record, t, tkey, tn
from views.desk_parts import crew_name, orders_map, state_text
from views.formatting import fmt_dt, label, service_label
from views.session import actor, guard

ACTION_TEXTS: dict[str, str] = {
    "accepted": N_("desk.action.accepted"),
    "assigned": N_("desk.action.assigned"),
    "visit_planned": N_("desk.action.visit_planned"),
    "resolved": N_("desk.action.resolved"),
    "returned": N_("desk.action.returned"),
    "on_the_way": N_("desk.action.on_the_way"),   # a crew's steps, from its phone (python -m field serve)
    "arrived": N_("desk.action.arrived"),
}


def action_text(kind: str) -> str:
    return t(ACTION_TEXTS[kind]) if kind in ACTION_TEXTS else kind


def orders_table(items: list[QueueItem], crews: dict[str, str] | None = None) -> pd.DataFrame:
    crews = crews or {}
    return pd.DataFrame([{
        t("incident.col.id"): q.incident.id,
        t("incident.col.created"): fmt_dt(q.incident.created_at),
        t("incident.col.category"): label("category", q.incident.category),
        t("incident.col.address"): q.incident.address or "",
        t("incident.col.status"): label("status", q.incident.status),
        t("desk.col.state"): state_text(q.incident.org_state),
        t("desk.col.crew"): crew_name(q.incident.crew_login, crews),
        t("desk.col.visit"): fmt_dt(q.incident.visit_at),
        t("incident.col.sla"): label("sla", q.sla_state),
        t("incident.col.due"): fmt_dt(q.due_at),
    } for q in items])


def _crews() -> dict[str, str]:
    """The organisation's active crews: login -> display name."""
    return {c["login"]: c["display_name"] or c["login"] for c in org_ops.crews(actor())}


def _event_id(form: str) -> str:
    """One id per form shown: a double submit of the same form is stored once (``ops.orgs.act``)."""
    key = f"desk_event_{form}"
    if key not in st.session_state:
        st.session_state[key] = f"desk-{uuid.uuid4().hex}"
    return str(st.session_state[key])


def _done(form: str, incident_id: int, kind: str) -> None:
    st.session_state.pop(f"desk_event_{form}", None)
    st.session_state["desk_flash"] = t("desk.done", id=incident_id, action=action_text(kind))
    st.rerun()


def _act(form: str, incident_id: int, kind: str, **fields: object) -> None:
    try:
        org_ops.act(actor(), incident_id, kind, event_id=_event_id(form), **fields)  # type: ignore[arg-type]
    except Exception as exc:
        errors.show(exc)
        return
    _done(form, incident_id, kind)


def actions(order: org_ops.WorkOrder) -> None:
    inc = order.incident
    if inc.status not in OPEN_STATUSES:
        st.caption(t("incident.final"))
        return
    if inc.org_state is None and st.button(t("desk.action.accepted"), key=f"desk_accept_{inc.id}", type="primary"):
        _act(f"accept_{inc.id}", inc.id, "accepted")
    crews = _crews()
    with st.expander(t("desk.action.assigned")):
        if not crews:
            st.info(t("desk.no_crews"))
        else:
            with st.form(f"desk_assign_{inc.id}", border=False):
                crew = st.selectbox(t("desk.col.crew"), list(crews), format_func=crews.get, key=f"desk_crew_{inc.id}")
                if st.form_submit_button(t("desk.action.assigned")):
                    _act(f"assign_{inc.id}", inc.id, "assigned", crew=crew)
    with st.expander(t("desk.action.visit_planned")), st.form(f"desk_visit_{inc.id}", border=False):
        tz = ZoneInfo(rules().timezone)
        c = st.columns(2)
        day = c[0].date_input(t("desk.visit_day"), format="DD.MM.YYYY", key=f"desk_vday_{inc.id}")
        at = c[1].time_input(t("desk.visit_time"), value=time(10, 0), key=f"desk_vtime_{inc.id}")
        if st.form_submit_button(t("desk.action.visit_planned")):
            _act(f"visit_{inc.id}", inc.id, "visit_planned", visit_at=datetime.combine(day, at, tzinfo=tz))
    with st.expander(t("desk.action.resolved")), st.form(f"desk_resolve_{inc.id}", border=False):
        answer = st.text_area(t("desk.answer"), max_chars=4000, key=f"desk_answer_{inc.id}")
        shots = st.file_uploader(t("desk.photos"), type=["jpg", "jpeg", "png", "webp", "heic", "heif"], accept_multiple_files=True,
                                 key=f"desk_photos_{inc.id}")
        if st.form_submit_button(t("desk.action.resolved"), type="primary"):
            _act(f"resolve_{inc.id}", inc.id, "resolved", text=answer,
                 photos=[f.getvalue() for f in shots or []])
    with st.expander(t("desk.action.returned")), st.form(f"desk_return_{inc.id}", border=False):
        reason = st.text_input(t("desk.reason"), max_chars=1000, key=f"desk_reason_{inc.id}")
        if st.form_submit_button(t("desk.action.returned")):
            _act(f"return_{inc.id}", inc.id, "returned", text=reason)


def detail(incident_id: int) -> None:
    try:
        order = org_ops.work_order(actor(), incident_id)
    except IncidentError:
        st.error(t("incident.not_found", id=incident_id))
        return
    inc, q = order.incident, order.item
    st.header(t("incident.detail", id=inc.id))
    left, right = st.columns([2, 3])
    with left:
        st.dataframe(pd.DataFrame([
            (t("incident.field.service"), service_label(inc.service_code)),
            (t("incident.field.address"), inc.address or ""),
            (t("incident.field.status"), label("status", inc.status)),
            (t("desk.col.state"), state_text(inc.org_state)),
            (t("desk.col.crew"), crew_name(inc.crew_login, _crews())),
            (t("desk.col.visit"), fmt_dt(inc.visit_at)),
            (t("incident.field.created"), fmt_dt(inc.created_at)),
            (t("incident.field.due"), fmt_dt(q.due_at)),
            (t("incident.field.sla"), label("sla", q.sla_state)),
            (t("desk.answer"), inc.org_answer or ""),
        ], columns=[t("field.field"), t("field.value")]), hide_index=True, width="stretch")
    with right:
        st.markdown(f"**{t('incident.description')}**")
        st.text(inc.description or "—")   # free text: shown as text, never as markup
        actions(order)
        if order.events:
            st.markdown(f"**{t('incident.history')}**")
            st.dataframe(pd.DataFrame([{
                t("incident.hist.at"): fmt_dt(e.at, seconds=True), t("incident.hist.actor"): e.author,
                t("desk.col.action"): action_text(e.kind), t("incident.hist.note"): e.text,
            } for e in order.events]), hide_index=True, width="stretch")
        if order.photos:
            st.caption(tn("desk.photo_count", len(order.photos)))


def main() -> None:
    guard("desk")
    st.title(t("desk.title"))
    flash = st.session_state.pop("desk_flash", None)
    if flash:
        st.success(flash)
    statuses = st.multiselect(t("incident.filter.status"), STATUSES, default=sorted(OPEN_STATUSES),
                              format_func=lambda s: label("status", s), placeholder=t("common.choose"),
                              key=tkey("desk_f_status"))
    try:
        items = org_ops.work_orders(actor(), statuses=statuses or STATUSES)
    except Exception as exc:
        errors.show(exc)
        return
    st.caption(tn("incident.count", len(items)))
    if items:
        st.dataframe(orders_table(items, _crews()), hide_index=True, width="stretch", height=320)
        if st.toggle(t("desk.map"), key="desk_map_on"):   # drawn only when asked: a map in a folded box is blank
            orders_map(items)
    else:
        st.info(t("incident.none"))
    pick = pick_record(t("incident.open"), [q.incident.id for q in items], key="desk_pick")
    if pick is None:
        return
    st.divider()
    detail(pick)


main()
