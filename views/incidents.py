"""Reports: a filterable list (status, category, priority, SLA state) and the detail of one report —
audit history, the workflow's allowed transitions as buttons, and the incident → shutoff panel.
"""
from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from auth.permissions import allowed
from incidents.errors import ConcurrentEdit, IncidentError
from incidents.model import QueueItem
from incidents.redact import public_description
from incidents.sla import CATEGORIES, PRIORITIES
from incidents.workflow import FINAL_STATUSES, OPEN_STATUSES, STATUSES, allowed_targets
from ops import incidents as incident_ops
from ops import network as net_ops
from views import errors
from views.common import pick_record, t, tkey, tn
from views.formatting import (
    SLA_STATES,
    fmt_dt,
    history_note,
    label,
    md_safe,
    outage_state,
    service_label,
)
from views.responsible import responsible_control
from views.session import actor, current_user, guard
from views.shutoff import shutoff_panel

# ---- list --------------------------------------------------------------------------------------

def incidents_table(items: list[QueueItem]) -> pd.DataFrame:
    rows = [{
        t("incident.col.id"): q.incident.id,
        t("incident.col.created"): fmt_dt(q.incident.created_at),
        t("incident.col.priority"): label("priority", q.incident.priority),
        t("incident.col.category"): label("category", q.incident.category),
        t("incident.col.status"): label("status", q.incident.status),
        t("incident.col.address"): q.incident.address or "",
        t("incident.col.sla"): label("sla", q.sla_state),
        t("incident.col.due"): fmt_dt(q.due_at),
        t("incident.col.left_min"): None if q.incident.status in FINAL_STATUSES else round(q.minutes_left),
    } for q in items]
    return pd.DataFrame(rows)


def order_items(items: list[QueueItem], order: str) -> list[QueueItem]:
    """The list newest first (``newest``) or the closest deadline first (``due``; the queue's order)."""
    if order == "newest":
        return sorted(items, key=lambda q: (q.incident.created_at, q.incident.id), reverse=True)
    return list(items)


def list_section() -> list[QueueItem]:
    cols = st.columns(4)
    statuses = cols[0].multiselect(t("incident.filter.status"), STATUSES, default=sorted(OPEN_STATUSES),
                                   format_func=lambda s: label("status", s), placeholder=t("common.choose"),
                                   key=tkey("inc_f_status"))
    categories = cols[1].multiselect(t("incident.filter.category"), CATEGORIES,
                                     format_func=lambda c: label("category", c), placeholder=t("common.choose"),
                                     key=tkey("inc_f_category"))
    priorities = cols[2].multiselect(t("incident.filter.priority"), PRIORITIES,
                                     format_func=lambda p: label("priority", p), placeholder=t("common.choose"),
                                     key=tkey("inc_f_priority"))
    slas = cols[3].multiselect(t("incident.filter.sla"), SLA_STATES,
                               format_func=lambda s: label("sla", s), placeholder=t("common.choose"), key=tkey("inc_f_sla"))
    items = incident_ops.queue(actor(), statuses=statuses or STATUSES, categories=categories or None,
                         sla_states=slas or None, limit=2000)
    if priorities:
        items = [q for q in items if q.incident.priority in priorities]
    # newest first by default: the report just filed is on the first screen; by deadline on request
    order = st.radio(t("incident.order"), ["newest", "due"], horizontal=True, key=tkey("inc_order"),
                     format_func=lambda o: t("incident.order.newest" if o == "newest" else "incident.order.due"))
    items = order_items(items, order)
    st.caption(tn("incident.count", len(items)))
    if items:
        st.dataframe(incidents_table(items), hide_index=True, width="stretch", height=320)
    else:
        st.info(t("incident.none"))
    return items


# ---- detail ------------------------------------------------------------------------------------

def pipe_code(pipe_id: int | None) -> str:
    """The utility's code of a pipe (and its street), not the database id."""
    user = current_user()
    if pipe_id is None or user is None or not allowed(user.role, "network.read"):
        return "" if pipe_id is None else f"#{pipe_id}"   # an organisation's staff do not read the network

    p = net_ops.pipe_details(actor(), [pipe_id]).get(str(pipe_id), {})
    return " · ".join(str(x) for x in (p.get("ext_id"), p.get("street")) if x) or "—"


def outage_line(o: Any) -> str:
    """The linked outage in one line: number, state, and its expected end (or when it ended)."""
    if o is None:
        return ""
    if o.state in ("planned", "active"):
        return t("incident.outage_line", id=o.id, state=outage_state(o), end=fmt_dt(o.planned_end))
    return t("incident.outage_line_ended", id=o.id, state=outage_state(o), end=fmt_dt(o.actual_end) or "—")


def detail_table(q: QueueItem, outage: Any = None) -> pd.DataFrame:
    i = q.incident
    due = fmt_dt(q.due_at)
    if i.outage_id is not None and i.outage_end is not None and q.due_at == i.outage_end:
        due = t("incident.due_outage", due=due, id=i.outage_id)
    rows = [
        (t("incident.field.service"), service_label(i.service_code)),
        (t("incident.field.category"), label("category", i.category)),
        (t("incident.field.resource"), label("resource", i.resource)),
        (t("incident.field.priority"), label("priority", i.priority)),
        (t("incident.field.status"), label("status", i.status)),
        (t("incident.field.channel"), label("channel", i.channel)),
        (t("incident.field.address"), i.address or ""),
        (t("incident.field.coords"), f"{i.lat:.5f}, {i.lon:.5f}"),
        (t("incident.field.pipe"), pipe_code(i.pipe_id)),
        (t("incident.field.reporter"), i.reporter_name or ""),
        (t("incident.field.phone"), i.reporter_phone or ""),
        (t("incident.field.created"), fmt_dt(i.created_at)),
        (t("incident.field.due"), due),
        (t("incident.field.sla"), label("sla", q.sla_state)),
        (t("incident.field.duplicate_of"), "" if i.duplicate_of is None else f"#{i.duplicate_of}"),
        (t("incident.field.outage"), outage_line(outage) if outage is not None else
         ("" if i.outage_id is None else f"#{i.outage_id}")),
    ]
    return pd.DataFrame(rows, columns=[t("field.field"), t("field.value")])


def history_table(events: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame([{
        t("incident.hist.at"): fmt_dt(e["at"], seconds=True),
        t("incident.hist.actor"): e["actor"],
        t("incident.hist.from"): label("status", e["from_status"]),
        t("incident.hist.to"): label("status", e["to_status"]),
        t("incident.hist.note"): history_note(e["note"]),
    } for e in events])


def _seen_key(incident_id: int) -> str:
    return f"incident_seen_version_{incident_id}"


def seen_version(detail: incident_ops.ReportDetail) -> tuple[int, bool]:
    """(the version this user's buttons write against, whether someone else changed the report since
    this user saw it). What the user saw is kept as its version and the number of history events then;
    a newer version whose new events are all this user's own (approving the shutoff, "valves closed",
    a status button, on this page or another) is their own doing, not a change to warn about: it
    becomes the version seen. A change with another author's event, or with no event at all, warns."""
    inc, ss = detail.incident, st.session_state
    key = _seen_key(inc.id)
    seen = ss.get(key)
    if not isinstance(seen, dict):  # the first look at this report in this session
        seen = ss[key] = {"version": inc.version, "events": len(detail.history)}
    elif seen["version"] == inc.version:
        if seen.get("events") is None:
            seen["events"] = len(detail.history)
    elif seen.get("events") is not None:
        me = actor().author
        new = detail.history[seen["events"]:]
        if new and all(e["actor"] == me for e in new):
            seen = ss[key] = {"version": inc.version, "events": len(detail.history)}
    return int(seen["version"]), seen["version"] != inc.version


def actions(detail: incident_ops.ReportDetail) -> None:
    """Buttons for the allowed transitions; the version the user saw is the one we write against."""
    inc = detail.incident
    ss = st.session_state
    seen, stale = seen_version(detail)
    user = current_user()
    if user is None or not allowed(user.role, "reports.edit"):
        return
    st.subheader(t("incident.actions", role=t(f"role.{user.role}")))
    flash = ss.pop("incident_flash", None)
    if flash:
        (st.success if flash[0] == "ok" else st.error)(flash[1])
    if stale:
        st.warning(t("incident.stale", status=label("status", inc.status)))
        if st.button(t("incident.reload"), key="inc_reload"):
            ss[_seen_key(inc.id)] = {"version": inc.version, "events": len(detail.history)}
            st.rerun()
    targets = sorted(allowed_targets(inc.status), key=STATUSES.index)
    if not targets:
        st.caption(t("incident.final"))
        return
    note = st.text_input(t("incident.note"), key=f"inc_note_{inc.id}", max_chars=500)
    dup_of = None
    if "duplicate" in targets:
        dup_of = st.number_input(t("incident.dup_of"), min_value=1, step=1, value=None, key=f"inc_dup_{inc.id}")
    cols = st.columns(len(targets))
    for col, to in zip(cols, targets):
        if col.button(t("incident.to", status=label("status", to)), key=f"inc_to_{inc.id}_{to}",
                      type="primary" if to not in ("rejected", "duplicate", "cancelled") else "secondary",
                      width="stretch"):
            try:
                if to == "duplicate":
                    if dup_of is None:
                        raise IncidentError(t("incident.dup_of") + " ?")
                    updated = incident_ops.mark_duplicate(actor(), inc.id, int(dup_of), expected_version=seen, note=note)
                else:
                    updated = incident_ops.transition(actor(), inc.id, to, expected_version=seen, note=note)
            except ConcurrentEdit:
                now = incident_ops.report(actor(), inc.id).incident
                ss["incident_flash"] = ("err", t("incident.concurrent", status=label("status", now.status),
                                                 version=now.version))
                st.rerun()
            except Exception as exc:
                errors.show(exc)
                return
            ss[_seen_key(inc.id)] = {"version": updated.version, "events": None}
            ss["incident_flash"] = ("ok", t("incident.moved", id=inc.id, status=label("status", updated.status)))
            st.rerun()


def notes_section(detail: incident_ops.ReportDetail) -> None:
    """Notes on the report: everyone may add one; each author edits only their own."""
    user = current_user()
    st.markdown(f"**{t('incident.notes')}**")
    for n in detail.notes:
        with st.container(border=True):
            st.caption(t("incident.note_by", author=md_safe(n["author"]), at=fmt_dt(n["created_at"]))
                       + (t("incident.note_edited", at=fmt_dt(n["updated_at"])) if n["version"] > 1 else ""))
            st.text(n["body"])  # free text: shown as text, never as markup
            if user is not None and n["author"] == user.login:
                with st.popover(t("incident.note_edit")):
                    body = st.text_area(t("incident.note_text"), value=n["body"], key=f"note_edit_{n['id']}",
                                        max_chars=incident_ops.MAX_NOTE_CHARS)
                    if st.button(t("incident.note_save"), key=f"note_save_{n['id']}"):
                        try:
                            incident_ops.edit_note(actor(), n["id"], body, expected_version=n["version"])
                        except Exception as exc:
                            errors.show(exc)
                        else:
                            st.rerun()
    if user is None or not allowed(user.role, "notes.write"):
        return
    with st.form(f"note_add_{detail.incident.id}", clear_on_submit=True, border=False):
        body = st.text_area(t("incident.note_text"), key=f"note_new_{detail.incident.id}", height=80,
                            max_chars=incident_ops.MAX_NOTE_CHARS)
        if st.form_submit_button(t("incident.note_add")):
            try:
                incident_ops.add_note(actor(), detail.incident.id, body)
            except Exception as exc:
                errors.show(exc)
            else:
                st.rerun()


def privacy_control(inc: Any) -> None:
    """Whether the public (residents' page, Open311) sees the description, redacted, or nothing."""

    user = current_user()
    if user is None or not allowed(user.role, "reports.edit"):
        st.caption(t("incident.private_on") if inc.description_private else t("incident.private_off"))
        return
    hidden = st.toggle(t("incident.private"), value=inc.description_private, key=f"inc_private_{inc.id}",
                       help=t("incident.private_help"))
    if hidden != inc.description_private:
        try:
            incident_ops.set_description_private(actor(), inc.id, hidden)
        except Exception as exc:
            errors.show(exc)
        else:
            st.rerun()
    if not hidden and inc.description:
        st.caption(t("incident.public_text", text=md_safe(public_description(inc.description, False))))


def detail_section(incident_id: int) -> None:
    try:
        detail = incident_ops.report(actor(), incident_id)
    except IncidentError:
        st.error(t("incident.not_found", id=incident_id))
        return
    q, inc = detail.item, detail.incident
    st.header(t("incident.detail", id=inc.id))
    left, right = st.columns([2, 3])
    with left:
        st.dataframe(detail_table(q, detail.outage), hide_index=True, width="stretch", height=38 * 17)
    with right:
        st.markdown(f"**{t('incident.description')}**")
        st.text(inc.description or "—")  # free text: shown as text, never as markup
        privacy_control(inc)
        actions(detail)

        responsible_control(inc.id)
        st.markdown(f"**{t('incident.history')}**")
        st.dataframe(history_table(detail.history), hide_index=True, width="stretch")
        notes_section(detail)
    user = current_user()
    may_plan = user is not None and allowed(user.role, "network.read") and allowed(user.role, "outages.read")
    if may_plan and (inc.category == "burst" or inc.outage_id is not None):

        shutoff_panel(inc)


def main() -> None:
    guard("incidents")
    st.title(t("incident.title"))
    items = list_section()
    pick = pick_record(t("incident.open"), [q.incident.id for q in items], key="inc_pick")
    if pick is None:
        return
    st.divider()
    detail_section(pick)


if __name__ == "__main__":
    main()
