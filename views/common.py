"""Session helpers shared by the pages: language, texts, the selected network."""
from __future__ import annotations

from typing import Any

import streamlit as st

from i18n import keys, translate, translate_n


def lang() -> str:
    return st.session_state.get("lang", "ru")


def t(key: str, /, **kwargs: Any) -> str:
    """The text of ``key`` in the page's language (``locale/<lang>/LC_MESSAGES/zhkh.po``)."""
    return translate(lang(), key, **kwargs)


def tn(key: str, n: Any, /, **kwargs: Any) -> str:
    """The plural entry ``key`` in the form for the count ``n`` (``{n}`` in the text; pass ``n=`` too to
    show the count formatted)."""
    return translate_n(lang(), key, n, **kwargs)


def network_id() -> int | None:
    return st.session_state.get("network_id")


def labels() -> dict[str, str]:
    """Field name -> translated label, for tooltips and tables."""
    return {k.removeprefix("field."): t(k) for k in keys("field.")}


def pick_record(label: str, ids: list[int], *, key: str, format_func: Any = str) -> int | None:
    """A picker of one record that follows the page address (``?id=N``): a link to a record opens it
    even when the list's filters hide it, and the address follows the pick."""
    wanted = st.query_params.get("id")
    wanted_id = int(wanted) if wanted and wanted.isdigit() and len(wanted) <= 18 else None
    if wanted_id is not None and wanted_id not in ids:
        ids = [wanted_id, *ids]
    if not ids:
        return None
    if wanted_id is not None and key not in st.session_state:
        st.session_state[key] = wanted_id
    if st.session_state.get(key) not in ids:
        st.session_state.pop(key, None)
    pick = st.selectbox(label, ids, key=key, format_func=format_func)
    st.query_params["id"] = str(pick)
    return int(pick)


def streamlit_texts() -> None:
    """Streamlit's own English in the page's language: the running indicator and the file uploader's
    button and notes are written by Streamlit in English only, so a small script in the page replaces
    those texts (the real text, which screen readers read too) whenever Streamlit draws them again.
    Called once per run by app.py."""
    import json

    exact = {"Running...": t("streamlit.running"), "Stop": t("streamlit.stop"), "Upload": t("upload.button"),
             "Drag and drop a file here": t("upload.drop"), "Drag and drop files here": t("upload.drop")}
    note = t("upload.note", mb="{mb}", types="{types}")
    st.html(f"""<script>(() => {{
  const exact = {json.dumps(exact, ensure_ascii=False)}, note = {json.dumps(note, ensure_ascii=False)};
  const scope = '[data-testid=stStatusWidget], [data-testid=stFileUploaderDropzone]';
  const fix = () => document.querySelectorAll(scope).forEach(root => {{
    const walk = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let n = walk.nextNode(); n; n = walk.nextNode()) {{
      const text = n.nodeValue.trim();
      if (exact[text] && n.nodeValue !== exact[text]) n.nodeValue = exact[text];
      const m = text.match(/^(\\d+)\\s*MB per file(?: • (.*))?$/);
      if (m) n.nodeValue = note.replace('{{mb}}', m[1]).replace('{{types}}', m[2] || '').replace(/ · $/, '');
    }}
  }});
  fix();
  if (window.__zhkhTexts) window.__zhkhTexts.disconnect();   // this run's language
  window.__zhkhTexts = new MutationObserver(fix);
  window.__zhkhTexts.observe(document.body, {{childList: true, subtree: true, characterData: true}});
}})();</script>""", unsafe_allow_javascript=True)
