"""A real app for browser tests: the demo city in the session database, Streamlit on a free port."""
from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.support import free_port, running

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
# one account per role, login = the role's name (a password holding its login is refused)
PASSWORDS = {role: f"{role[:3]}-test-secret-42" for role in ("operator", "dispatcher", "planner", "inspector", "admin")}
# an organisation's staff (bound to the test organisation that ``demo_engine`` adds)
ORG_PASSWORDS = {role: f"{role[:3]}-org-test-secret-42" for role in ("org_dispatcher", "crew")}


# the page has run: the navigation is there, the page wrote something, the app is not running any more
READY = """() => document.querySelector('[data-testid=stSidebarNav]')
    && (document.querySelector('[data-testid=stMainBlockContainer]')?.innerText || '').trim().length > 40
    && !document.querySelector('[data-testid=stStatusWidget]')
    && !document.querySelector('[data-testid=stSkeleton], [data-testid=stFileUploader]:empty')
    && (!document.querySelector('[data-testid=stFileUploader]') || document.querySelector('[data-testid=stFileUploaderDropzone]'))
    && [...document.querySelectorAll('iframe')].every(f => f.contentDocument && f.contentDocument.readyState === 'complete'
        && (f.contentDocument.body?.innerText || '').trim().length > 0
           + f.contentDocument.querySelectorAll('input, .leaflet-container').length > 0)"""


def quiet_main(engine: Engine) -> tuple[str, float, float]:
    """A main's code and the (lon, lat) of its middle, 25 m or more from any valve or node: a click
    there means the pipe."""
    from sqlalchemy import text

    with engine.connect() as conn:
        return tuple(conn.execute(text("""
            SELECT p.ext_id, ST_X(m), ST_Y(m) FROM pipes p, ST_LineInterpolatePoint(p.geom, 0.5) m
            WHERE p.diameter_mm >= 250
              AND NOT EXISTS (SELECT 1 FROM valves v WHERE ST_DWithin(v.geom::geography, m::geography, 25))
              AND NOT EXISTS (SELECT 1 FROM nodes n WHERE ST_DWithin(n.geom::geography, m::geography, 25))
            ORDER BY p.length_m DESC LIMIT 1""")).one())  # type: ignore[return-value]


def report_timing(name: str, seconds: float) -> None:
    """A browser timing, reported (artifacts/browser-timings.jsonl and the test log), never asserted."""
    import json

    ARTIFACTS.mkdir(exist_ok=True)
    with open(ARTIFACTS / "browser-timings.jsonl", "a") as f:
        f.write(json.dumps({"name": name, "seconds": round(seconds, 3), "at": time.strftime("%Y-%m-%dT%H:%M:%S")}) + "\n")
    print(f"timing: {name}: {seconds:.3f} s")


# Timestamps (Date.now(), shared by the page and its frames) of what a person sees, recorded in the
# browser itself so the figures carry no test-driver overhead: the page shell, the map's first drawn
# vector tiles, the first numbered valves on a map, the last Enter pressed.
MILESTONES_JS = """
(() => {
  if (window.top !== window) return;           // the page itself; it looks into the map's frame (same origin)
  const m = window.__milestones = {};
  document.addEventListener('keydown', e => { if (e.key === 'Enter') m.enter = Date.now(); }, true);
  const tick = () => {
    if (!m.shell && document.querySelector('[data-testid=stSidebarNav]')) m.shell = Date.now();
    const f = document.querySelector('iframe[title*=streamlit_folium]');
    const d = f && f.contentDocument;
    if (d) {
      if (!m.tiles_drawn && d.querySelectorAll('svg.leaflet-tile path').length >= 200) m.tiles_drawn = Date.now();
      const valves = d.querySelectorAll('.leaflet-marker-icon').length >= 2;
      if (valves && !m.valves) m.valves = Date.now();
      if (!valves) m.valves = null;
    }
  };
  setInterval(tick, 10);
})();
"""


def login(page, app_url: str, role: str, *, password: str | None = None, lang: str = "ru") -> None:
    """Sign in through the login form and wait until the server has set the session cookie (later page loads keep it)."""
    from playwright.sync_api import expect

    labels = {"ru": ("Логин", "Пароль", "Войти"), "en": ("Login", "Password", "Sign in")}[lang]
    page.goto(app_url, wait_until="domcontentloaded")
    if lang == "en":
        page.get_by_text("English").click()
    page.get_by_label(labels[0]).fill(role)
    page.get_by_role("textbox", name=labels[1], exact=True).fill(password or {**PASSWORDS, **ORG_PASSWORDS}[role])
    # the page asks the server for its HttpOnly session cookie (views/front.py) once the sign-in is done
    with page.expect_response(lambda r: r.url.endswith("/session/cookie") and r.request.method == "POST",
                              timeout=30000) as answer:
        page.get_by_role("button", name=labels[2]).click()
    answer.value.finished()
    assert any(c["name"] == "zhkh_session" for c in page.context.cookies()), "no session cookie after the sign-in"
    expect(page.get_by_text(f"Тест {role}")).to_be_visible(timeout=30000)


def settle_fill(page, box, value: str) -> None:
    """Type into a field and make sure a late rerun did not wipe it before the click."""
    for _ in range(5):
        box.fill(value)
        page.wait_for_timeout(500)
        if box.input_value() == value:
            return
    raise AssertionError(f"the field never kept {value!r}")


def search_address(page, text: str, *, option: str | None = None) -> str:
    """Type into the address search box (a component in its own frame) and pick the first suggestion
    (or the one containing ``option``); the suggestion's text."""
    from playwright.sync_api import expect

    frame = page.frame_locator("iframe[title*='searchbox']").first
    box = frame.locator("input").first
    box.click()
    box.press_sequentially(text, delay=40)
    choice = frame.locator("[class*='option']", has_text=option or text).first
    expect(choice).to_be_visible(timeout=20000)
    # the list shown is the last search's: no search still running on the server (as a person waits
    # for the list to stop changing)
    page.wait_for_function("() => !document.querySelector('[data-testid=stStatusWidget]')", timeout=20000)
    expect(choice).to_be_visible(timeout=20000)
    picked = choice.inner_text()
    choice.click()
    return picked


def pick_option(page, label: str, option: str) -> None:
    """Choose ``option`` in the select box ``label``, again if a rerun closed the list under the click."""
    last: Exception | None = None
    for _ in range(4):
        try:
            page.get_by_label(label).click()
            page.get_by_role("option", name=option).click(timeout=5000)
            return
        except Exception as exc:  # playwright's TimeoutError: the list was re-rendered
            last = exc
            page.wait_for_timeout(500)
    raise AssertionError(f"could not pick {option!r} in {label!r}: {last}")


@contextlib.contextmanager
def service(args: list[str], env: dict[str, str], log_name: str, health_url: str, what: str) -> Iterator[None]:
    """A server of the app's own, as `make demo` runs it: started, waited for until ``health_url``
    answers 200, stopped afterwards (its output in artifacts/``log_name``)."""
    with running(args, env=env, cwd=ROOT, health_url=health_url, log=ARTIFACTS / log_name, what=what):
        yield


@pytest.fixture(scope="session")
def tiles_port(demo_engine: Engine, ui_db_url: str) -> Iterator[int]:
    """The vector-tile server of the demo city, as `make demo` runs it beside the app."""
    port = free_port()
    with service(["-m", "gis", "serve-tiles", "--port", str(port)], {**os.environ, "DATABASE_URL": ui_db_url},
                 f"tiles-{port}.log", f"http://127.0.0.1:{port}/health", "the tile server"):
        yield port


@pytest.fixture(scope="session")
def app_url(demo_engine: Engine, ui_db_url: str, tiles_port: int) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": ui_db_url, "ZHKH_TILES_PORT": str(tiles_port),
           # an unreachable basemap: the page must still render the map
           "ZHKH_TILES_URL": "http://127.0.0.1:9/{z}/{x}/{y}.png",
           # the demo city's own time zone, as `make demo` runs it
           "ZHKH_SLA_RULES_FILE": str(ROOT / "incidents" / "rules" / "helsinki.yaml")}
    url = f"http://127.0.0.1:{port}"
    with service(["-m", "streamlit", "run", "app_server.py", "--server.port", str(port), "--server.headless", "true",
                  "--server.fileWatcherType", "none"], env, f"streamlit-{port}.log", f"{url}/_stcore/health",
                 "streamlit"):
        yield url


@pytest.fixture()
def anonymous_page(app_url: str) -> Iterator[object]:
    """A fresh browser, signed in as nobody."""
    from playwright.sync_api import sync_playwright

    from scripts.screenshot import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        pg = browser.new_page(viewport={"width": 1600, "height": 1000})
        pg.add_init_script(MILESTONES_JS)
        pg.outside_requests = []  # type: ignore[attr-defined]
        pg.tile_requests = []  # type: ignore[attr-defined]
        pg.on("request", lambda r: pg.tile_requests.append(r.url)  # type: ignore[attr-defined]
              if "/tiles/" in r.url else None)
        pg.on("request", lambda r: pg.outside_requests.append(f"{r.resource_type} {r.url}")  # type: ignore[attr-defined]
              if not r.url.startswith(("http://127.0.0.1", "http://localhost", "data:", "blob:", "about:")) else None)
        yield pg
        browser.close()


@pytest.fixture()
def page(anonymous_page, app_url: str, request: pytest.FixtureRequest) -> object:
    """A browser signed in as the test's ``@pytest.mark.role(...)`` (a dispatcher by default)."""
    marker = request.node.get_closest_marker("role")
    login(anonymous_page, app_url, marker.args[0] if marker else "dispatcher")
    return anonymous_page
