"""From a burst report to a shutoff: plan (valves in crew order, affected addresses), approve, restore.

The isolation index is built once per (network, revision) with ``st.cache_resource``
(``views.network_cache``, shared with the planner page); the plan
itself comes from ``network.plan.plan_from_db`` like the planner page does.
"""
from __future__ import annotations

from typing import Any

import folium
import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from gis import layers as L
from incidents import repo as incident_repo
from incidents import service as S
from incidents.errors import IncidentError
from incidents.model import Incident, Outage
from network.plan import ShutoffPlan, plan_from_db
from network.repo import pipe_geojson
from settings import get_settings
from views.common import engine, t
from views.formatting import actor, fmt_dt, label, md_safe
from views.map_parts import viewport_layers
from views.network_cache import network_index

ISOLATED, UNINTENDED = "#d7191c", "#ff8c00"
OPTIONAL = "#9e9e9e"
BUILDING_ISOLATED, BUILDING_UNINTENDED = "#fb6a4a", "#fdae6b"


def outage_api() -> Any:
    """The module with the outage functions: ``incidents.service`` (documented), or
    ``incidents.outages`` where they are being moved to."""
    if hasattr(S, "approve_outage"):
        return S
    from incidents import outages

    return outages


def outage_of_incident(incident_id: int) -> Outage | None:
    """The latest outage approved for this incident (the domain has no lookup by incident yet)."""
    with engine().connect() as conn:
        found = [o for o in incident_repo.list_outages(conn, ["planned", "active", "restored", "cancelled"])
                 if o.incident_id == incident_id]
    return max(found, key=lambda o: o.id) if found else None


def make_plan(inc: Incident) -> ShutoffPlan:
    assert inc.network_id is not None and inc.pipe_id is not None
    index = network_index(inc.network_id)  # built once per (network, revision), shared with the planner
    with engine().connect() as conn:
        return plan_from_db(conn, index, inc.network_id, [str(inc.pipe_id)])


def plan_map(inc: Incident, plan: ShutoffPlan) -> None:
    with engine().connect() as conn:
        geoms = pipe_geojson(conn, list(plan.result.isolated_links) + list(plan.result.unintended_links))
    pts = [(v["lon"], v["lat"]) for v in plan.valves_to_close + plan.optional_valves if v.get("lon") is not None]
    pts.append((inc.lon, inc.lat))
    for g in geoms.values():
        coords = g["coordinates"] if g["type"] == "LineString" else [c for part in g["coordinates"] for c in part]
        pts += [(c[0], c[1]) for c in coords]
    lons, lats = [p[0] for p in pts], [p[1] for p in pts]
    pad = 0.0015
    bbox = (min(lons) - pad, min(lats) - pad / 2, max(lons) + pad, max(lats) + pad / 2)
    highlight = {int(b["id"]): BUILDING_UNINTENDED if b["unintended"] else BUILDING_ISOLATED for b in plan.affected}
    override = {int(p): ISOLATED for p in plan.result.isolated_links}
    override.update({int(p): UNINTENDED for p in plan.result.unintended_links})
    groups, _, _ = viewport_layers(bbox, 17, inc.network_id, "diameter", highlight, pipe_override=override,
                                   layers=("buildings", "pipes"))
    optional = folium.FeatureGroup(name=t("shutoff.legend.optional"))
    for v in plan.optional_valves:
        if v.get("lon") is not None:
            folium.CircleMarker([v["lat"], v["lon"]], radius=7, color="#333333", weight=1, fill=True,
                                fill_color=OPTIONAL, fill_opacity=0.95,
                                tooltip=L.escape_value(str(v.get("ext_id") or v["id"]))).add_to(optional)
    valves = L.numbered_valves_layer(
        [{"lon": v["lon"], "lat": v["lat"], "label": v["order"],
          "tooltip": f"{v['order']}. {v.get('ext_id') or v['id']} · {v.get('street') or ''}"}
         for v in plan.valves_to_close if v.get("lon") is not None], t("shutoff.legend.close"))
    brk = folium.FeatureGroup(name=t("shutoff.legend.break"))
    folium.CircleMarker([inc.lat, inc.lon], radius=9, color="#000000", weight=3, fill=True, fill_color="#ffff00",
                        fill_opacity=1.0, tooltip=t("shutoff.legend.break")).add_to(brk)
    s = get_settings()
    center = ((bbox[1] + bbox[3]) / 2, (bbox[0] + bbox[2]) / 2)
    m = L.base_map(center, 17, tiles_url=s.tiles_url or None, attribution=s.tiles_attribution, tiles_name=s.tiles_name)
    m.fit_bounds([[bbox[1], bbox[0]], [bbox[3], bbox[2]]])
    m.get_root().html.add_child(L.legend(t("map.legend"), [
        ("line", ISOLATED, t("shutoff.legend.isolated")), ("line", UNINTENDED, t("shutoff.legend.unintended")),
        ("dot", "#111111", t("shutoff.legend.close")), ("dot", OPTIONAL, t("shutoff.legend.optional")),
        ("dot", "#ffff00", t("shutoff.legend.break")),
        ("fill", BUILDING_ISOLATED, t("control.legend.outage")),
    ]))
    st_folium(m, key=f"shutoff_map_{inc.id}", height=520, use_container_width=True,
              feature_group_to_add=[*groups, optional, valves, brk], returned_objects=[])


def plan_tables(plan: ShutoffPlan) -> None:
    c = plan.counts
    cols = st.columns(6)
    for col, (key, value) in zip(cols, [
        ("valves", c["valves_to_close"]), ("optional", c["optional_valves"]),
        ("pipes", c["isolated_pipes"] + c["unintended_pipes"]), ("buildings", c["buildings"]),
        ("residents", c["residents"]), ("critical", c["critical"]),
    ]):
        col.metric(t(f"shutoff.metric.{key}"), value)


def plan_lists(plan: ShutoffPlan) -> None:
    st.markdown(f"**{t('shutoff.valves')}**")
    st.dataframe(pd.DataFrame([{
        t("shutoff.col.order"): v["order"], t("shutoff.col.valve"): v.get("ext_id") or v["id"],
        t("shutoff.col.street"): v.get("street") or "",
    } for v in plan.valves_to_close]), hide_index=True, use_container_width=True)
    st.markdown(f"**{t('shutoff.affected')}**")
    st.dataframe(affected_frame(plan.affected), hide_index=True, use_container_width=True, height=260)


def affected_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame([{
        t("shutoff.col.address"): b.get("address") or "",
        t("shutoff.col.kind"): label("kind", b.get("kind")),
        t("shutoff.col.residents"): int(b.get("residents") or 0),
        t("shutoff.col.unintended"): t("shutoff.yes") if b.get("unintended") else t("shutoff.no"),
    } for b in rows])


def approve(inc: Incident, plan: ShutoffPlan) -> Outage:
    return outage_api().approve_outage(
        engine(), network_id=inc.network_id,
        pipe_ids=[int(p) for p in plan.result.isolated_links],
        unintended_pipe_ids=[int(p) for p in plan.result.unintended_links],
        valve_ids=[int(v["id"]) for v in plan.valves_to_close],
        optional_valve_ids=[int(v["id"]) for v in plan.optional_valves],
        affected_building_ids=[int(b["id"]) for b in plan.affected if not b["unintended"]],
        unintended_building_ids=[int(b["id"]) for b in plan.affected if b["unintended"]],
        actor=actor(), incident_id=inc.id, reason=f"#{inc.id} {inc.address or ''}".strip(), start_now=True,
    )


def outage_section(inc: Incident, outage: Outage) -> None:
    state = t(f"shutoff.state.{outage.state}")
    msg = t("shutoff.outage", id=outage.id, state=state, buildings=outage.buildings, residents=outage.residents,
            end=fmt_dt(outage.actual_end or outage.planned_end))
    (st.warning if outage.state == "active" else st.info)(md_safe(msg))
    if outage.state == "active":
        rows = [r for r in outage_api().affected_buildings_of_active_outages(engine()).rows if r["outage_id"] == outage.id]
        st.markdown(f"**{t('shutoff.affected')}**")
        st.dataframe(affected_frame(rows), hide_index=True, use_container_width=True)
        if st.button(t("shutoff.restore"), key=f"restore_{outage.id}", type="primary"):
            try:
                done = outage_api().restore_outage(engine(), outage.id, actor=actor())
            except IncidentError as exc:
                st.error(t("incident.error", error=md_safe(exc)))
                return
            st.session_state["incident_flash"] = ("ok", t("shutoff.restored", id=done.id, at=fmt_dt(done.actual_end)))
            st.rerun()
    elif outage.state == "planned":
        if st.button(t("shutoff.start"), key=f"start_{outage.id}", type="primary"):
            outage_api().start_outage(engine(), outage.id, actor=actor())
            st.rerun()


def shutoff_panel(inc: Incident) -> None:
    """The incident → shutoff panel of a burst report (shown under its detail)."""
    st.subheader(t("shutoff.title"))
    outage = outage_of_incident(inc.id)
    if outage is not None and outage.state in ("planned", "active"):
        outage_section(inc, outage)
        return
    if outage is not None:
        outage_section(inc, outage)
    if inc.pipe_id is None or inc.network_id is None:
        st.info(t("shutoff.no_pipe"))
        return
    key = f"shutoff_open_{inc.id}"
    if not st.session_state.get(key):
        if st.button(t("shutoff.plan"), key=f"plan_{inc.id}", type="primary"):
            st.session_state[key] = True
            st.rerun()
        return
    plan = make_plan(inc)
    plan_tables(plan)
    cols = st.columns([2, 1, 2])
    if cols[0].button(t("shutoff.approve"), key=f"approve_{inc.id}", type="primary", use_container_width=True):
        try:
            out = approve(inc, plan)
        except IncidentError as exc:
            st.error(t("incident.error", error=md_safe(exc)))
            return
        st.session_state[key] = False
        st.session_state["incident_flash"] = ("ok", t("shutoff.approved", id=out.id, state=t(f"shutoff.state.{out.state}"),
                                                      end=fmt_dt(out.planned_end)))
        st.rerun()
    if cols[1].button(t("shutoff.hide"), key=f"hide_{inc.id}", use_container_width=True):
        st.session_state[key] = False
        st.rerun()
    left, right = st.columns([3, 2])
    with left:
        plan_map(inc, plan)
    with right:
        plan_lists(plan)
