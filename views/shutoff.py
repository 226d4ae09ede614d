"""From a burst report to a shutoff: see the plan (valves in crew order, what goes dry, who is cut off),
see the outages it would overlap, approve it — or merge it into the overlapping outage. Once approved,
the report shows its outage (``views.outage_panel``) with every next step."""
from __future__ import annotations

import streamlit as st

from auth.permissions import allowed
from incidents.model import Incident
from ops import network as net_ops
from ops import outages
from ops.base import utcnow
from ops.errors import OutageConflict
from ops.incidents import rules
from views import errors, exports, outage_panel, plan_map
from views.common import t
from views.formatting import fmt_dt, md_safe, outage_state
from views.session import actor, current_user


def shutoff_panel(inc: Incident) -> None:
    """The shutoff section under a report's detail."""
    st.subheader(t("shutoff.title"))
    detail = outages.of_incident(actor(), inc.id)
    if detail is not None and detail.outage.state in ("planned", "active"):
        outage_panel.panel(detail, key=f"inc{inc.id}")
        return
    if detail is not None:
        outage_panel.panel(detail, key=f"inc{inc.id}")
    if inc.category != "burst":
        return
    if inc.pipe_id is None or inc.network_id is None:
        st.info(t("shutoff.no_pipe"))
        return
    key = f"shutoff_open_{inc.id}"
    if not st.session_state.get(key):
        if st.button(t("shutoff.plan"), key=f"plan_{inc.id}", type="primary"):
            st.session_state[key] = True
            st.rerun()
        return
    a = actor()
    plan = net_ops.plan(a, inc.network_id, [inc.pipe_id])
    geoms = net_ops.pipe_geometries(a, list(plan.result.isolated_links) + list(plan.result.unintended_links))
    shape = plan_map.of_plan(plan, geoms, breaks=[(inc.lat, inc.lon)])
    plan_map.metrics(shape)
    approve_controls(inc, plan)
    left, right = st.columns([3, 2])
    with left:
        plan_map.draw(shape, key=f"shutoff_map_{inc.id}", network_id=inc.network_id)
    with right:
        plan_map.tables(shape, key=f"shutoff-{inc.id}", context=exports.SheetContext(
            made_at=utcnow(), timezone=rules().timezone, incident_id=inc.id, where=inc.address or ""))


def approve_controls(inc: Incident, plan: object) -> None:
    a = actor()
    user = current_user()
    may_approve = user is not None and allowed(user.role, "outages.approve")
    conflicts = outages.preview_conflicts(a, inc.network_id, [inc.pipe_id])  # type: ignore[arg-type]
    for o in conflicts:
        st.warning(t("shutoff.conflict", id=o.id, state=outage_state(o), reason=md_safe(o.reason or "—"),
                     end=fmt_dt(o.planned_end)))
    if not may_approve:
        st.caption(t("shutoff.approve_not_allowed"))
        return
    cols = st.columns([2, 2, 1])
    if not conflicts and cols[0].button(t("shutoff.approve"), key=f"approve_{inc.id}", type="primary",
                                        width="stretch"):
        _approve(inc, plan, merge_into=None)
    for i, o in enumerate(conflicts[:2]):
        if cols[i].button(t("shutoff.merge", id=o.id), key=f"merge_{inc.id}_{o.id}", type="primary",
                          width="stretch"):
            _approve(inc, plan, merge_into=o.id)
    if cols[2].button(t("shutoff.hide"), key=f"hide_{inc.id}", width="stretch"):
        st.session_state[f"shutoff_open_{inc.id}"] = False
        st.rerun()


def _approve(inc: Incident, plan: object, *, merge_into: int | None) -> None:
    try:
        out = outages.approve(actor(), network_id=inc.network_id, break_pipe_ids=[inc.pipe_id],  # type: ignore[arg-type]
                              incident_id=inc.id, merge_into=merge_into, seen_plan=plan.fingerprint)  # type: ignore[attr-defined]
    except OutageConflict as exc:
        errors.show(exc)
        return
    except Exception as exc:
        errors.show(exc)
        return
    st.session_state[f"shutoff_open_{inc.id}"] = False
    st.session_state[f"inc{inc.id}_flash"] = (t("shutoff.merged", id=out.id) if merge_into else
                                             t("shutoff.approved", id=out.id, end=fmt_dt(out.planned_end)))
    st.rerun()
