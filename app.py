"""zhkh-ops: page config, login, navigation by role and the shared sidebar. No domain logic here."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from auth.permissions import allowed, pages_for
from i18n import LANGUAGES, N_
from ops import network as net_ops
from settings import SettingsError, get_settings
from views import errors, session
from views.common import streamlit_texts, t
from views.formatting import network_name

st.set_page_config(page_title="zhkh-ops", page_icon=str(Path(__file__).parent / "static" / "favicon.png"), layout="wide",
                   # the wall screen (/control?kiosk=1) opens full screen, without the sidebar
                   initial_sidebar_state="collapsed" if st.query_params.get("kiosk") in ("1", "true", "yes") else "auto")

# url path -> (script, title key, icon)
PAGES: dict[str, tuple[str, str, str]] = {
    "control": ("views/control_room.py", N_("page.control_room"), ":material/monitor_heart:"),
    "incidents": ("views/incidents.py", N_("page.incidents"), ":material/list_alt:"),
    "intake": ("views/intake.py", N_("page.intake"), ":material/call:"),
    "outages": ("views/outages.py", N_("page.outages"), ":material/water_drop:"),
    "planner": ("views/planner.py", N_("page.planner"), ":material/valve:"),
    "map": ("views/city_map.py", N_("page.map"), ":material/map:"),
    "data": ("views/data.py", N_("page.data"), ":material/database:"),
    "users": ("views/users.py", N_("page.users"), ":material/group:"),
    "webhooks": ("views/webhooks.py", N_("page.webhooks"), ":material/webhook:"),
    "audit": ("views/audit.py", N_("page.audit"), ":material/history:"),
    "inspection": ("views/inspection.py", N_("page.inspection"), ":material/fact_check:"),
    "balance": ("views/water_balance.py", N_("page.balance"), ":material/monitoring:"),
    "desk": ("views/desk.py", N_("page.desk"), ":material/work:"),
}

if "lang" not in st.session_state:
    from settings import get_settings

    st.session_state["lang"] = session.initial_language(
        get_settings().language if get_settings().language in LANGUAGES else "ru")
# /control?kiosk=1&lang=en: an address that names a language opens in it (once: the switch still works)
if st.query_params.get("lang", "") in LANGUAGES and st.session_state.get("lang_param") != st.query_params["lang"]:
    st.session_state["lang"] = st.session_state["lang_param"] = st.query_params["lang"]


def _keep(choice: str, target: str) -> None:
    st.session_state[target] = st.session_state[choice]


def language_switch() -> None:
    # the choice lives in a plain session key: a widget's own state is dropped when the page changes
    codes = list(LANGUAGES)
    current = st.session_state.get("lang", "ru")
    if st.session_state.get("lang_pick") not in (None, current):   # the address or the cookie chose another one
        st.session_state["lang_pick"] = current
    st.radio(t("sidebar.language"), codes, index=codes.index(current) if current in codes else 0,
             format_func=LANGUAGES.get, key="lang_pick", horizontal=True, on_change=_keep, args=("lang_pick", "lang"))


def sidebar(user: object) -> None:

    with st.sidebar:
        st.markdown(f"**{errors.md_safe(user.display_name or user.login)}**  \n"  # type: ignore[attr-defined]
                    f"{t('role.' + user.role)} · `{user.login}`")  # type: ignore[attr-defined]
        if st.button(t("login.logout"), icon=":material/logout:", key="logout"):
            session.logout()
        language_switch()
        # an organisation's staff read no network (auth.permissions): no network to pick
        nets = net_ops.networks(session.actor()) if allowed(user.role, "map.read") else []  # type: ignore[attr-defined]
        if nets:
            ids = [n["id"] for n in nets]
            if st.session_state.get("network_id") not in ids:
                st.session_state["network_id"] = ids[0]
            names = {n["id"]: network_name(n["name"]) for n in nets}
            st.selectbox(t("sidebar.network"), ids, index=ids.index(st.session_state["network_id"]),
                         format_func=lambda i: names.get(i, str(i)), key="network_pick", on_change=_keep,
                         args=("network_pick", "network_id"))
        else:
            st.session_state["network_id"] = None
            if allowed(user.role, "map.read"):  # type: ignore[attr-defined]
                st.info(t("sidebar.no_network"))


def standing_in(show: object) -> None:
    """One screen (the login form, "the database is down") at every address, so that the address asked
    for is still there when the real pages come back."""
    st.navigation([st.Page(show, title=t("app.title"), url_path="home", default=True),  # type: ignore[arg-type]
                   *[st.Page(show, title=t(PAGES[p][1]), url_path=p) for p in PAGES]],  # type: ignore[arg-type]
                  position="hidden").run()


def settings_refused() -> bool:
    """A refused setting (``ZHKH_ENV=prod`` …): its one line instead of any page; the server's log has it too."""
    try:
        get_settings()
    except SettingsError as exc:
        st.error(t("app.settings_refused", detail=errors.md_safe("; ".join(exc.refused))), icon=":material/error:")
        return True
    return False


def main() -> None:
    if settings_refused():
        return
    try:
        user = session.resume()
    except Exception as exc:  # the database is down: nobody can be checked, nothing can be shown
        with st.sidebar:
            language_switch()
        standing_in(lambda failure=exc: errors.page_failed(failure))
        return
    session.write_cookie()
    with st.sidebar:
        streamlit_texts()   # Streamlit's own English (running…, the file uploader) in the page's language
    if user is None:
        # every address shows the login form, and after the sign-in the page that was asked for
        with st.sidebar:
            language_switch()
        standing_in(session.login_page)
        return
    try:
        sidebar(user)
    except Exception as exc:
        errors.page_failed(exc)
        return
    # the role's pages in the navigation; any other address answers with a refusal, not the page
    own = pages_for(user.role)
    pages = [st.Page(PAGES[p][0], title=t(PAGES[p][1]), icon=PAGES[p][2], url_path=p) for p in own]
    # "/" opens the role's first page (Streamlit serves the default page at "" only, so it is a hidden one)
    home = st.Page(lambda: st.switch_page(pages[0]), title=t(PAGES[own[0]][1]), url_path="home", default=True,
                   visibility="hidden")
    pages += [st.Page(session.refusal(p), title=t(PAGES[p][1]), url_path=p, visibility="hidden")
              for p in PAGES if p not in own]
    page = st.navigation([home, *pages])
    try:
        page.run()
    except Exception as exc:  # a page never shows a traceback; the database being down is said so
        errors.page_failed(exc)


main()
