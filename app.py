"""zhkh-ops: page config, navigation and the shared sidebar. No domain logic here."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from views.common import networks, t
from views.i18n import LANGUAGES

st.set_page_config(page_title="zhkh-ops", page_icon=str(Path(__file__).parent / "static" / "favicon.png"), layout="wide")

if "lang" not in st.session_state:
    from settings import get_settings

    st.session_state["lang"] = get_settings().language if get_settings().language in LANGUAGES else "ru"

with st.sidebar:
    st.radio(t("sidebar.language"), list(LANGUAGES), format_func=LANGUAGES.get, key="lang", horizontal=True)
    try:
        nets = networks()
        db_error = None
    except Exception as exc:  # the page still renders and says what is wrong
        nets, db_error = [], str(exc).splitlines()[0]
    if db_error:
        st.error(t("map.db_error", error=db_error))
    elif nets:
        ids = [n["id"] for n in nets]
        if st.session_state.get("network_id") not in ids:
            st.session_state["network_id"] = ids[0]
        st.selectbox(t("sidebar.network"), ids, key="network_id",
                     format_func=lambda i: next(n["name"] for n in nets if n["id"] == i))
    else:
        st.session_state["network_id"] = None
        st.info(t("sidebar.no_network"))
    st.selectbox(t("sidebar.role"), ["dispatcher", "planner", "inspector"], key="role",
                 format_func=lambda r: t(f"role.{r}"))

pages = [
    st.Page("views/city_map.py", title=t("page.map"), icon=":material/map:", url_path="map", default=True),
    st.Page("views/planner.py", title=t("page.planner"), icon=":material/valve:", url_path="planner"),
    st.Page("views/control_room.py", title=t("page.control_room"), icon=":material/monitor_heart:", url_path="control"),
    st.Page("views/intake.py", title=t("page.intake"), icon=":material/call:", url_path="intake"),
    st.Page("views/reports.py", title=t("page.incidents"), icon=":material/list_alt:", url_path="incidents"),
    st.Page("views/data.py", title=t("page.data"), icon=":material/database:", url_path="data"),
]
st.navigation(pages).run()
