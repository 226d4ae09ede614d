"""The Data page in headless Chromium: a bad file is refused with every problem named and nothing
written; a good GeoPackage loads with a progress bar and shows up in the counts."""
from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from settings import ROOT
from tests.ui.conftest import ARTIFACTS, settle_fill

pytestmark = pytest.mark.browser
SAMPLES = ROOT / "data" / "samples"


def networks(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT name FROM networks ORDER BY id")).scalars())


def test_import_bad_then_good_file(page, app_url: str, demo_engine: Engine) -> None:
    before = networks(demo_engine)
    page.goto(f"{app_url}/data", wait_until="domcontentloaded")
    page.get_by_text("Импорт данных организации").wait_for(timeout=30000)

    page.locator("input[type=file]").set_input_files(str(SAMPLES / "duplicate_ids.gpkg"))
    page.get_by_text("duplicate_ids.gpkg").first.wait_for(timeout=30000)
    page.wait_for_timeout(500)
    page.get_by_role("button", name="Проверить и загрузить").click()
    page.get_by_text("Файл не загружен — ничего не записано").wait_for(timeout=30000)
    assert "duplicate id 'P2'" in page.locator("[data-testid=stCode]").first.inner_text()
    assert networks(demo_engine) == before

    page.locator("input[type=file]").set_input_files(str(SAMPLES / "helsinki.gpkg"))
    page.get_by_text("helsinki.gpkg").first.wait_for(timeout=30000)
    settle_fill(page, page.get_by_label("Имя сети"), "Импорт из GeoPackage")
    page.get_by_role("button", name="Проверить и загрузить").click()
    page.get_by_text("Загружено:").wait_for(timeout=60000)
    page.screenshot(path=str(ARTIFACTS / "data-import.png"), full_page=True)
    assert networks(demo_engine) == [*before, "Импорт из GeoPackage"]
    with demo_engine.connect() as conn:
        pipes = conn.execute(text(
            "SELECT count(*) FROM pipes p JOIN networks n ON n.id = p.network_id WHERE n.name = 'Импорт из GeoPackage'"
        )).scalar_one()
    assert pipes > 0
