"""Users (admin): create accounts, change roles, disable, set passwords. Every change is audited."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from auth.permissions import ORG_ROLES, ROLES
from ops import api_keys, inspection, users
from views import errors
from views.common import t, tkey
from views.formatting import fmt_dt, md_safe
from views.session import actor, guard


def main() -> None:
    guard("users")
    st.title(t("users.title"))
    done = st.session_state.pop("users_flash", None)
    if done:
        st.success(done)
    a = actor()
    found = users.list_users(a)
    orgs = {o["id"]: o["short_name"] or o["name"] for o in inspection.organisations(a)}
    org_ids: list[int | None] = [None, *orgs]

    def org_name(org: int | None) -> str:
        return t("users.org_none") if org is None else orgs.get(org, f"#{org}")

    st.dataframe(pd.DataFrame([{
        t("users.col.login"): u.login, t("users.col.name"): u.display_name, t("users.col.role"): t(f"role.{u.role}"),
        t("users.col.org"): "" if u.org_id is None else org_name(u.org_id),
        t("users.col.active"): t("users.yes") if u.active else t("users.no"),
        t("users.col.last_login"): fmt_dt(u.last_login_at) or t("users.never"),
        t("users.col.created"): fmt_dt(u.created_at), t("users.col.created_by"): u.created_by,
    } for u in found]), hide_index=True, width="stretch")

    left, right = st.columns(2)
    with left, st.form("user_add", clear_on_submit=True):
        st.subheader(t("users.add"))
        login = st.text_input(t("login.login"), help=t("users.login_hint"), max_chars=64)
        name = st.text_input(t("users.name"), max_chars=200)
        role = st.selectbox(t("users.role"), ROLES, format_func=lambda r: t(f"role.{r}"))
        org = st.selectbox(t("users.org"), org_ids, format_func=org_name, help=t("users.org_hint"), key="users_add_org")
        password = st.text_input(t("users.password"), type="password", max_chars=1024)
        if st.form_submit_button(t("users.create"), type="primary"):
            try:
                user = users.add_user(a, login, role=role, password=password, display_name=name,
                                      org_id=org if role in ORG_ROLES else None)
            except Exception as exc:
                errors.show(exc)
            else:
                st.session_state["users_flash"] = t("users.created", login=user.login)
                st.rerun()
    with right:
        st.subheader(t("users.edit"))
        logins = [u.login for u in found]
        if not logins:
            return
        pick = st.selectbox(t("users.pick"), logins, key="users_pick")
        user = next(u for u in found if u.login == pick)
        role = st.selectbox(t("users.role"), ROLES, index=ROLES.index(user.role), format_func=lambda r: t(f"role.{r}"),
                            key=tkey(f"users_role_{pick}"))
        org = st.selectbox(t("users.org"), org_ids, index=org_ids.index(user.org_id) if user.org_id in org_ids else 0,
                           format_func=org_name, help=t("users.org_hint"), key=f"users_org_{pick}",
                           disabled=role not in ORG_ROLES)
        org = org if role in ORG_ROLES else None
        cols = st.columns(2)
        try:
            if cols[0].button(t("users.set_role"), key="users_set_role", disabled=(role, org) == (user.role, user.org_id)):
                users.set_role(a, pick, role, org_id=org)
                _done(t("users.set_role"))
            label = t("users.disable") if user.active else t("users.enable")
            if cols[1].button(label, key="users_toggle"):
                users.set_active(a, pick, not user.active)
                _done(label)
            password = st.text_input(t("users.new_password"), type="password", key=f"users_pw_{pick}", max_chars=1024)
            if st.button(t("users.set_password"), key="users_set_pw", disabled=not password):
                users.set_password(a, pick, password)
                _done(t("users.set_password"))
        except Exception as exc:
            errors.show(exc)
    st.divider()
    api_keys_section()


def api_keys_section() -> None:
    """Open311 clients' keys: issue one (shown once), revoke one. (An organisation's key for /orgs/v1/ is issued
    on the command line: python -m incidents api-key create --name N --org ORG_ID.)"""

    a = actor()
    st.subheader(t("keys.title"))
    st.caption(t("keys.hint"))
    rows = api_keys.listing(a)
    if rows:
        st.dataframe(pd.DataFrame([{
            t("keys.col.name"): r["name"], t("keys.col.created"): fmt_dt(r["created_at"]),
            t("keys.col.revoked"): fmt_dt(r["revoked_at"]) or "—", t("keys.col.reports"): r["reports"],
        } for r in rows]), hide_index=True, width="stretch")
    fresh = st.session_state.pop("keys_new", None)
    if fresh:
        st.success(t("keys.created", name=md_safe(fresh[0])))
        st.code(fresh[1], language=None)
    cols = st.columns([2, 1, 2, 1])
    name = cols[0].text_input(t("keys.name"), key="keys_name", max_chars=200)
    if cols[1].button(t("keys.create"), key="keys_create", disabled=not name.strip()):
        try:
            st.session_state["keys_new"] = (name.strip(), api_keys.create(a, name))
        except Exception as exc:
            errors.show(exc)
        else:
            st.rerun()
    active = sorted({r["name"] for r in rows if r["revoked_at"] is None})
    if active:
        pick = cols[2].selectbox(t("keys.revoke_pick"), active, key="keys_revoke_pick")
        if cols[3].button(t("keys.revoke"), key="keys_revoke"):
            try:
                api_keys.revoke(a, pick)
            except Exception as exc:
                errors.show(exc)
            else:
                _done(t("keys.revoke"))


def _done(what: str) -> None:
    st.session_state["users_flash"] = t("users.done", what=what)
    st.rerun()


main()
