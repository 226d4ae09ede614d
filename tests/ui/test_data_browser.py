"""The Data page (admin) in headless Chromium: a bad file is refused with every problem named and nothing
written; a good GeoPackage is previewed, then loaded; importing it again into the live network shows
the diff and needs an explicit confirmation; the demo reload needs the network's name typed out."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import Engine, text

from settings import ROOT
from tests.ui.conftest import ARTIFACTS, settle_fill

pytestmark = [pytest.mark.browser, pytest.mark.role("admin")]
SAMPLES = ROOT / "data" / "samples"


def networks(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT name FROM networks ORDER BY id")).scalars())


def audit_rows(engine: Engine, action: str) -> list[tuple[str, dict]]:
    with engine.connect() as conn:
        return [(r.actor, r.details) for r in conn.execute(text(
            "SELECT actor, details FROM audit_events WHERE action = :a ORDER BY id"), {"a": action})]


def test_import_bad_then_good_file_then_a_confirmed_reimport(page, app_url: str, demo_engine: Engine) -> None:
    before = networks(demo_engine)
    page.goto(f"{app_url}/data", wait_until="domcontentloaded")
    page.get_by_text("Импорт данных организации").wait_for(timeout=30000)

    page.locator("input[type=file]").set_input_files(str(SAMPLES / "duplicate_ids.gpkg"))
    page.get_by_text("duplicate_ids.gpkg").first.wait_for(timeout=30000)
    page.wait_for_timeout(500)
    page.get_by_role("button", name="Проверить файл и показать изменения").click()
    page.get_by_text("Файл не загружен — ничего не записано").wait_for(timeout=30000)
    assert "duplicate id 'P2'" in page.locator("[data-testid=stCode]").first.inner_text()
    assert networks(demo_engine) == before

    page.locator("input[type=file]").set_input_files(str(SAMPLES / "helsinki.gpkg"))
    page.get_by_text("helsinki.gpkg").first.wait_for(timeout=30000)
    expect(page.get_by_text("Файл не загружен — ничего не записано")).to_have_count(0, timeout=30000)
    settle_fill(page, page.get_by_label("Имя сети", exact=True), "Импорт из GeoPackage")
    page.get_by_role("button", name="Проверить файл и показать изменения").click()
    page.get_by_role("button", name="Проверить и загрузить").click()
    page.get_by_text("Загружено:").wait_for(timeout=60000)
    page.screenshot(path=str(ARTIFACTS / "data-import.png"), full_page=True)
    assert networks(demo_engine) == [*before, "Импорт из GeoPackage"]
    with demo_engine.connect() as conn:
        pipe_ids = dict(conn.execute(text(
            "SELECT p.ext_id, p.id FROM pipes p JOIN networks n ON n.id = p.network_id WHERE n.name = 'Импорт из GeoPackage'"
        )).all())
    assert pipe_ids
    [(actor, details)] = audit_rows(demo_engine, "data.import")
    assert actor == "admin" and details["file"] == "helsinki.gpkg" and len(details["checksum"]) == 64

    # the same file again under the same name: nothing changes, so nothing to confirm
    page.get_by_role("button", name="Проверить файл и показать изменения").click()
    expect(page.get_by_text("Файл совпадает с тем, что в базе: менять нечего.")).to_be_visible(timeout=60000)
    # another file under that live network's name: the diff, and nothing happens until it is confirmed
    page.locator("input[type=file]").set_input_files(str(SAMPLES / "pipes.geojson"))
    page.get_by_text("pipes.geojson").first.wait_for(timeout=30000)
    # the page has taken the new file when the previous file's verdict is gone
    expect(page.get_by_text("Файл совпадает с тем, что в базе: менять нечего.")).to_have_count(0, timeout=30000)
    page.get_by_role("button", name="Проверить файл и показать изменения").click()
    expect(page.get_by_text("Я просмотрел изменения")).to_be_visible(timeout=60000)
    expect(page.get_by_text("Что изменится в сети «Импорт из GeoPackage»")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "data-diff.png"), full_page=True)
    expect(page.get_by_role("button", name="Проверить и загрузить")).to_have_count(0)
    page.get_by_text("Я просмотрел изменения").click()
    page.get_by_role("button", name="Проверить и загрузить").click()
    page.get_by_text("Загружено:").wait_for(timeout=60000)
    with demo_engine.connect() as conn:
        kept = dict(conn.execute(text(
            "SELECT p.ext_id, p.id FROM pipes p JOIN networks n ON n.id = p.network_id WHERE n.name = 'Импорт из GeoPackage'"
        )).all())
    assert {e: i for e, i in kept.items() if e in pipe_ids} == {e: i for e, i in pipe_ids.items() if e in kept}
    assert len(audit_rows(demo_engine, "data.import")) == 2


def test_the_demo_reload_needs_the_name_typed_out(page, app_url: str, demo_engine: Engine) -> None:
    from settings import get_settings

    name = get_settings().demo_network_name
    page.goto(f"{app_url}/data", wait_until="domcontentloaded")
    button = page.get_by_role("button", name="Загрузить / перезагрузить демо-город")
    expect(button).to_be_disabled(timeout=30000)
    box = page.get_by_label(f"Чтобы перезагрузить, введите имя сети: {name}")
    settle_fill(page, box, "Helsinki")
    expect(button).to_be_disabled()
    settle_fill(page, box, name)
    box.press("Enter")
    expect(button).to_be_enabled(timeout=10000)
    button.click()
    expect(page.get_by_text("Демо-город загружен")).to_be_visible(timeout=120000)
    [(actor, details)] = audit_rows(demo_engine, "demo.reload")
    assert actor == "admin" and details["network"] == name
