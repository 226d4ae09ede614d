"""What every page of the day test is checked for: raw text keys, Python values, words of the other
language. The text read is what a person sees and what a screen reader reads: the page, its frames,
the tables' cells, the buttons' and fields' labels."""
from __future__ import annotations

import re
from collections.abc import Iterable

from i18n import keys as msgids

# a dotted key (`audit.object.billing_period`); only the known msgids count (a file name like
# `crew-sheet.pdf` or a domain like `zhkh.local` is not a key)
KEY = re.compile(r"\b[a-z_]+(?:\.[a-z_0-9]+)+\b")
PYTHON = re.compile(r"\bNone\b|\bTrue\b|\bFalse\b|\bnan\b|\bNaN\b|\bNaT\b|\{'|\['|\[\]|\{\}|<NA>")
LATIN_WORD = re.compile(r"\b[A-Za-z][A-Za-z'’]{2,}\b")
# words in Latin letters a Russian page may show: units, formats, the product's and the map's names
ALLOWED_LATIN = {
    "PDF", "CSV", "GeoJSON", "JSON", "XML", "API", "Open311", "SMTP", "SLA", "DMA", "EPANET", "OSM",
    "OpenStreetMap", "Leaflet", "CartoDB", "Esri", "Streamlit", "PostGIS", "Enter", "Ctrl", "Esc", "Tab",
    "zhkh", "ops", "kWh", "Gcal", "GUID", "FIAS", "ФИАС", "Helsinki", "HSY", "WGS", "EPSG", "Mapbox",
    "contributors", "CARTO", "Tiles", "SMS",
    "English",   # the language switch names each language in itself
    "Europe", "UTM",   # the time zone's name (Europe/Helsinki) and the map's projection in the PDF
    "incidents",       # the drill-down's links (/incidents?id=N), read from the table's cells
    "cli", "root",     # the author of what the command lines did (cli:<os user>)
}
# Streamlit's own words that no page can reach (listed in docs/i18n.md)
STREAMLIT_UNREACHABLE = {"Deploy", "Rerun", "Settings", "Print", "Record", "screencast", "About", "Clear", "cache",
                         "Developer", "options", "Made", "with",
                         # the select boxes' screen-reader announcement ("N results available")
                         "results", "result", "available",
                         # the date field's calendar popup (baseweb's own English: month and day names)
                         "Date", "Selected", "Choose", "January", "February", "March", "April", "May", "June",
                         "July", "August", "September", "October", "November", "December", "Monday", "Tuesday",
                         "Wednesday", "Thursday", "Friday", "Saturday", "Sunday", "Previous", "Next", "month"}
URL = re.compile(r"https?://\S+")


def page_texts(page) -> str:
    """What is on the page: the visible text of the page and its frames, the tables' cells (drawn on a
    canvas: their accessible copy), and the labels a screen reader reads."""
    parts = [page.evaluate("""() => {
        // a Material icon is a ligature (its name as text, drawn as a glyph): not a word anyone sees
        const icons = new Set([...document.querySelectorAll('[data-testid=stIconMaterial]')].map(e => e.textContent.trim()));
        const words = document.body.innerText.split(/(\\s+)/).filter(w => !icons.has(w.trim()));
        const out = [words.join('')];
        document.querySelectorAll('[aria-label], [title], [placeholder]').forEach(e => {
            for (const a of ['aria-label', 'title', 'placeholder']) {
                // a component frame's title names its code (streamlit_folium.st_folium): docs/i18n.md
                if (a === 'title' && e.tagName === 'IFRAME') continue;
                const v = e.getAttribute(a); if (v) out.push(v);
            }
        });
        document.querySelectorAll('[data-testid=stDataFrame] table td, [data-testid=stDataFrame] table th,'
                                  + ' [data-testid=stDataFrame] [role=gridcell], [data-testid=stDataFrame] [role=columnheader]')
            .forEach(e => out.push(e.textContent));
        return out.join('\\n');
    }""")]
    for f in page.frames:
        if f is page.main_frame:
            continue
        try:
            # (without the screen-reader announcements of the address box's list, react-select's own
            # English that no page can reach: docs/i18n.md)
            parts.append(f.evaluate("""() => { if (!document.body) return '';
                let t = document.body.innerText;
                document.querySelectorAll('[aria-live]').forEach(e => { const s = e.innerText; if (s) t = t.split(s).join(''); });
                // a component frame read while it still loads shows its <noscript> line, which no one with
                // JavaScript (everyone using the app) ever sees
                document.querySelectorAll('noscript').forEach(e => { const s = e.textContent.trim(); if (s) t = t.split(s).join(''); });
                return t; }"""))
        except Exception:  # a frame that went away while it was read (a rerun)
            pass
    return "\n".join(parts)


def problems(text: str, *, lang: str = "ru", proper: Iterable[str] = ()) -> list[str]:
    """What a person should not see in ``text``: known msgids, Python values, Latin words on a Russian
    page (``proper``: the names the page may show in Latin — addresses, codes, logins)."""
    known = set(msgids(""))
    found = [f"raw key {k!r}" for k in sorted(set(KEY.findall(text))) if k in known]
    found += [f"Python value {m!r} in …{text[max(0, i - 40):i + 40]!r}…"
              for m, i in {(m.group(0), m.start()) for m in PYTHON.finditer(text)}]
    if lang == "ru":
        allowed = ALLOWED_LATIN | STREAMLIT_UNREACHABLE | {w.lower() for w in proper} | set(proper)
        words = URL.sub(" ", text)   # a link written out (the report's address to keep) is not a word
        latin = sorted({w for w in LATIN_WORD.findall(words) if w not in allowed and w.lower() not in allowed})
        found += [f"Latin word {w!r}" for w in latin]
    return found


def proper_names(engine) -> set[str]:
    """The Latin words of the city's own names: street names and addresses, valve and pipe codes,
    organisations, the accounts' logins."""
    from sqlalchemy import text

    words: set[str] = set()
    with engine.connect() as conn:
        for sql in ("SELECT address FROM buildings WHERE address IS NOT NULL",
                    "SELECT ext_id FROM valves WHERE ext_id IS NOT NULL",
                    "SELECT ext_id FROM pipes WHERE ext_id IS NOT NULL",
                    "SELECT street FROM pipes WHERE street IS NOT NULL",
                    "SELECT name FROM organisations", "SELECT short_name FROM organisations",
                    "SELECT login FROM users", "SELECT ext_id FROM buildings WHERE ext_id IS NOT NULL"):
            try:
                for (v,) in conn.execute(text(sql)):
                    words |= set(LATIN_WORD.findall(str(v)))
            except Exception:
                conn.rollback()
    return words
