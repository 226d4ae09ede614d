"""Exports of a plan for people: the crew sheet PDF (Cyrillic, every valve with 6-decimal coordinates,
page numbers), CSV with headers in the page's language and the report's number, file names with the
report and the time, GeoJSON with the buildings."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timezone

import geopandas as gpd
from shapely import box

from network.plan import plan_shutoff
from tests.network.test_plan import NET, lookups
from views.exports import SheetContext, addresses_csv, crew_csv, crew_pdf, plan_geojson
from views.plan_map import of_plan

CTX = SheetContext(made_at=datetime(2026, 11, 27, 12, 5, tzinfo=timezone.utc), timezone="Europe/Helsinki",
                   incident_id=12, outage_id=3, where="Mannerheimintie 5")


def shape():  # type: ignore[no-untyped-def]
    return of_plan(plan_shutoff(NET, "P2", **lookups()), {})


def test_file_names_carry_the_report_the_outage_and_the_local_time() -> None:
    assert CTX.file_name("crew-sheet", "pdf") == "crew-sheet_report-12_outage-3_2026-11-27_1405.pdf"
    assert SheetContext(made_at=CTX.made_at, timezone="UTC").file_name("addresses", "csv") == "addresses_2026-11-27_1205.csv"


def test_crew_csv_has_translated_headers_the_report_and_6_decimal_coordinates() -> None:
    rows = list(csv.reader(io.StringIO(crew_csv(shape(), CTX).decode("utf-8-sig"))))
    assert rows[0][:5] == ["Заявка №", "Отключение №", "Дата", "№ п/п", "Задвижка"]
    body = rows[1:]
    assert len(body) == len(shape().valves) + len(shape().optional) and body
    assert all(r[0] == "12" and r[1] == "3" and r[2] == "27.11.2026 14:05" for r in body)
    lat_col = rows[0].index("Широта")
    assert all(len(r[lat_col].split(".")[1]) == 6 for r in body if r[lat_col])
    assert [r[5] for r in body].count("закрыть") == len(shape().valves)
    addresses = list(csv.reader(io.StringIO(addresses_csv(shape(), CTX).decode("utf-8-sig"))))
    assert addresses[0][3:] == ["Адрес", "Тип", "Жителей", "Отрезан попутно"] and len(addresses) > 1


def test_crew_pdf_is_a_printable_sheet_in_russian() -> None:
    from pypdf import PdfReader

    pdf = crew_pdf(shape(), CTX)
    reader = PdfReader(io.BytesIO(pdf))
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "Лист бригады — отключение №3 · заявка №12" in text
    assert "Место аварии: Mannerheimintie 5" in text and "стр. 1" in text
    for v in shape().valves:
        assert str(v.get("ext_id") or v["id"]) in text and f"{float(v['lat']):.6f}" in text


def test_geojson_carries_the_buildings_too() -> None:
    s = shape()
    footprints = gpd.GeoDataFrame({"id": [int(b["id"]) for b in s.buildings]},
                                  geometry=[box(24.94, 60.17, 24.941, 60.171)] * len(s.buildings), crs="EPSG:4326")
    gj = plan_geojson(s, footprints)
    buildings = [f for f in gj["features"] if f["properties"]["role"] == "building"]
    assert len(buildings) == len(s.buildings) and buildings[0]["geometry"]["type"] == "Polygon"
    assert {"address", "kind", "residents", "unintended"} <= set(buildings[0]["properties"])
