"""Shutoff planner: click a burst main, get the valves to close, the dry area and every address in it."""
from __future__ import annotations

import csv
import io
import json
from typing import Any

import folium
import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from gis import layers as L
from gis import queries as Q
from network import repo
from network.errors import NetworkError
from network.plan import ShutoffPlan, distance_m, plan_from_db, plan_to_csv_rows, plan_to_geojson
from settings import get_settings
from views.common import engine, network_id, t
from views.map_parts import bbox_from, fit_zoom, viewport_layers
from views.network_cache import network_criticality, network_index

ISOLATED, UNINTENDED, OPTIONAL = "#d7191c", "#ff8c00", "#9e9e9e"
VALVE_CLICK_M = 6.0  # a click this close to a numbered valve marks it stuck


def _csv(rows: list[dict[str, Any]]) -> bytes:
    buf = io.StringIO()
    if rows:
        w = csv.DictWriter(buf, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return buf.getvalue().encode("utf-8-sig")  # Excel opens UTF-8 with a BOM correctly


def current_plan(net: int) -> ShutoffPlan | None:
    ss = st.session_state
    breaks = ss.get("planner_breaks") or []
    if not breaks:
        return None
    index = network_index(net)
    with engine().connect() as conn:
        return plan_from_db(conn, index, net, breaks, extra_inoperable=ss.get("planner_stuck") or [])


def plan_layers(plan: ShutoffPlan) -> list[folium.FeatureGroup]:
    groups = []
    fg = folium.FeatureGroup(name=t("planner.layer.plan"), show=True)
    with engine().connect() as conn:
        geoms = repo.pipe_geojson(conn, list(plan.result.isolated_links) + list(plan.result.unintended_links))
    for ids, color in ((plan.result.unintended_links, UNINTENDED), (plan.result.isolated_links, ISOLATED)):
        fc = {"type": "FeatureCollection", "features": [
            {"type": "Feature", "geometry": geoms[i], "properties": {}} for i in ids if i in geoms]}
        if fc["features"]:
            folium.GeoJson(fc, style_function=lambda _f, c=color: {"color": c, "weight": 8, "opacity": 0.85}).add_to(fg)
    groups.append(fg)
    opt = folium.FeatureGroup(name=t("planner.layer.optional"), show=True)
    for v in plan.optional_valves:
        if v.get("lon") is not None:
            folium.CircleMarker([v["lat"], v["lon"]], radius=7, color="#555", fill=True, fill_color=OPTIONAL,
                                fill_opacity=0.9, tooltip=L.escape_value(f"{v.get('ext_id')} · {t('planner.legend.optional')}")
                                ).add_to(opt)
    groups.append(opt)
    rows = [{"lat": v["lat"], "lon": v["lon"], "label": v["order"],
             "tooltip": f"{v['order']}. {v.get('ext_id')} — {v.get('street') or ''}"}
            for v in plan.valves_to_close if v.get("lon") is not None]
    groups.append(L.numbered_valves_layer(rows, t("planner.legend.close")))
    return groups


def plan_tables(plan: ShutoffPlan, net: int) -> None:
    c = plan.counts
    cols = st.columns(3) + st.columns(3)
    for col, key, value in zip(cols, ("valves", "optional", "pipes", "buildings", "residents", "critical"),
                               (c["valves_to_close"], c["optional_valves"], c["isolated_pipes"] + c["unintended_pipes"],
                                c["buildings"], c["residents"], c["critical"])):
        col.metric(t(f"planner.metric.{key}"), value)

    st.subheader(t("planner.crew"))
    crew = pd.DataFrame([{t("planner.col.order"): v["order"], t("planner.col.valve"): v.get("ext_id"),
                          t("planner.col.street"): v.get("street"), t("planner.col.lat"): round(v.get("lat") or 0, 6),
                          t("planner.col.lon"): round(v.get("lon") or 0, 6)} for v in plan.valves_to_close])
    st.dataframe(crew, hide_index=True, use_container_width=True)
    if plan.optional_valves:
        st.caption(t("planner.optional") + ": " + ", ".join(str(v.get("ext_id")) for v in plan.optional_valves))

    ss = st.session_state
    with st.container(border=True):
        st.markdown(f"**{t('planner.stuck')}**")
        choices = {v["id"]: f"{v['order']}. {v.get('ext_id')} — {v.get('street') or ''}" for v in plan.valves_to_close}
        pick = st.selectbox(t("planner.stuck"), list(choices), format_func=choices.get,
                            label_visibility="collapsed", key="planner_stuck_pick")
        cols = st.columns(2)
        if cols[0].button(t("planner.stuck_button"), disabled=pick is None, use_container_width=True):
            ss["planner_stuck"] = sorted(set(ss.get("planner_stuck") or []) | {pick})
            st.rerun()
        if cols[1].button(t("planner.stuck_save"), disabled=pick is None, use_container_width=True):
            repo.set_valve_status(engine(), net, pick, "inoperable")
            st.success(t("planner.stuck_saved", valve=choices.get(pick)))
        if ss.get("planner_stuck"):
            with engine().connect() as conn:
                names = repo.valve_details(conn, ss["planner_stuck"])
            st.caption(t("planner.stuck_list", valves=", ".join(
                str(names.get(v, {}).get("ext_id", v)) for v in ss["planner_stuck"])))
            if st.button(t("planner.stuck_reset")):
                ss["planner_stuck"] = []
                st.rerun()

    st.subheader(t("planner.affected"))
    addr = pd.DataFrame([{t("field.address"): b["address"], t("field.kind"): t(f"legend.kind.{b['kind']}"),
                          t("field.residents"): b["residents"], t("planner.col.unintended"): "✓" if b["unintended"] else ""}
                         for b in plan.affected])
    st.dataframe(addr, hide_index=True, use_container_width=True, height=min(420, 38 + 35 * max(len(addr), 1)))

    cols = st.columns(3)
    cols[0].download_button(t("planner.export_csv"), _csv(plan_to_csv_rows(plan)), "shutoff-valves.csv", "text/csv")
    cols[1].download_button(t("planner.export_addresses"), _csv(plan.affected), "shutoff-addresses.csv", "text/csv")
    with engine().connect() as conn:
        geoms = repo.pipe_geojson(conn, list(plan.result.isolated_links) + list(plan.result.unintended_links))
    cols[2].download_button(t("planner.export_geojson"), json.dumps(plan_to_geojson(plan, geoms), ensure_ascii=False),
                            "shutoff-plan.geojson", "application/geo+json")


def isolate_tab(net: int) -> None:
    ss = st.session_state
    ss.setdefault("planner_breaks", [])
    ss.setdefault("planner_stuck", [])
    st.caption(t("planner.hint"))
    with engine().connect() as conn:
        pipes = repo.pipe_choices(conn, net)
        bounds = Q.city_bounds(conn)
    labels = {p["id"]: f"{p['ext_id']} — {p['street'] or '…'}, {int(p['diameter_mm'] or 0)} mm" for p in pipes}
    cols = st.columns([4, 1, 1])
    pick = cols[0].selectbox(t("planner.pick"), [None, *labels], format_func=lambda i: labels.get(i, "—"),
                             key="planner_pick")
    if pick and pick not in ss["planner_breaks"] and ss.get("planner_last_pick") != pick:
        ss["planner_last_pick"] = pick
        ss["planner_breaks"] = [pick]
        ss["planner_stuck"] = []
        with engine().connect() as conn:
            mid = repo.pipe_midpoints(conn, [pick]).get(pick)
        if mid:
            ss["planner_center"], ss["planner_zoom"] = (mid["lat"], mid["lon"]), 17
            ss["planner_jump"] = True
    if cols[2].button(t("planner.clear")):
        ss["planner_breaks"], ss["planner_stuck"] = [], []
        st.rerun()
    add_mode = cols[1].toggle(t("planner.add"), key="planner_add_mode")

    try:
        plan = current_plan(net)
    except NetworkError as exc:
        st.error(t("planner.error", error=str(exc)))
        plan = None
    if ss["planner_breaks"]:
        st.caption(t("planner.breaks", pipes=", ".join(labels.get(p, p) for p in ss["planner_breaks"])))

    s = get_settings()
    if bounds is None:
        return
    state = ss.get("planner_map") or {}
    ss.setdefault("planner_zoom", fit_zoom(bounds))
    zoom = int(state.get("zoom") or ss["planner_zoom"])
    bbox = bbox_from(state.get("bounds")) or bounds
    center = ss.get("planner_center") or ((bounds[1] + bounds[3]) / 2, (bounds[0] + bounds[2]) / 2)
    if ss.pop("planner_jump", False):
        zoom = ss["planner_zoom"]
        bbox = (center[1] - 0.006, center[0] - 0.003, center[1] + 0.006, center[0] + 0.003)
    override: dict[int, str] = {}
    highlight: dict[int, str] = {}
    if plan:
        override = {int(i): UNINTENDED for i in plan.result.unintended_links}
        override.update({int(i): ISOLATED for i in plan.result.isolated_links})
        highlight = {b["id"]: (UNINTENDED if b["unintended"] else ISOLATED) for b in plan.affected}
    groups, _notes, _counts = viewport_layers(bbox, zoom, net, "diameter", highlight, pipe_override=override,
                                              layers=("buildings", "pipes", "valves", "sources"))
    if plan:
        groups += plan_layers(plan)
    m = L.base_map(center, ss["planner_zoom"], tiles_url=s.tiles_url or None, attribution=s.tiles_attribution,
                   tiles_name=s.tiles_name)
    m.get_root().html.add_child(L.legend(t("map.legend"), [
        ("line", ISOLATED, t("planner.legend.isolated")), ("line", UNINTENDED, t("planner.legend.unintended")),
        ("dot", "#111111", t("planner.legend.close")), ("dot", OPTIONAL, t("planner.legend.optional")),
        ("dot", L.VALVE_COLORS["inoperable"], t("legend.valve.inoperable")),
        ("dot", L.VALVE_COLORS["closed"], t("legend.valve.closed")),
    ]))
    left, right = st.columns([3, 2]) if plan else (st.container(), None)
    with left:
        out = st_folium(m, key="planner_map", height=680, use_container_width=True, center=center,
                        zoom=ss["planner_zoom"], feature_group_to_add=groups,
                        layer_control=folium.LayerControl(collapsed=True),
                        returned_objects=["bounds", "zoom", "last_clicked", "last_object_clicked"])
    # a marker click (a numbered valve) arrives as last_object_clicked, a click elsewhere as last_clicked
    obj = (out or {}).get("last_object_clicked")
    clicked = obj if obj and obj != ss.get("planner_last_object") else (out or {}).get("last_clicked")
    if obj:
        ss["planner_last_object"] = obj
    if clicked and ss.get("planner_last_click") != clicked:
        ss["planner_last_click"] = clicked
        here = {"lon": float(clicked["lng"]), "lat": float(clicked["lat"])}
        # a click on a numbered valve of the plan: the crew reports it stuck -> re-plan around it
        stuck = next((v for v in (plan.valves_to_close if plan else []) if v.get("lon") is not None
                      and distance_m(here, v) <= VALVE_CLICK_M), None)
        if stuck is not None:
            ss["planner_stuck"] = sorted(set(ss["planner_stuck"]) | {stuck["id"]})
            st.rerun()
        with engine().connect() as conn:
            hit = repo.nearest_pipe(conn, net, here["lon"], here["lat"])
        if hit is None:
            st.toast(t("planner.no_pipe"))
        else:
            ss["planner_breaks"] = sorted(set(ss["planner_breaks"]) | {hit["id"]}) if add_mode else [hit["id"]]
            ss["planner_stuck"] = [] if not add_mode else ss["planner_stuck"]
            st.rerun()
    if plan and right is not None:
        with right:
            plan_tables(plan, net)


def criticality_tab(net: int) -> None:
    st.caption(t("planner.crit.hint"))
    crit, seconds = network_criticality(net)
    valves = crit.valves.head(25)
    with engine().connect() as conn:
        details = repo.valve_details(conn, valves["valve"].tolist())
    st.subheader(t("planner.crit.valves"))
    st.dataframe(pd.DataFrame([{
        t("planner.col.valve"): details.get(str(r.valve), {}).get("ext_id", r.valve),
        t("planner.col.street"): details.get(str(r.valve), {}).get("street"),
        t("planner.col.status"): r.status,
        t("planner.crit.extra_residents"): int(r.extra_residents),
        t("planner.crit.extra_pipes"): int(r.extra_links),
    } for r in valves.itertuples()]), hide_index=True, use_container_width=True)
    st.subheader(t("planner.crit.segments"))
    seg = crit.segments.sort_values("shutoff_residents", ascending=False).head(25)
    st.dataframe(pd.DataFrame({
        t("planner.crit.residents"): seg["shutoff_residents"].astype(int),
        t("planner.crit.pipes"): seg["shutoff_links"].astype(int),
        t("planner.crit.km"): (seg["shutoff_length_m"] / 1000).round(2),
        t("planner.crit.valves_to_operate"): seg["valves_to_operate"].astype(int),
    }), use_container_width=True)
    st.caption(t("planner.crit.time", seconds=seconds))


def main() -> None:
    st.title(t("planner.title"))
    net = network_id()
    if net is None:
        st.info(t("planner.no_network"))
        return
    tab_iso, tab_crit = st.tabs([t("planner.tab.isolate"), t("planner.tab.criticality")])
    with tab_iso:
        isolate_tab(net)
    with tab_crit:
        criticality_tab(net)


main()
