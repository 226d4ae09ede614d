"""Session helpers shared by the pages: language, texts, the selected network."""
from __future__ import annotations

import json
from typing import Any

import streamlit as st

from i18n import keys, translate, translate_n


def lang() -> str:
    return st.session_state.get("lang", "ru")


def tkey(key: str) -> str:
    """The key of a widget whose options are shown in the page's language (``format_func`` translating them):
    one widget per language. Streamlit keeps a keyed widget's shown labels across reruns, so after a switch of
    language the old widget would go on showing the other language's words; a new key draws it anew (its
    choice back at its default)."""
    return f"{key}.{lang()}"


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
    """Streamlit's own English in the page's language: the running indicator, the file uploader's
    button and notes, the "Press Enter to …" hints under fields, the multiselect's "Select all" and the
    screen-readers' labels of its buttons are written by Streamlit in English only, so a small script in
    the page replaces those texts (the real text, which screen readers read too) whenever Streamlit draws
    them again (what it cannot reach: docs/i18n.md). It also makes Enter apply a typed date. Called once
    per run by app.py."""

    exact = {"Running...": t("streamlit.running"), "Stop": t("streamlit.stop"), "Upload": t("upload.button"),
             "Drag and drop a file here": t("upload.drop"), "Drag and drop files here": t("upload.drop"),
             "Press Enter to submit form": t("streamlit.enter_submit"), "Press Enter to apply": t("streamlit.enter_apply"),
             "Press Ctrl+Enter to submit form": t("streamlit.ctrl_enter_submit"),
             "Press ⌘+Enter to submit form": t("streamlit.ctrl_enter_submit"),
             "Press Ctrl+Enter to apply": t("streamlit.ctrl_enter_apply"),
             "Press ⌘+Enter to apply": t("streamlit.ctrl_enter_apply"),
             "Select all": t("streamlit.select_all"), "No options available": t("streamlit.no_options"),
             "Skip to main content": t("streamlit.skip")}
    # the screen-reader labels (aria-label), tooltips (title) and placeholders Streamlit writes in English
    # on the widgets the pages use
    labels = {"Show password": t("streamlit.show_password"), "Hide password": t("streamlit.hide_password"),
              "Choose date": t("streamlit.choose_date"), "Choose date range": t("streamlit.choose_date"),
              "Clear all": t("streamlit.clear_all"), "Clear value": t("streamlit.clear_value"),
              "Clear entry": t("streamlit.clear_value"), "Choose an option": t("common.choose"),
              "App pages": t("streamlit.app_pages"), "Sidebar": t("streamlit.sidebar"),
              "Collapse sidebar": t("streamlit.collapse_sidebar"), "Expand sidebar": t("streamlit.expand_sidebar"),
              "Open": t("streamlit.open"), "Close": t("streamlit.close"), "Link to heading": t("streamlit.heading_link"),
              "No options available": t("streamlit.no_options"), "Selected values": t("streamlit.selected"),
              "Download as CSV": t("streamlit.table_csv"), "Fullscreen": t("streamlit.fullscreen"),
              "Close fullscreen": t("streamlit.fullscreen_close"), "Search": t("streamlit.search"),
              "Show/hide columns": t("streamlit.columns"), "Increment": t("streamlit.increment"),
              "Decrement": t("streamlit.decrement")}
    # the same with a part of the page's own in them: "Remove <a chosen value>", a date field's parts
    parts = [["^Remove (.*)$", t("streamlit.remove", x="{x}")], ["^Help for (.*)$", t("streamlit.help_for", x="{x}")], ["^day, (.*)$", t("streamlit.day", x="{x}")],
             ["^month, (.*)$", t("streamlit.month", x="{x}")], ["^year, (.*)$", t("streamlit.year", x="{x}")]]
    note = t("upload.note", mb="{mb}", types="{types}")
    matches = t("streamlit.select_matches", n="{n}")
    st.html(f"""<script>(() => {{
  const exact = {json.dumps(exact, ensure_ascii=False)}, note = {json.dumps(note, ensure_ascii=False)};
  const labels = {json.dumps(labels, ensure_ascii=False)}, matches = {json.dumps(matches, ensure_ascii=False)};
  const parts = {json.dumps(parts, ensure_ascii=False)}.map(([re, to]) => [new RegExp(re), to]);
  const relabel = v => {{
    if (labels[v]) return labels[v];
    for (const [re, to] of parts) {{ const m = v.match(re); if (m) return to.replace('{{x}}', m[1]); }}
    return null;
  }};
  const scope = '[data-testid=stStatusWidget], [data-testid=stFileUploaderDropzone], [data-testid=InputInstructions], '
              + '[data-testid=stSkipToContent], '
              + '[data-baseweb=popover] [role=option], [role=listbox] [role=option]';
  const fix = () => {{
    document.querySelectorAll(scope).forEach(root => {{
      const walk = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
      for (let n = walk.nextNode(); n; n = walk.nextNode()) {{
        const text = n.nodeValue.trim();
        if (exact[text] && n.nodeValue !== exact[text]) n.nodeValue = exact[text];
        const m = text.match(/^(\\d+)\\s*MB per file(?: • (.*))?$/);
        if (m) n.nodeValue = note.replace('{{mb}}', m[1]).replace('{{types}}', m[2] || '').replace(/ · $/, '');
        const s = text.match(/^Select (\\d+) matches$/);
        if (s) n.nodeValue = matches.replace('{{n}}', s[1]);
      }}
    }});
    document.querySelectorAll('[aria-label], [placeholder], [title]').forEach(e => {{
      for (const a of ['aria-label', 'placeholder', 'title']) {{
        const v = e.getAttribute(a), l = v && relabel(v);
        if (l && l !== v) e.setAttribute(a, l);
      }}
    }});
  }};
  fix();
  // a date typed into a date field applies on Enter: Streamlit takes it only when the field loses focus
  // with its calendar closed, and Enter would open the calendar — so Enter closes it (Escape) and leaves
  if (!window.__zhkhDateEnter) {{
    window.__zhkhDateEnter = true;
    const inDate = e => e.key === 'Enter' && e.target.closest && e.target.closest('[data-testid=stDateInputField]');
    window.addEventListener('keyup', e => {{ if (inDate(e)) {{ e.preventDefault(); e.stopImmediatePropagation(); }} }}, true);
    window.addEventListener('keydown', e => {{
      if (!inDate(e)) return;
      e.preventDefault(); e.stopImmediatePropagation();
      e.target.dispatchEvent(new KeyboardEvent('keydown', {{key: 'Escape', code: 'Escape', keyCode: 27, bubbles: true,
                                                           cancelable: true}}));
      setTimeout(() => {{ const t = document.activeElement; if (t && t.blur) t.blur(); }}, 30);
    }}, true);
  }}
  if (window.__zhkhTexts) window.__zhkhTexts.disconnect();   // this run's language
  window.__zhkhTexts = new MutationObserver(fix);
  window.__zhkhTexts.observe(document.body, {{childList: true, subtree: true, characterData: true,
                                             attributes: true,
                                             attributeFilter: ['aria-label', 'placeholder', 'title']}});
}})();</script>""", unsafe_allow_javascript=True)
