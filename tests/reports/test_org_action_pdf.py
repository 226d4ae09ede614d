"""The inspection PDF shows the KPIs from the organisations' own actions: the whole service's table holds
them with their formulas, and a table gives each organisation's (read back with pdftotext)."""
from __future__ import annotations

import subprocess
from datetime import datetime, timedelta

from sqlalchemy import Engine, text

from auth.model import Actor
from ops import inspection
from tests.ui.conftest import ARTIFACTS
from tests.reports.conftest import FIRST, LAST, MSK, T0, Town, add_report, closed_after

CLI = Actor.cli("cli:tests")
NOW = datetime(2026, 4, 20, 12, 0, tzinfo=MSK)


def _pdf_text(data: bytes, tmp_path, name: str) -> str:
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / name).write_bytes(data)          # to look at (pdftoppm)
    path = tmp_path / name
    path.write_bytes(data)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True,
                          text=True).stdout


def test_the_pdf_holds_the_organisations_own_figures(town: Town, clean_engine: Engine, tmp_path) -> None:
    with clean_engine.begin() as conn:
        for k, (accept_h, rating) in enumerate(((1, 5), (3, 4), (2, 3))):
            rid = add_report(conn, org=town.mc, created=T0 + timedelta(hours=k), steps=closed_after(10))
            conn.execute(text("""
                UPDATE incidents SET org_state = 'resolved', org_accepted_at = created_at + make_interval(hours => :a),
                       org_resolved_at = created_at + interval '10 hours', resident_rating = :r,
                       resident_rated_at = created_at + interval '1 day' WHERE id = :i
            """), {"a": accept_h, "r": rating, "i": rid})
    ru = _pdf_text(inspection.inspection_pdf(CLI, FIRST, LAST, now=NOW, bind=clean_engine), tmp_path,
                   "inspection-org-actions-ru.pdf")
    assert "Работа организаций по их собственным действиям" in ru
    for name in ("Принятие организацией, медиана, ч", "Выезд в назначенное время", "Выполнение организацией, медиана, ч",
                 "Возвраты «не наше»", "Оценка жителей, средняя (1–5)"):
        assert name in ru, name
    assert "ООО «УК Тест»" in ru and "4,00" in ru and "12 / 3" in ru     # mean 4 = 12 / 3 ratings
    assert "сумма оценок жителей" in ru                                  # the formula is published
    en = _pdf_text(inspection.inspection_pdf(CLI, FIRST, LAST, lang="en", now=NOW, bind=clean_engine), tmp_path,
                   "inspection-org-actions-en.pdf")
    assert "The organisations' work from their own actions" in en and "Residents' rating, mean (1–5)" in en
    assert "Оценка" not in en
