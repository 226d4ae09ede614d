"""People in the browser: the app shows nothing before a login, each role sees only its pages, an
inspector reaches neither an import nor a status change, a session survives a reload and ends on logout."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import Engine, text

from auth.permissions import ROLE_PAGES
from tests.ui.conftest import ARTIFACTS, PASSWORDS, READY, login

pytestmark = pytest.mark.browser

TITLES = {"control": "Диспетчерская", "incidents": "Заявки", "intake": "Приём заявки", "outages": "Отключения",
          "planner": "Планирование отключений", "map": "Карта города", "data": "Данные", "users": "Пользователи",
          "audit": "Журнал действий", "inspection": "Инспекция", "balance": "Баланс воды",
          "desk": "Работа организации", "webhooks": "Вебхуки организаций"}


def nav_titles(page) -> list[str]:
    links = page.locator("[data-testid=stSidebarNav] a")
    expect(links.first).to_be_visible(timeout=30000)
    return [t.strip().splitlines()[-1].strip() for t in links.all_inner_texts()]  # the icon is text too


def test_nothing_shows_before_a_login_and_a_wrong_password_says_so(anonymous_page, app_url: str) -> None:
    page = anonymous_page
    page.goto(f"{app_url}/map", wait_until="domcontentloaded")
    expect(page.get_by_label("Логин")).to_be_visible(timeout=30000)
    expect(page.get_by_role("textbox", name="Пароль", exact=True)).to_be_visible()
    assert page.locator("iframe[title*='streamlit_folium']").count() == 0
    assert page.locator("[data-testid=stSidebarNav]").count() == 0
    assert page.locator("[data-testid=stDataFrame]").count() == 0
    page.screenshot(path=str(ARTIFACTS / "login.png"))
    page.get_by_label("Логин").fill("dispatcher")
    page.get_by_role("textbox", name="Пароль", exact=True).fill("not the password")
    page.get_by_role("button", name="Войти").click()
    expect(page.get_by_text("Неверный логин или пароль.")).to_be_visible(timeout=30000)
    page.get_by_label("Логин").fill("nobody-at-all")
    page.get_by_role("textbox", name="Пароль", exact=True).fill("not the password")
    page.get_by_role("button", name="Войти").click()
    expect(page.get_by_text("Неверный логин или пароль.")).to_be_visible(timeout=30000)   # the same answer
    # in English the fields are "Login" and "Password"
    page.get_by_text("English").click()
    expect(page.get_by_label("Login", exact=True)).to_be_visible(timeout=30000)
    expect(page.get_by_label("Password", exact=True)).to_be_visible()


@pytest.mark.parametrize("role", sorted(ROLE_PAGES))
def test_each_role_sees_only_its_pages(anonymous_page, app_url: str, role: str) -> None:
    login(anonymous_page, app_url, role)
    if len(ROLE_PAGES[role]) == 1:   # one page (a crew until its field app): Streamlit shows no menu, only the page
        expect(anonymous_page.get_by_role("heading", name=TITLES[ROLE_PAGES[role][0]])).to_be_visible(timeout=30000)
        assert anonymous_page.locator("[data-testid=stSidebarNav] a").count() == 0
    else:
        assert nav_titles(anonymous_page) == [TITLES[p] for p in ROLE_PAGES[role]]
    anonymous_page.screenshot(path=str(ARTIFACTS / f"home-{role}.png"))


def test_an_inspector_reaches_no_import_and_no_status_change(anonymous_page, app_url: str,
                                                             demo_engine: Engine) -> None:
    from incidents import service as S

    page = anonymous_page
    with demo_engine.connect() as conn:
        lon, lat = conn.execute(text("SELECT ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)) FROM buildings "
                                     "ORDER BY id LIMIT 1")).one()
    inc = S.create_incident(demo_engine, service_code="elevator", lon=lon, lat=lat, description="Лифт стоит").incident
    login(page, app_url, "inspector")
    page.goto(f"{app_url}/data", wait_until="domcontentloaded")
    expect(page.locator("[data-testid=stSidebarNav]")).to_be_visible(timeout=30000)
    page.wait_for_load_state("networkidle")
    expect(page.get_by_text("Импорт данных организации")).to_have_count(0)
    assert page.locator("input[type=file]").count() == 0
    page.goto(f"{app_url}/incidents?id={inc.id}", wait_until="domcontentloaded")
    expect(page.get_by_text(f"Заявка №{inc.id}", exact=True)).to_be_visible(timeout=30000)
    expect(page.get_by_role("button", name="Добавить заметку")).to_be_visible()
    expect(page.get_by_role("button", name="→ принята")).to_have_count(0)
    assert page.get_by_role("button", name="Отклонить").count() == 0
    # notes are the one thing an inspector writes
    page.get_by_label("Текст заметки").fill("Проверка: заявка принята с опозданием")
    page.get_by_role("button", name="Добавить заметку").click()
    expect(page.get_by_text("Проверка: заявка принята с опозданием")).to_be_visible(timeout=30000)
    with demo_engine.connect() as conn:
        assert conn.execute(text("SELECT author FROM incident_notes WHERE incident_id = :i"),
                            {"i": inc.id}).scalar_one() == "inspector"
        assert conn.execute(text("SELECT status FROM incidents WHERE id = :i"), {"i": inc.id}).scalar_one() == "new"
    page.goto(f"{app_url}/audit", wait_until="domcontentloaded")
    expect(page.get_by_role("heading", name="Журнал действий")).to_be_visible(timeout=30000)
    expect(page.get_by_text("заметка к заявке").first).to_be_attached(timeout=30000)  # a grid cell (drawn on a canvas)
    page.screenshot(path=str(ARTIFACTS / "audit.png"), full_page=True)


def test_a_session_survives_a_reload_and_ends_on_logout(anonymous_page, app_url: str) -> None:
    page = anonymous_page
    login(page, app_url, "operator")
    page.goto(f"{app_url}/incidents", wait_until="domcontentloaded")  # a page without a map: no rerun after load
    page.reload(wait_until="domcontentloaded")
    expect(page.get_by_text("Тест operator")).to_be_visible(timeout=30000)
    expect(page.get_by_role("heading", name="Заявки")).to_be_visible(timeout=30000)
    page.get_by_role("button", name="Выйти").click()
    expect(page.get_by_label("Логин")).to_be_visible(timeout=30000)
    page.reload(wait_until="domcontentloaded")
    expect(page.get_by_label("Логин")).to_be_visible(timeout=30000)
    assert page.locator("[data-testid=stSidebarNav]").count() == 0


def test_an_admin_disabling_an_account_ends_its_session(anonymous_page, app_url: str, demo_engine: Engine) -> None:
    from auth.model import Actor
    from ops import users

    page = anonymous_page
    users.add_user(Actor.cli("cli:tests"), "temp-planner", role="planner", password="temporary pass 1",
                   display_name="Тест temp-planner", bind=demo_engine)
    login(page, app_url, "temp-planner", password="temporary pass 1")
    page.wait_for_function(READY, timeout=30000)   # the landing page (its map) has settled: no run in flight
    users.set_active(Actor.cli("cli:tests"), "temp-planner", False, bind=demo_engine)
    page.get_by_text("Карта города").click()          # the next action
    expect(page.get_by_label("Логин")).to_be_visible(timeout=30000)
    expect(page.get_by_text("Сеанс завершён")).to_be_visible()


def test_the_admin_pages_create_a_user_who_can_sign_in(anonymous_page, app_url: str, demo_engine: Engine) -> None:
    page = anonymous_page
    login(page, app_url, "admin")
    page.goto(f"{app_url}/users", wait_until="domcontentloaded")
    form = page.locator("[data-testid=stForm]").filter(has_text="Новый пользователь")
    expect(form).to_be_visible(timeout=30000)
    form.get_by_role("textbox", name="Логин").fill("sidorova")
    form.get_by_label("ФИО").fill("Тест sidorova")
    form.get_by_label("Пароль (не короче 10 символов)").fill("short")
    form.get_by_role("button", name="Создать").click()
    expect(page.get_by_text("пароль из 5 знаков, нужно не меньше 10")).to_be_visible(timeout=30000)
    with demo_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM users WHERE login = 'sidorova'")).scalar_one() == 0
    form.get_by_role("textbox", name="Логин").fill("sidorova")
    form.get_by_label("ФИО").fill("Тест sidorova")
    form.get_by_label("Пароль (не короче 10 символов)").fill("long enough 10")
    form.get_by_role("button", name="Создать").click()
    expect(page.get_by_text("Пользователь sidorova создан.")).to_be_visible(timeout=30000)
    page.screenshot(path=str(ARTIFACTS / "users.png"), full_page=True)
    with demo_engine.connect() as conn:
        assert conn.execute(text("SELECT role, created_by FROM users WHERE login = 'sidorova'")).one() == \
            ("operator", "admin")
    assert PASSWORDS  # the other accounts are untouched
