"""The inspection page in headless Chromium: an inspector lands on it, sees the organisations ranked by
zone, and downloads the signed PDF report."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.ui.conftest import ARTIFACTS

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def organisations(demo_engine) -> None:
    from apps.demo.reports import create_organisations
    from reports.rules import current

    create_organisations(demo_engine, current(), seed=42)


@pytest.mark.role("inspector")
def test_an_inspector_sees_the_ranking_and_downloads_the_pdf(organisations, page, app_url: str) -> None:
    from pypdf import PdfReader

    page.goto(f"{app_url}/inspection", wait_until="domcontentloaded")
    expect(page.get_by_role("heading", name="Жилищная инспекция")).to_be_visible(timeout=30000)
    expect(page.get_by_text("Рейтинг организаций")).to_be_visible(timeout=30000)
    expect(page.get_by_text(re.compile(r"Организаций по зонам: зелёная — \d+"))).to_be_visible(timeout=30000)
    expect(page.locator("[data-testid=stDataFrame]").first).to_be_visible()
    expect(page.locator("iframe[title*='streamlit_folium']")).to_be_visible(timeout=30000)
    page.screenshot(path=str(ARTIFACTS / "inspection-page.png"), full_page=True)
    # the organisations' own actions, with their formulas, and the breaches that escalate now
    own = page.get_by_role("heading", name="Работа организаций: их собственные действия")
    expect(own).to_be_visible(timeout=30000)
    expect(page.get_by_role("heading", name="Просрочки организаций сейчас")).to_be_visible(timeout=30000)
    own.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "inspection-org-actions.png"))
    button = page.get_by_role("button", name="Отчёт PDF")
    expect(button).to_be_visible(timeout=30000)
    with page.expect_download(timeout=60000) as dl:
        button.click()
    download = dl.value
    assert re.fullmatch(r"inspection-\d{8}-\d{8}\.pdf", download.suggested_filename), download.suggested_filename
    path = ARTIFACTS / "inspection-report.pdf"
    download.save_as(path)
    reader = PdfReader(path)
    text = "\n".join(p.extract_text() for p in reader.pages)
    assert "Отчёт жилищной инспекции" in text and "Тест inspector" in text
    assert "ООО «УК Центральная»" in text                     # the ranking of the organisations
    assert f"Страница 1 из {len(reader.pages)}" in text and reader.pages[1].images
