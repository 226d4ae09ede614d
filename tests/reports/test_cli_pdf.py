"""``python -m reports``: the KPI JSON (every figure with numerator and denominator), one-line errors
with exit 2, and the signed PDF: its pages and page numbers, the map image, every report of the period."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pypdf
from sqlalchemy import Engine

from auth.model import Actor
from ops import inspection
from settings import ROOT
from tests.reports.conftest import FIRST, LAST, MSK, T0, Town, add_report, closed_after

FIGURES = ("on_time", "overdue_open", "median_close_h", "p90_close_h", "answer_5min", "reopened",
           "repeat_per_1000", "outage_excess_h")


def cli(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "reports", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "DATABASE_URL": db_url}, timeout=120)


def history(engine: Engine, town: Town) -> list[int]:
    ids = []
    with engine.begin() as conn:
        for k in range(30):
            ids.append(add_report(conn, org=town.mc if k % 3 else town.utility, created=T0 + timedelta(hours=20 * k),
                                  building=town.buildings[k % 3], category="repair" if k % 3 else "burst",
                                  priority="routine" if k % 3 else "emergency",
                                  steps=closed_after(5 + k)))
        ids.append(add_report(conn, org=town.mc2, created=datetime(2026, 3, 31, 23, 30, tzinfo=MSK),
                              building=town.buildings[2], category="elevator"))       # last half hour, still new
        add_report(conn, org=town.mc, created=datetime(2026, 4, 1, 0, 30, tzinfo=MSK), category="repair")  # April
    return ids


def test_kpis_json_names_every_figure_with_numerator_and_denominator(town: Town, clean_engine: Engine,
                                                                     db_url: str) -> None:
    history(clean_engine, town)
    out = cli(db_url, "kpis", "--from", FIRST, "--to", LAST, "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert (data["from"], data["to"], data["min_count"]) == (FIRST, LAST, 20)
    names = [o["name"] for o in data["organisations"]]
    assert names[0] == "whole service" and "ООО «УК Тест»" in names and len(names) == 5
    for o in data["organisations"]:
        for key in FIGURES:
            fig = o["kpis"][key]
            assert {"value", "numerator", "denominator", "zone", "formula", "status"} <= set(fig), (o["name"], key)
            assert "ids" not in fig and fig["formula"]
    service = data["organisations"][0]["kpis"]
    # the 10 bursts (4 h deadline) closed after 5 h and more are late; the 20 repairs (72 h) are not
    assert (service["on_time"]["numerator"], service["on_time"]["denominator"]) == (20, 30)
    assert service["counts"]["created"] == 31
    one = cli(db_url, "kpis", "--from", FIRST, "--to", LAST, "--org", str(town.mc), "--json")
    assert [o["id"] for o in json.loads(one.stdout)["organisations"]] == [town.mc]
    table = cli(db_url, "kpis", "--from", FIRST, "--to", LAST)
    assert table.returncode == 0 and "ООО «УК Тест»" in table.stdout


def test_bad_input_is_one_line_and_exit_2(town: Town, clean_engine: Engine, db_url: str, tmp_path: Path) -> None:
    for args, words in ((("kpis", "--from", "2026-03-31", "--to", "2026-03-01"), "before"),
                        (("kpis", "--from", "31.03.2026", "--to", LAST), "YYYY-MM-DD"),
                        (("kpis", "--from", FIRST, "--to", LAST, "--org", "999"), "no organisation with id 999"),
                        (("kpis", "--from", FIRST, "--to", LAST, "--org", "abc"), "whole number"),
                        (("kpis", "--from", FIRST), "--to"),
                        (("inspection", "--from", FIRST, "--to", LAST, "--bbox", "1,2,3", "--out",
                          str(tmp_path / "a.pdf")), "four numbers"),
                        (("inspection", "--from", FIRST, "--to", LAST, "--out", str(tmp_path / "no" / "a.pdf")),
                         "does not exist"),
                        (("monthly", "--period", "2026-13", "--out-dir", str(tmp_path)), "YYYY-MM")):
        out = cli(db_url, *args)
        assert out.returncode == 2, (args, out.stdout, out.stderr)
        assert len(out.stderr.strip().splitlines()) == 1 and words in out.stderr, (args, out.stderr)
        assert "Traceback" not in out.stderr
    assert not list(tmp_path.iterdir())        # nothing half-written


def test_the_pdf_has_numbered_pages_a_map_and_every_report_of_the_period(town: Town, clean_engine: Engine) -> None:
    ids = history(clean_engine, town)
    with clean_engine.begin() as conn:   # an outage of the period, with a building
        from sqlalchemy import text

        oid = conn.execute(text("""
            INSERT INTO outages (network_id, state, reason, pipe_ids, unintended_pipe_ids, valve_ids, optional_valve_ids,
                break_pipe_ids, planned_start, planned_end, actual_start, actual_end, created_by, approved_by, kind)
            VALUES (:n, 'restored', 'test', '{}', '{}', '{}', '{}', '{}', :s, :e, :s, :e, 't', 't', 'emergency')
            RETURNING id"""), {"n": town.network, "s": T0, "e": T0 + timedelta(hours=6.5)}).scalar_one()
        conn.execute(text("INSERT INTO outage_buildings (outage_id, building_id) VALUES (:o, :b)"),
                     {"o": oid, "b": town.buildings[0]})
    pdf = inspection.inspection_pdf(Actor.cli("cli:tests"), FIRST, LAST, lang="ru", author="Инспектор Тестова",
                                    bind=clean_engine)
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    n = len(reader.pages)
    assert n >= 5
    texts = [p.extract_text() for p in reader.pages]
    for i, page_text in enumerate(texts, start=1):
        assert f"Страница {i} из {n}" in page_text
    assert "Инспектор Тестова" in texts[0] and "01.03.2026 – 31.03.2026" in texts[0]
    images = list(reader.pages[1].images)
    assert images and images[0].image.size[0] > 500                      # the map, drawn on the server
    everything = "\n".join(texts)
    for i in ids:
        assert f"№{i}\n" in everything or f"№{i} " in everything, i
    assert "Формула" in everything and "В срок" in everything
    assert f"№{oid}" in everything and "6,5" in everything               # the outage with its hours (decimal comma in ru)
    english = inspection.inspection_pdf(Actor.cli("cli:tests"), FIRST, LAST, org_id=town.mc, lang="en",
                                        bind=clean_engine)
    en = pypdf.PdfReader(io.BytesIO(english))
    first_page = en.pages[0].extract_text()
    assert "ООО «УК Тест»" in first_page and "Page 1 of" in first_page
    en_text = "\n".join(p.extract_text() for p in en.pages)
    assert all(f"№{ids[k]}" in en_text for k in range(30) if k % 3)  # the company's reports …
    utility_ids = [ids[k] for k in range(0, 30, 3) if ids[k] != oid]            # … not the utility's
    assert not any(f"№{i} " in en_text or f"№{i}\n" in en_text for i in utility_ids)


def test_inspection_and_monthly_commands_write_pdfs(town: Town, clean_engine: Engine, db_url: str,
                                                    tmp_path: Path) -> None:
    history(clean_engine, town)
    out = cli(db_url, "inspection", "--from", FIRST, "--to", LAST, "--bbox", "24.93,60.16,24.95,60.18",
              "--out", str(tmp_path / "area.pdf"), "--lang", "en")
    assert out.returncode == 0, out.stderr
    assert len(pypdf.PdfReader(tmp_path / "area.pdf").pages) >= 5
    out = cli(db_url, "monthly", "--period", "2026-03", "--out-dir", str(tmp_path))
    assert out.returncode == 0, out.stderr
    made = sorted(p.name for p in tmp_path.glob("inspection-2026-03-org*.pdf"))
    assert made == sorted(f"inspection-2026-03-org{i}.pdf" for i in (town.mc, town.mc2, town.utility, town.contractor))
