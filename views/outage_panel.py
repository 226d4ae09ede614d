"""One outage on screen — the same panel on a burst report and on the outages page: state and times,
the approved plan (map, crew sheet with numbered valves and coordinates, addresses), the steps the
user may take, the reports it explains, and its history."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from auth.permissions import allowed
from ops import field as field_ops
from ops import network as net_ops
from ops import outages
from ops.base import utcnow
from ops.incidents import rules
from views import errors, exports, plan_map
from views.common import t, tn
from views.formatting import fmt_dt, history_note, label, md_safe, outage_state
from views.session import actor, current_user

STATE_ICON = {"planned": ":material/schedule:", "active": ":material/water_drop:", "restored": ":material/check_circle:",
              "cancelled": ":material/cancel:"}


def _may(permission: str) -> bool:
    user = current_user()
    return user is not None and allowed(user.role, permission)


def tz() -> ZoneInfo:
    return ZoneInfo(rules().timezone)


def when_input(label_key: str, default: datetime, *, key: str) -> datetime:
    """A date and a time in the region's zone, as an aware datetime."""
    local = default.astimezone(tz())
    c1, c2 = st.columns(2)
    d: date = c1.date_input(t(label_key), value=local.date(), key=f"{key}_d", format="DD.MM.YYYY")
    tm: time = c2.time_input(t("outage.time"), value=local.time().replace(second=0, microsecond=0), key=f"{key}_t",
                             step=timedelta(minutes=15))
    return datetime.combine(d, tm, tzinfo=tz())


def summary(o: Any) -> str:
    """One line: number, kind, state, buildings, residents, expected end (all text escaped)."""
    end = o.actual_end if o.state == "restored" else o.planned_end
    return md_safe(t("outage.summary", id=o.id, kind=t(f"outage.kind.{o.kind}"), state=outage_state(o),
                     buildings=tn("outage.n_buildings", o.buildings), residents=tn("outage.n_residents", o.residents),
                     end=fmt_dt(end)))


def flash(key: str) -> None:
    msg = st.session_state.pop(f"{key}_flash", None)
    if msg:
        st.success(msg)


def _done(key: str, message: str) -> None:
    st.session_state[f"{key}_flash"] = message
    st.rerun()


def panel(detail: outages.OutageDetail, *, key: str) -> None:
    o = detail.outage
    flash(key)
    st.markdown(f"#### {summary(o)}")
    facts = [
        (t("outage.field.reason"), o.reason or "—"),
        (t("outage.field.planned"), f"{fmt_dt(o.planned_start)} → {fmt_dt(o.planned_end)}"),
        (t("outage.field.actual"), f"{fmt_dt(o.actual_start) or '—'} → {fmt_dt(o.actual_end) or '—'}"),
        (t("outage.field.approved_by"), o.approved_by),
    ]
    if o.started_by:
        facts.append((t("outage.field.started_by"), o.started_by))
    if o.ended_by:
        facts.append((t("outage.field.ended_by"), o.ended_by))
    st.dataframe(pd.DataFrame(facts, columns=[t("field.field"), t("field.value")]), hide_index=True,
                 width="stretch")
    actions(detail, key=key)
    crew_marks(detail, key=key)
    breaks = [(i.lat, i.lon) for i in detail.incidents if i.category == "burst"]
    # a valve the crew cannot close: the grown plan takes the place of the approved one on the map and
    # in the crew sheet until it is approved or the step is closed, what it adds highlighted
    ext = stuck_step(detail, key=key)
    if ext is not None:
        geoms = net_ops.pipe_geometries(actor(), list(ext.plan.result.isolated_links)
                                        + list(ext.plan.result.unintended_links))
        shape = plan_map.of_plan(ext.plan, geoms, breaks=breaks, new_valves=[str(v) for v in ext.valves_added],
                                 new_buildings=ext.buildings_added)
    else:
        shape = plan_map.of_outage(detail, breaks=breaks)
    plan_map.metrics(shape)
    left, right = st.columns([3, 2])
    with left:
        plan_map.draw(shape, key=f"{key}_map_{o.id}_{o.version}{'_grown' if ext is not None else ''}",
                      network_id=o.network_id)
    with right:
        cause = next((i for i in detail.incidents if i.category == "burst"), None)
        plan_map.tables(shape, key=f"outage-{o.id}", context=exports.SheetContext(
            made_at=utcnow(), timezone=rules().timezone, outage_id=o.id, incident_id=cause.id if cause else None,
            where=(cause.address if cause and cause.address else o.reason) or ""))
    linked(detail)
    history(detail)


def actions(detail: outages.OutageDetail, *, key: str) -> None:
    o = detail.outage
    if o.state not in ("planned", "active"):
        return
    a = actor()
    cols = st.columns(3)
    if o.state == "planned" and _may("outages.approve"):
        if cols[0].button(t("outage.start"), key=f"{key}_start_{o.id}", type="primary", width="stretch"):
            done = errors.attempt(outages.start, a, o.id)
            if done is not None:
                _done(key, t("outage.started", id=done.id, at=fmt_dt(done.actual_start)))
    if o.state == "active" and _may("outages.restore"):
        if cols[0].button(t("outage.restore"), key=f"{key}_restore_{o.id}", type="primary", width="stretch"):
            done = errors.attempt(outages.restore, a, o.id)
            if done is not None:
                _done(key, t("outage.restored", id=done.id, at=fmt_dt(done.actual_end)))
    if _may("outages.approve") and _may("valves.mark"):
        # a toggle, not a popover: the step stays open while the page reruns on each valve picked
        stuck_key = f"{key}_stuck_open_{o.id}"
        if st.session_state.pop(f"{stuck_key}_reset", False):
            st.session_state[stuck_key] = False
            st.session_state.pop(f"{key}_stuck_{o.id}", None)
        cols[1].toggle(t("outage.stuck"), key=stuck_key)
    may_time = _may("outages.plan") if (o.kind == "planned" and o.state == "planned") else _may("outages.approve")
    if may_time:
        with cols[2].popover(t("outage.reschedule"), width="stretch"):
            reschedule_form(detail, key=key)
    if o.state == "planned" and _may("outages.cancel"):
        with st.expander(t("outage.cancel")):
            reason = st.text_input(t("outage.reason"), key=f"{key}_cancel_reason_{o.id}", max_chars=500)
            if st.button(t("outage.cancel_confirm"), key=f"{key}_cancel_{o.id}") and \
                    errors.attempt(outages.cancel, a, o.id, reason=reason) is not None:
                _done(key, t("outage.cancelled", id=o.id))


def crew_marks(detail: outages.OutageDetail, *, key: str) -> None:
    """What the crews marked on the valve sheet from their phones (``python -m field serve``): valves closed,
    valves that will not close — and, for those not yet approved, the re-plan approved in one step."""
    o = detail.outage
    marks = field_ops.stuck_reports(actor(), o.id)
    if not marks:
        return
    codes = {int(v["id"]): str(v.get("ext_id") or v["id"]) for v in detail.valves + detail.optional_valves}
    rows = [{t("outage.crew.valve"): codes.get(m.valve_id, str(m.valve_id)),
             t("outage.crew.mark"): t("outage.crew.closed") if m.kind == "closed" else t("outage.crew.stuck"),
             t("outage.crew.when"): fmt_dt(m.done_at), t("outage.crew.who"): m.author,
             t("outage.crew.state"): t("outage.crew.approved") if m.state == "approved"
             else (t("outage.crew.pending") if m.state == "pending" else "")} for m in marks]
    st.markdown(f"##### {t('outage.crew.title')}")
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    pending = [m for m in marks if m.state == "pending"]
    if pending and o.state in ("planned", "active") and _may("outages.approve") and _may("valves.mark"):
        st.warning(t("outage.crew.stuck_waiting", valves=", ".join(sorted({codes.get(m.valve_id, str(m.valve_id))
                                                                           for m in pending}))))
        if st.button(t("outage.crew.approve"), key=f"{key}_crew_approve_{o.id}", type="primary"):
            try:
                grown = field_ops.approve_stuck(actor(), o.id)
            except field_ops.FieldRefused as exc:
                st.error(t(exc.key, **exc.params))
                return
            except Exception as exc:
                errors.show(exc)
                return
            _done(key, t("outage.extended", id=grown.id, buildings=tn("outage.n_buildings", grown.buildings),
                         residents=tn("outage.n_residents", grown.residents)))


def stuck_step(detail: outages.OutageDetail, *, key: str) -> outages.Extension | None:
    """A valve the crew cannot close: pick it, see the grown outage (returned, for the map and the crew
    sheet), approve it in one step. Nothing when the step is not open."""
    o = detail.outage
    if o.state not in ("planned", "active") or not st.session_state.get(f"{key}_stuck_open_{o.id}"):
        return None
    if not (_may("outages.approve") and _may("valves.mark")):
        return None
    names = {int(v["id"]): f"{v['order']}. {v.get('ext_id') or v['id']} — {v.get('street') or ''}" for v in detail.valves}
    picked = st.multiselect(t("outage.stuck_pick"), list(names), format_func=names.get, placeholder=t("common.choose"),
                            key=f"{key}_stuck_{o.id}")
    if not picked:
        st.caption(t("outage.stuck_hint"))
        return None
    try:
        ext = outages.preview_extension(actor(), o.id, picked)
    except Exception as exc:
        errors.show(exc)
        return None
    st.warning(t("outage.stuck_preview", valves=tn("outage.more_valves", len(ext.valves_added)),
                 buildings=tn("outage.more_buildings", len(ext.buildings_added)),
                 residents=tn("outage.more_residents", ext.residents_added)))
    st.caption(t("outage.stuck_shown"))
    if st.button(t("outage.stuck_approve"), key=f"{key}_extend_{o.id}", type="primary"):
        grown = errors.attempt(outages.extend, actor(), o.id, picked, seen_plan=ext.plan.fingerprint)
        if grown is not None:
            st.session_state[f"{key}_stuck_open_{o.id}_reset"] = True
            _done(key, t("outage.extended", id=grown.id, buildings=tn("outage.n_buildings", grown.buildings),
                         residents=tn("outage.n_residents", grown.residents)))
    return ext


def reschedule_form(detail: outages.OutageDetail, *, key: str) -> None:
    o = detail.outage
    start = None
    if o.state == "planned":
        start = when_input("outage.new_start", o.planned_start, key=f"{key}_rs_start_{o.id}")
    end = when_input("outage.new_end", o.planned_end, key=f"{key}_rs_end_{o.id}")
    reason = st.text_input(t("outage.reason"), key=f"{key}_rs_reason_{o.id}", max_chars=500)
    if st.button(t("outage.reschedule_save"), key=f"{key}_rs_{o.id}"):
        done = errors.attempt(outages.reschedule, actor(), o.id, planned_start=start, planned_end=end, reason=reason)
        if done is not None:
            _done(key, t("outage.rescheduled", id=done.id, end=fmt_dt(done.planned_end)))


def linked(detail: outages.OutageDetail) -> None:
    if not detail.incidents:
        return
    st.markdown(f"**{t('outage.incidents')}**")
    st.dataframe(pd.DataFrame([{
        t("incident.col.id"): i.id, t("incident.col.category"): label("category", i.category),
        t("incident.col.status"): label("status", i.status), t("incident.col.address"): i.address or "",
        t("incident.col.created"): fmt_dt(i.created_at),
    } for i in detail.incidents]), hide_index=True, width="stretch")


def history(detail: outages.OutageDetail) -> None:
    if not detail.history:
        return
    with st.expander(t("outage.history")):
        st.dataframe(pd.DataFrame([{
            t("audit.col.at"): fmt_dt(e["at"], seconds=True), t("audit.col.actor"): e["actor"],
            t("audit.col.action"): t(f"audit.action.{e['action']}"), t("audit.col.reason"): history_note(e["reason"]),
        } for e in detail.history]), hide_index=True, width="stretch")
