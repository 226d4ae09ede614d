"""The report's drawing half (``reports.pdf.render``) from plain data built here: no database. What the
area holds is the query's business (``test_cli_pdf.py`` covers both halves together)."""
from __future__ import annotations

import io
from datetime import datetime, timedelta

import pypdf
from shapely.geometry import LineString, Polygon

from incidents.sla import load_rules
from reports import kpis, pdf
from reports.inspection_model import InspectionData, MapLayers
from reports.rules import DEFAULT_FILE, load
from settings import ROOT
from tests.reports.conftest import MSK

NOW = datetime(2026, 4, 20, 12, 0, tzinfo=MSK)


def _data(*, org: dict | None = None) -> InspectionData:
    sla = load_rules(ROOT / "incidents" / "rules" / "default.yaml")
    rules = load(DEFAULT_FILE)
    p = kpis.period("2026-03-01", "2026-03-31", "Europe/Moscow")
    created = datetime(2026, 3, 2, 9, 0, tzinfo=MSK)
    report = kpis.Report(7, "leak", "leak", "urgent", "resolved", 1, None, created, "Тестовая 1", None,
                         events=[(created + timedelta(hours=2), "new", "resolved")], due=created + timedelta(hours=72))
    figures = kpis.figures([], [report], {1: {"address": "Тестовая 1", "mc": None, "flats": 10.0, "utilities": []}},
                           {}, p, sla, rules, now=NOW)
    start = datetime(2026, 3, 5, 8, 0, tzinfo=MSK)
    return InspectionData(
        period=p, now=NOW, org=org, bbox=None, kpis=figures, min_count=rules.min_count, reports={7: report},
        report_rows=[{"id": 7, "category": "leak", "priority": "urgent", "status": "resolved", "address": "Тестовая 1",
                      "created_at": created, "short_name": None}],
        outage_rows=[{"id": 3, "kind": "emergency", "reason": "test", "actual_start": start,
                      "actual_end": start + timedelta(hours=6.5), "network": "demo cw", "resource": "cold_water",
                      "buildings": 1, "residents": 12, "addresses": "Тестовая 1"}],
        map=MapLayers(buildings=[(1, Polygon([(0, 0), (40, 0), (40, 30), (0, 30)]).wkb)],
                      pipes=[LineString([(-50, 50), (150, 50)]).wkb], outages=[LineString([(0, 50), (60, 50)]).wkb],
                      reports=[("urgent", 20.0, 15.0)], corners=(-100.0, -100.0, 200.0, 150.0)),
        building_zones={1: None}, demo_network_name="demo cw")


def test_render_draws_the_data_it_is_given() -> None:
    reader = pypdf.PdfReader(io.BytesIO(pdf.render(_data(), lang="ru", author="Инспектор Тестова")))
    n = len(reader.pages)
    texts = [page.extract_text() for page in reader.pages]
    assert all(f"Страница {i} из {n}" in t for i, t in enumerate(texts, start=1))
    assert "Инспектор Тестова" in texts[0] and "01.03.2026 – 31.03.2026" in texts[0]
    assert list(reader.pages[1].images)                                  # the map
    everything = "\n".join(texts)
    assert "№7" in everything and "№3" in everything and "6,5" in everything


def test_render_names_the_demo_network_and_the_organisation_in_the_language_asked() -> None:
    org = {"id": 5, "kind": "management_company", "name": "ООО «УК Тест»", "inn": "7701234560"}
    reader = pypdf.PdfReader(io.BytesIO(pdf.render(_data(org=org), lang="en")))
    everything = "\n".join(page.extract_text() for page in reader.pages)
    assert "ООО «УК Тест»" in everything and "Page 1 of" in everything
    assert "demo cw" not in everything                                   # shown by its name in English
