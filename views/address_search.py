"""Address search that suggests while typing (streamlit-searchbox: the search runs on the server at
every pause in typing). Identical addresses are told apart by what the building is and its code."""
from __future__ import annotations

from collections import Counter
from typing import Any

import streamlit as st
from streamlit_searchbox import st_searchbox

from ops import maps
from views.common import t
from views.formatting import label
from views.session import actor

MIN_CHARS = 2


def suggestions(query: str) -> list[tuple[str, dict[str, Any] | None]]:
    """(label, building) pairs for what has been typed so far, best first. With nothing to offer, one
    line that says why (choosing it chooses nothing): the box never shows its own English text."""
    if len((query or "").strip()) < MIN_CHARS:
        return [(t("search.type_more", n=MIN_CHARS), None)]
    hits = maps.search(actor(), query, limit=12)
    if not hits:
        return [(t("map.search_none", query=query.strip()[:80]), None)]
    seen = Counter(h["address"] for h in hits)
    out: list[tuple[str, dict[str, Any] | None]] = []
    for h in hits:
        text = h["address"] or "—"
        if seen[h["address"]] > 1:  # two buildings with one address: say which is which
            code = h.get("ext_id") or f"#{h['id']}"
            text = t("search.same_address", address=text, kind=label("kind", h.get("kind")), code=code)
        out.append((text, h))
    return out


def address_search(label_text: str, *, key: str) -> dict[str, Any] | None:
    """A search box with suggestions; the building chosen (id, address, kind, lon, lat, bbox) or None."""

    try:
        # the last text searched for comes back if the box is drawn anew (a rerun that moved or rebuilt
        # it would otherwise empty it under the person's fingers)
        typed = (st.session_state.get(key) or {}).get("search") or ""
        return st_searchbox(suggestions, label=label_text, placeholder=t("map.search_placeholder"), key=key,
                            default_searchterm=typed, clear_on_submit=False, debounce=250, rerun_scope="app",
                            style_overrides={"wrapper": {"backgroundColor": "transparent"}})
    except IndexError:
        # a suggestion was clicked while a newer search replaced the list (the box sends the position
        # of the line clicked): nothing is chosen, the box starts again and says so
        st.session_state.pop(key, None)
        st.warning(t("search.changed"))
        return None
