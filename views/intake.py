"""Hotline intake: the operator finds the address (or clicks a point), picks the service, describes
the problem and registers the report; offered duplicates can be confirmed at once, and a "no water"
call from inside an active outage is told when the water comes back."""
from __future__ import annotations

import uuid
from typing import Any

import folium
import streamlit as st
from streamlit_folium import st_folium

from incidents import intake
from incidents.errors import IncidentError, OutsideServiceArea
from incidents.model import IntakeResult
from ops import incidents as reports
from ops import maps
from views import errors
from views.address_search import address_search
from views.common import network_id, t, tkey
from views.errors import problem_text
from views.formatting import fmt_dt, label, md_safe, service_label
from views.map_parts import FOUND, buildings_overlay, fit_zoom, map_key, tile_map
from views.session import actor, guard


def validate(description: str, name: str, phone: str) -> list[str]:
    """Problems of the typed fields (all of them), as messages for the operator: the checks and
    limits of the shared intake model (``incidents/intake.py``), each problem code translated."""
    problems = intake.check_fields({"description": description, "reporter_name": name, "reporter_phone": phone},
                                   required=("description",))
    return [problem_text(p) for p in problems]



def form_key(name: str) -> str:
    """Widget keys of the current report; a new generation after each registration empties the form."""
    return f"intake_{name}_{st.session_state.get('intake_gen', 0)}"


def pick_by_address() -> dict[str, Any] | None:
    """The building the caller names: suggestions while the operator types."""

    return address_search(t("intake.address"), key=form_key("addr_search"))


def pick_on_map(focus: dict[str, Any] | None = None) -> tuple[float, float] | None:
    """The small map: click to pick a point; with ``focus`` (a building found by address) it only
    shows that building."""
    ss = st.session_state
    bounds = maps.city_bounds(actor())
    if bounds is None:
        st.info(t("map.no_data"))
        return None
    if "intake_map_view" not in ss:
        ss["intake_map_view"] = ((bounds[1] + bounds[3]) / 2, (bounds[0] + bounds[2]) / 2), fit_zoom(bounds, 700, 380)
    home, home_zoom = ss["intake_map_view"]
    center, zoom = home, home_zoom
    groups = []
    if focus is not None:
        center, zoom = (focus["lat"], focus["lon"]), 17
        groups.append(buildings_overlay({int(focus["id"]): FOUND}, t("map.found")))
    picked = ss.get("intake_point") if focus is None else (focus["lon"], focus["lat"])
    marker = folium.FeatureGroup(name="point")
    if picked:
        folium.CircleMarker([picked[1], picked[0]], radius=9, color="#000000", weight=3, fill=True,
                            fill_color="#ffff00", fill_opacity=1.0).add_to(marker)
    groups.append(marker)
    # buildings and pipes as vector tiles: the browser fetches them as the operator pans and zooms
    m = tile_map(home, home_zoom, network_id=network_id(), layers=("buildings", "pipes"))
    if focus is None:
        st.caption(t("intake.map_hint"))
    # a map of its own for every report: the previous report's click never comes back as this one's point
    out = st_folium(m, key=map_key(form_key("map"), m), height=380, use_container_width=True, center=center, zoom=zoom,
                    feature_group_to_add=groups, returned_objects=["last_clicked"])
    clicked = (out or {}).get("last_clicked")
    if clicked and focus is None:
        point = (float(clicked["lng"]), float(clicked["lat"]))
        if point != picked:
            ss["intake_point"] = point
            st.rerun()
    if picked and focus is None:
        st.caption(t("intake.map_point", lat=picked[1], lon=picked[0]))
    return picked


def submit(service_code: str, priority: str, description: str, name: str, phone: str,
           where: dict[str, Any]) -> None:
    ss = st.session_state
    try:
        res = reports.take_report(
            actor(), service_code=service_code, priority=priority, description=description,
            reporter_name=name.strip() or None, reporter_phone=phone.strip() or None, channel="phone",
            client_token=ss.setdefault("intake_token", uuid.uuid4().hex), **where)
    except OutsideServiceArea as exc:
        st.error(t("intake.err.outside", detail=md_safe(exc)))
        return
    except intake.InvalidReport as exc:
        for problem in exc.problems:
            st.error(problem_text(problem))
        return
    except IncidentError as exc:
        st.error(t("intake.err.invalid", detail=md_safe(exc)))
        return
    except Exception as exc:
        errors.show(exc)
        return
    ss["intake_result"] = res
    ss["intake_token"] = uuid.uuid4().hex  # the next report is a new one
    ss["intake_gen"] = ss.get("intake_gen", 0) + 1
    ss.pop("intake_point", None)
    st.rerun()


def result_panel() -> None:
    res: IntakeResult | None = st.session_state.get("intake_result")
    if res is None:
        return
    inc = res.incident
    if res.created:
        st.success(t("intake.created", id=inc.id, due=fmt_dt(res.due_at)))
    else:
        st.info(t("intake.repeat", id=inc.id))
    if res.outage is not None:
        st.warning(t("intake.outage", outage=res.outage.outage_id, reason=md_safe(res.outage.reason),
                     end=fmt_dt(res.outage.expected_end)))
    done = st.session_state.get("intake_marked")
    if done and done[0] == inc.id:
        st.success(t("intake.marked_dup", id=done[0], of=done[1]))
    elif res.duplicate_candidates:
        st.warning(t("intake.duplicates"))
        for c in res.duplicate_candidates:
            cols = st.columns([4, 2])
            cols[0].text(t("intake.dup_row", id=c.incident_id, status=label("status", c.status),
                           distance=round(c.distance_m), address=c.address or "", created=fmt_dt(c.created_at)))
            if cols[1].button(t("intake.mark_dup", id=inc.id, of=c.incident_id), key=f"dup_{inc.id}_{c.incident_id}"):
                try:
                    reports.mark_duplicate(actor(), inc.id, c.incident_id, expected_version=inc.version)
                except Exception as exc:
                    errors.show(exc)
                    return
                st.session_state["intake_marked"] = (inc.id, c.incident_id)
                st.rerun()
    if st.button(t("intake.new"), key="intake_new"):
        for k in ("intake_result", "intake_marked", "intake_point"):
            st.session_state.pop(k, None)
        st.rerun()


def main() -> None:
    guard("intake")
    st.title(t("intake.title"))
    rules = reports.rules()
    result_panel()
    left, right = st.columns([1, 1])
    with left:
        mode = st.radio(t("intake.where"), ["address", "map"], horizontal=True, key=tkey("intake_mode"),
                        format_func=lambda m: t(f"intake.where.{m}"))
        where: dict[str, Any] | None = None
        if mode == "address":
            hit = pick_by_address()
            if hit:
                where = {"building_id": int(hit["id"]), "address": hit["address"]}
                with right:
                    pick_on_map(focus=hit)
        else:
            with right:
                point = pick_on_map()
            if point:
                where = {"lon": point[0], "lat": point[1]}
        codes = list(rules.services)
        code = st.selectbox(t("intake.service"), codes, format_func=service_label, key=tkey("intake_service"))
        rule = rules.services[code]
        hours = rule.resolve_h if isinstance(rule.resolve_h, (int, float)) else rule.resolve_h.winter
        st.caption(t("intake.category_resource", category=label("category", rule.category),
                     resource=label("resource", rule.resource), hours=f"{hours:g}"))
        priorities = ["emergency", "urgent", "routine"]
        priority = st.selectbox(t("intake.priority"), priorities, index=priorities.index(rule.priority),
                                format_func=lambda p: label("priority", p), key=tkey(f"intake_priority_{code}"))
        # one form: the typed text is sent with the click, never lost to a rerun on blur
        with st.form("intake_form", border=False, enter_to_submit=False):
            description = st.text_area(t("intake.description"), key=form_key("description"), height=120)
            c1, c2 = st.columns(2)
            name = c1.text_input(t("intake.reporter_name"), key=form_key("name"))
            phone = c2.text_input(t("intake.reporter_phone"), key=form_key("phone"))
            st.caption(t("intake.channel", channel=label("channel", "phone")))
            submitted = st.form_submit_button(t("intake.submit"), type="primary", key="intake_submit")
        if submitted:
            problems = validate(description, name, phone)
            if where is None:
                problems.insert(0, t("intake.err.no_location"))
            if problems:
                for p in problems:
                    st.error(p)
            else:
                assert where is not None
                submit(code, priority, description, name, phone, where)


if __name__ == "__main__":
    main()
