"""Session helpers shared by the pages: language, texts, the selected network."""
from __future__ import annotations

from typing import Any

import streamlit as st

from views.i18n import translate


def lang() -> str:
    return st.session_state.get("lang", "ru")


def t(key: str, **kwargs: Any) -> str:
    return translate(lang(), key, **kwargs)


def network_id() -> int | None:
    return st.session_state.get("network_id")


def labels() -> dict[str, str]:
    """Field name -> translated label, for tooltips and tables."""
    from views.i18n import CATALOG

    return {k.removeprefix("field."): t(k) for k in CATALOG["ru"] if k.startswith("field.")}
