"""Every page an administrator can open, in Russian and in English, read in headless Chromium: no text
key, no Python value, no word of the other language on the page's own labels, buttons, headings,
tabs, legends and layer lists. The language chosen at the login stays for every later page load."""
from __future__ import annotations

import re

import pytest

from auth.permissions import ROLE_PAGES
from tests.ui.conftest import ARTIFACTS, READY, login

pytestmark = pytest.mark.browser

# what the page itself writes (not the data it shows): headings, labels, buttons, tabs, metrics,
# the navigation, table headers, map legends and layer lists
CHROME = ("h1, h2, h3, label, button, [data-baseweb=tab], [data-testid=stMetricLabel], "
          "[data-testid=stSidebarNav], th, .zhkh-legend, .leaflet-control-layers")
CYRILLIC = re.compile(r"[А-Яа-яЁё]")
# Latin words a Russian page may show on its own labels: names, formats, units, the other language's name
LATIN_OK = {"English", "PDF", "CSV", "GeoJSON", "OpenStreetMap", "Leaflet", "Open311", "API", "ID", "OIDC", "SLA",
            "mm", "m", "ft", "km", "DN", "GIS", "MVT", "EPANET", "GeoPackage", "Shapefile", "inp", "zip", "EPSG"}
PYTHON_VALUES = re.compile(r"\b(None|True|False|nan|NaN|NaT)\b|\b[a-z]+_[a-z_]+\b|\{[a-z_]+\}")


def catalog_keys() -> set[str]:
    from i18n import read_catalog

    return {m.id if isinstance(m.id, str) else m.id[0] for m in read_catalog("ru") if m.id}


# the visible text of the elements a selector finds, without icon names (Material icons are ligatures)
TEXTS_JS = """(sel) => [...document.querySelectorAll(sel)].filter(el => el.offsetParent !== null || el.tagName === 'BODY')
    .map(el => { const c = el.cloneNode(true);
                 c.querySelectorAll('[data-testid=stIconMaterial], .material-icons, script, style').forEach(i => i.remove());
                 return c.innerText || c.textContent || ''; })"""


# placeholders people read (a select's own input keeps Streamlit's "Choose an option" even when a value shows)
PLACEHOLDERS_JS = ("() => [...document.querySelectorAll('input[placeholder]:not([role=combobox]), textarea[placeholder]')]"
                   ".filter(i => !i.value).map(i => i.placeholder)")
# Streamlit's own English words, which a Russian page must not show
STREAMLIT_ENGLISH = ("Running...", "Choose an option", "No options to select", "No results", "Drag and drop", "per file",
                     "Browse files", "Press Enter to apply", "Press Enter to submit")


def page_texts(page) -> tuple[str, list[str]]:
    """All visible text of the page and of its map (if any), and the texts of its own labels."""
    whole = "\n".join(page.evaluate(TEXTS_JS, "[data-testid=stSidebar], [data-testid=stMain]"))
    chrome = page.evaluate(TEXTS_JS, CHROME) + page.evaluate(PLACEHOLDERS_JS)
    for frame in page.frames:
        if frame is page.main_frame:
            continue
        # a map's legend and layer list; a component's own texts (the address search's placeholder)
        own = frame.evaluate(TEXTS_JS, ".zhkh-legend, .leaflet-control-layers") + frame.evaluate(PLACEHOLDERS_JS)
        chrome += own
        whole += "\n" + "\n".join(own)
    return whole, chrome


def problems(whole: str, chrome: list[str], lang: str, keys: set[str], names: set[str]) -> list[str]:
    found = [f"text key {k!r}" for k in keys if re.search(rf"(?<![\w.]){re.escape(k)}(?![\w.])", whole)]
    found += [f"Python value {m.group(0)!r}" for m in PYTHON_VALUES.finditer(whole)]
    if lang == "ru":
        found += [f"Streamlit's English {w!r}" for w in STREAMLIT_ENGLISH if w in whole]
    for text in chrome:
        if lang == "en":
            if CYRILLIC.search(text.replace("Русский", "")):
                found.append(f"Russian on an English page: {text!r}")
        else:
            latin = {w for w in re.findall(r"[A-Za-z][A-Za-z0-9]+", text) if w not in LATIN_OK | names}
            if latin:
                found.append(f"Latin words {sorted(latin)} on a Russian page: {text!r}")
    return found


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_every_page_speaks_one_language(anonymous_page, app_url: str, lang: str, demo_engine) -> None:
    from playwright.sync_api import expect
    from sqlalchemy import text

    with demo_engine.connect() as conn:   # data may stand in a label ("type the network's name: …")
        names = {w for (n,) in conn.execute(text("SELECT name FROM networks")) for w in n.split()}
    page = anonymous_page
    login(page, app_url, "admin", lang=lang)
    keys = catalog_keys()
    report: dict[str, list[str]] = {}
    for name in ROLE_PAGES["admin"]:
        page.goto(f"{app_url}/{name}", wait_until="domcontentloaded")    # a new load: the language comes back
        page.wait_for_function(READY, timeout=30000)
        if page.locator("iframe[title*='streamlit_folium']").count():
            page.frame_locator("iframe[title*='streamlit_folium']").first.locator(".zhkh-legend").wait_for(timeout=30000)
        page.screenshot(path=str(ARTIFACTS / f"lang-{lang}-{name}.png"), full_page=True)
        if name == "data":   # Streamlit's own uploader button, in the page's language
            expect(page.get_by_role("button", name={"ru": "Выбрать файл", "en": "Choose a file"}[lang])).to_be_visible()
        found = problems(*page_texts(page), lang, keys, names)
        if found:
            report[name] = sorted(set(found))
    assert report == {}
