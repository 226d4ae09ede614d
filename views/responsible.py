"""The report page's line "who answers for it", and the dispatcher's change of it (audited, with a reason)."""
from __future__ import annotations

import streamlit as st

from auth.permissions import allowed
from ops import inspection
from views import errors
from views.common import t
from views.session import actor, current_user


def responsible_control(incident_id: int) -> None:
    orgs = {o["id"]: o for o in inspection.organisations(actor())}
    now = inspection.responsible_of(actor(), incident_id)
    name = orgs[now]["name"] if now in orgs else t("inspection.nobody")
    st.markdown(f"**{t('inspection.responsible')}:** {name}")
    user = current_user()
    if user is None or not allowed(user.role, "reports.assign_org") or not orgs:
        return
    with st.expander(t("inspection.change_org")), st.form(f"org_form_{incident_id}", border=False):
        ids = list(orgs)
        new = st.selectbox(t("inspection.col.org"), ids, index=ids.index(now) if now in ids else 0,
                           format_func=lambda i: orgs[i]["name"], key=f"org_pick_{incident_id}")
        reason = st.text_input(t("inspection.reason"), max_chars=1000, key=f"org_reason_{incident_id}")
        if st.form_submit_button(t("inspection.change_org_button")):
            try:
                inspection.set_responsible_org(actor(), incident_id, new, reason)
            except Exception as exc:
                errors.show(exc)
                return
            st.rerun()
