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


def file_uploader(label: str, *, types: list[str], max_mb: int = 200, **kwargs: Any) -> Any:
    """``st.file_uploader`` in the page's language: Streamlit writes its own button and size note in
    English only, so a small script in the page replaces those texts (the real text, which screen
    readers read too) each time the uploader is drawn again."""
    import json

    upload = st.file_uploader(label, type=types, **kwargs)
    texts = {"Upload": t("upload.button"),
             "note": t("upload.note", mb=max_mb, types=", ".join(x.upper() for x in types)),
             "drop": t("upload.drop")}
    st.html(f"""<script>(() => {{
  const tx = {json.dumps(texts, ensure_ascii=False)};
  const fix = () => document.querySelectorAll('[data-testid=stFileUploaderDropzone]').forEach(z => {{
    z.querySelectorAll('[data-testid=stBaseButton-secondary] [data-testid=stMarkdownContainer] p').forEach(p => {{
      if (p.textContent !== tx.Upload) p.textContent = tx.Upload; }});
    z.querySelectorAll('[data-testid=stFileUploaderDropzoneInstructions] span').forEach(s => {{
      const want = /drag and drop/i.test(s.textContent) ? tx.drop : tx.note;
      if (s.textContent !== want) s.textContent = want; }});
  }});
  fix();
  if (window.__zhkhUploadFix) window.__zhkhUploadFix.disconnect();   // the texts of this run's language
  window.__zhkhUploadFix = new MutationObserver(fix);
  window.__zhkhUploadFix.observe(document.body, {{childList: true, subtree: true, characterData: true}});
}})();</script>""", unsafe_allow_javascript=True)
    return upload
