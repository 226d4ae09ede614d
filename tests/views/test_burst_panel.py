"""The suspected-burst panel says how its candidates were ranked: by the hydraulic model, or by
topology only — and then why (issue 19, Locate item 4), in the page's language."""
from __future__ import annotations

import pytest


def _panel(method: str, fallback: str | None, lang: str) -> None:
    import streamlit as st

    from ops.locate import SuspectedBurst
    from views import burst_panel

    st.session_state["lang"] = lang
    cand = {"pipe": "7", "ext_id": "P7", "street": "Mannerheimintie", "score": 0.42, "diameter_mm": 150,
            "lon": None, "lat": None, "geometry": None}
    burst_panel.panel([SuspectedBurst(calls=[object()] * 3, candidates=[cand], method=method, fallback=fallback)])


@pytest.mark.parametrize(("method", "fallback", "lang", "words"), [
    ("hydraulic", None, "en", "hydraulic model"),
    ("hydraulic", None, "ru", "гидравлической модели"),
    ("topology", "no_model", "en", "could not be used: no hydraulic model could be built"),
    ("topology", "no_model", "ru", "не удалось: гидравлическую модель не удалось построить"),
    ("topology", "call_outside_model", "ru", "не удалось: звонок на трубе вне гидравлической модели"),
    ("topology", None, "en", "topology only"),
])
def test_the_panel_says_how_it_ranked(method: str, fallback: str | None, lang: str, words: str) -> None:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_panel, args=(method, fallback, lang), default_timeout=30).run()
    assert not at.exception
    captions = " ".join(c.value for c in at.caption)
    assert words in captions
    assert ("topology" in captions or "топологии" in captions) == (method == "topology")
