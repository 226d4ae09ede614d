"""Shutoff planner: click a main (or several) to see the valves to close, what goes dry and every address
cut off; try "this valve will not close"; schedule planned works from the plan; keep the register of
stuck valves; rank the network's valves and segments by criticality."""
from __future__ import annotations

from datetime import timedelta

import pandas as pd
import streamlit as st

from auth.permissions import allowed
from network.errors import NetworkError
from network.plan import distance_m
from ops import maps, outages
from ops import network as net_ops
from ops.base import utcnow
from views import errors, plan_map
from views.common import network_id, t
from i18n import system_note
from views.formatting import fmt_dt, history_note, md_safe
from views.map_parts import fit_zoom
from views.outage_panel import when_input
from views.risk_panel import risk_tab
from views.session import actor, current_user, guard

VALVE_CLICK_M = 6.0  # a click this close to a numbered valve marks it stuck (in the what-if)


def _may(permission: str) -> bool:
    user = current_user()
    return user is not None and allowed(user.role, permission)


def isolate_tab(net: int) -> None:
    ss = st.session_state
    ss.setdefault("planner_breaks", [])
    ss.setdefault("planner_stuck", [])
    a = actor()
    st.caption(t("planner.hint"))
    pipes = net_ops.pipe_choices(a, net)
    bounds = maps.city_bounds(a)
    labels = {p["id"]: f"{p['ext_id']} — {p['street'] or '…'}, {int(p['diameter_mm'] or 0)} mm" for p in pipes}
    cols = st.columns([4, 1, 1])
    pick = cols[0].selectbox(t("planner.pick"), [None, *labels], format_func=lambda i: labels.get(i, "—"),
                             key="planner_pick")
    if pick and pick not in ss["planner_breaks"] and ss.get("planner_last_pick") != pick:
        ss["planner_last_pick"] = pick
        ss["planner_breaks"], ss["planner_stuck"] = [pick], []
        mid = net_ops.pipe_details(a, [pick]).get(pick)
        if mid:
            ss["planner_center"], ss["planner_zoom"] = (mid["lat"], mid["lon"]), 17
    if cols[2].button(t("planner.clear")):
        ss["planner_breaks"], ss["planner_stuck"] = [], []
        st.rerun()
    add_mode = cols[1].toggle(t("planner.add"), key="planner_add_mode")
    if bounds is None:
        st.info(t("map.no_data"))
        return
    # the page keeps one layout with or without a plan: the map stays the same component (no reload),
    # only its plan layers change
    notes, summary = st.container(), st.container()
    plan = None
    if ss["planner_breaks"]:
        try:
            plan = net_ops.plan(a, net, ss["planner_breaks"], extra_inoperable=ss["planner_stuck"])
        except NetworkError as exc:
            notes.error(t("planner.error", error=md_safe(exc)))
        notes.caption(t("planner.breaks", pipes=md_safe(", ".join(labels.get(p, p) for p in ss["planner_breaks"]))))
    ss.setdefault("planner_zoom", fit_zoom(bounds))
    home = ((bounds[1] + bounds[3]) / 2, (bounds[0] + bounds[2]) / 2), fit_zoom(bounds)
    center = ss.get("planner_center") or home[0]
    shape = None
    if plan is not None:
        geoms = net_ops.pipe_geometries(a, list(plan.result.isolated_links) + list(plan.result.unintended_links))
        shape = plan_map.of_plan(plan, geoms)
        with summary:
            plan_map.metrics(shape)
    left, right = st.columns([3, 2])
    with left:
        out = plan_map.draw(shape, key="planner_map", network_id=net, height=680, center=center,
                            zoom=ss["planner_zoom"], home=home, fit=False,
                            returned_objects=["last_clicked", "last_object_clicked"])
    on_click(out or {}, plan, net, add_mode)
    if shape is None:
        right.info(t("planner.empty"))
    else:
        with right:
            stuck_whatif(plan)
            plan_map.tables(shape, key="shutoff-plan", height=300)
        if _may("outages.plan"):
            schedule_form(net, plan)


def on_click(out: dict, plan: object, net: int, add_mode: bool) -> None:
    """A click on a numbered valve = "it will not close" (what-if); elsewhere = the nearest pipe breaks."""
    ss = st.session_state
    obj = out.get("last_object_clicked")
    clicked = obj if obj and obj != ss.get("planner_last_object") else out.get("last_clicked")
    if obj:
        ss["planner_last_object"] = obj
    if not clicked or ss.get("planner_last_click") == clicked:
        return
    ss["planner_last_click"] = clicked
    here = {"lon": float(clicked["lng"]), "lat": float(clicked["lat"])}
    valves = plan.valves_to_close if plan is not None else []  # type: ignore[attr-defined]
    stuck = next((v for v in valves if v.get("lon") is not None and distance_m(here, v) <= VALVE_CLICK_M), None)
    if stuck is not None:
        ss["planner_stuck"] = sorted(set(ss["planner_stuck"]) | {stuck["id"]})
        st.rerun()
    hit = net_ops.nearest_pipe(actor(), net, here["lon"], here["lat"])
    if hit is None:
        st.toast(t("planner.no_pipe"))
        return
    ss["planner_breaks"] = sorted(set(ss["planner_breaks"]) | {hit["id"]}) if add_mode else [hit["id"]]
    if not add_mode:
        ss["planner_stuck"] = []
    st.rerun()


def stuck_whatif(plan: object) -> None:
    """Try a valve that will not close (nothing stored), or record it stuck for every later plan."""
    ss = st.session_state
    with st.container(border=True):
        st.markdown(f"**{t('planner.stuck')}**")
        choices = {v["id"]: f"{v['order']}. {v.get('ext_id')} — {v.get('street') or ''}"
                   for v in plan.valves_to_close}  # type: ignore[attr-defined]
        pick = st.selectbox(t("planner.stuck"), list(choices), format_func=choices.get,
                            label_visibility="collapsed", key="planner_stuck_pick")
        cols = st.columns(2)
        if cols[0].button(t("planner.stuck_button"), disabled=pick is None, width="stretch"):
            ss["planner_stuck"] = sorted(set(ss.get("planner_stuck") or []) | {pick})
            st.rerun()
        if _may("valves.mark") and cols[1].button(t("planner.stuck_save"), disabled=pick is None,
                                                   width="stretch"):
            try:
                net_ops.mark_valve(actor(), pick, "stuck", reason=system_note("valve_stuck_crew"))
            except Exception as exc:
                errors.show(exc)
            else:
                st.success(t("planner.stuck_saved", valve=md_safe(choices.get(pick))))
        if ss.get("planner_stuck"):
            names = net_ops.valve_details(actor(), ss["planner_stuck"])
            st.caption(t("planner.stuck_list", valves=md_safe(", ".join(
                str(names.get(str(v), {}).get("ext_id", v)) for v in ss["planner_stuck"]))))
            if st.button(t("planner.stuck_reset")):
                ss["planner_stuck"] = []
                st.rerun()


def schedule_form(net: int, plan: object) -> None:
    """Planned works on the picked pipes: announced ahead, shown as planned, checked for overlaps."""
    ss = st.session_state
    with st.expander(t("planner.works"), expanded=False):
        st.caption(t("planner.works_hint"))
        start = when_input("planner.works_start", utcnow() + timedelta(days=14), key="works_start")
        end = when_input("planner.works_end", utcnow() + timedelta(days=14, hours=6), key="works_end")
        reason = st.text_input(t("planner.works_reason"), key="works_reason", max_chars=500)
        if start < utcnow() + timedelta(days=14):
            st.caption(t("planner.works_notice"))
        if st.button(t("planner.works_save"), type="primary", key="works_save"):
            try:
                o = outages.schedule(actor(), network_id=net, break_pipe_ids=ss["planner_breaks"], planned_start=start,
                                     planned_end=end, reason=reason, seen_plan=plan.fingerprint)  # type: ignore[attr-defined]
            except Exception as exc:
                errors.show(exc)
            else:
                st.success(t("planner.works_saved", id=o.id, start=fmt_dt(o.planned_start), end=fmt_dt(o.planned_end)))
                short = outages.notice_days_short(o.planned_start)
                if short is not None:
                    st.warning(t("planner.works_notice_short", days=short[0], need=short[1]))


def stuck_tab(net: int) -> None:
    """The register of stuck valves: who recorded each and when; mark one repaired."""
    rows = net_ops.inoperable_valves(actor(), net)
    if not rows:
        st.info(t("planner.register_empty"))
        return
    st.dataframe(pd.DataFrame([{
        t("plan.col.valve"): r["ext_id"], t("plan.col.street"): r["street"] or "",
        t("planner.register_by"): r["marked_by"] or "—", t("planner.register_at"): fmt_dt(r["marked_at"]) or "—",
        t("planner.register_reason"): history_note(r["reason"]),
    } for r in rows]), hide_index=True, width="stretch")
    if not _may("valves.mark"):
        return
    names = {r["id"]: f"{r['ext_id']} — {r['street'] or ''}" for r in rows}
    cols = st.columns([2, 3, 1])
    pick = cols[0].selectbox(t("planner.register_pick"), list(names), format_func=names.get, key="repair_pick")
    reason = cols[1].text_input(t("planner.register_note"), key="repair_reason", max_chars=500)
    if cols[2].button(t("planner.register_repaired"), key="repair_save", width="stretch"):
        try:
            net_ops.mark_valve(actor(), pick, "repaired", reason=reason)
        except Exception as exc:
            errors.show(exc)
        else:
            st.rerun()


def criticality_tab(net: int) -> None:
    st.caption(t("planner.crit.hint"))
    crit, seconds = net_ops.criticality(actor(), net)
    valves = crit.valves.head(25)
    details = net_ops.valve_details(actor(), valves["valve"].tolist())
    st.subheader(t("planner.crit.valves"))
    st.dataframe(pd.DataFrame([{
        t("plan.col.valve"): details.get(str(r.valve), {}).get("ext_id", r.valve),
        t("plan.col.street"): details.get(str(r.valve), {}).get("street"),
        t("planner.col.status"): t(f"legend.valve.{r.status}"),
        t("planner.crit.extra_residents"): int(r.extra_residents),
        t("planner.crit.extra_pipes"): int(r.extra_links),
    } for r in valves.itertuples()]), hide_index=True, width="stretch")
    st.subheader(t("planner.crit.segments"))
    seg = crit.segments.sort_values("shutoff_residents", ascending=False).head(25)
    st.dataframe(pd.DataFrame({
        t("planner.crit.residents"): seg["shutoff_residents"].astype(int),
        t("planner.crit.pipes"): seg["shutoff_links"].astype(int),
        t("planner.crit.km"): (seg["shutoff_length_m"] / 1000).round(2),
        t("planner.crit.valves_to_operate"): seg["valves_to_operate"].astype(int),
    }), width="stretch")
    st.caption(t("planner.crit.time", seconds=seconds))


def main() -> None:
    guard("planner")
    st.title(t("planner.title"))
    net = network_id()
    if net is None:
        st.info(t("planner.no_network"))
        return
    tab_iso, tab_stuck, tab_crit, tab_risk = st.tabs([t("planner.tab.isolate"), t("planner.tab.register"),
                                                      t("planner.tab.criticality"), t("risk.tab")])
    with tab_iso:
        isolate_tab(net)
    with tab_stuck:
        stuck_tab(net)
    with tab_crit:
        criticality_tab(net)
    with tab_risk:
        risk_tab(net)


main()
