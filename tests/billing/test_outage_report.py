"""``python -m billing outage-report``: ГИС ЖКХ importOutageReportRequest files checked against the XSD."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import Engine, text

from billing.outage_report import BASE, NS, NSI, schema
from billing.rules_file import DEFAULT_RULES_FILE
from settings import ROOT
from tests.billing.city import Small, add_outage, build_small, msk, run_cli

X = {"o": NS, "b": BASE, "n": NSI}
ENV = {"ZHKH_BILLING_RULES_FILE": str(DEFAULT_RULES_FILE)}


def _cli(db_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": db_url, "ZHKH_BILLING_RULES_FILE": str(DEFAULT_RULES_FILE)}
    return subprocess.run([sys.executable, "-m", "billing", "outage-report", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.fixture()
def small(clean_engine: Engine) -> Small:
    return build_small(clean_engine)


def test_the_months_outages_as_a_valid_request(clean_engine: Engine, small: Small, db_url: str,
                                               tmp_path: Path, monkeypatch, capsys) -> None:
    out = tmp_path / "october.xml"
    res = _cli(db_url, "--from", "2026-10-01", "--to", "2026-10-31", "--out", str(out))
    assert res.returncode == 0, res.stderr
    doc = etree.parse(str(out))
    xsd = schema()
    assert xsd.validate(doc), xsd.error_log
    root = doc.getroot()
    assert root.tag == f"{{{NS}}}importOutageReportRequest" and root.get(f"{{{BASE}}}version") == "13.2.2.0"
    reports = root.findall("o:OutageReport", X)
    # A, B and C (C started on 30 Sep, ended on 1 Oct); not the cancelled one nor September's
    assert len(reports) == 3
    by_info = {r.findtext(".//o:AdditionalInfo", namespaces=X): r for r in reports}
    b = by_info[f"zhkh-ops outage #{small.outages['B']}; houses: 1"]
    data = b.find("o:PlacingOutageReport/o:OutageReportData", X)
    assert data.findtext("o:OutageKind/n:Code", namespaces=X) == "1"          # planned works
    assert data.findtext("o:OutageType", namespaces=X) == "SUSPENSION"
    assert [e.text for e in data.findall("o:ServiceCodes/o:ServiceCode", X)] == ["1"]   # cold water
    assert data.findtext("o:StartDate", namespaces=X) == "2026-10-10T15:00:00+03:00"
    assert data.findtext("o:EndDate", namespaces=X) == "2026-10-11T01:00:00+03:00"
    assert data.findtext("o:OutageReason/n:Code", namespaces=X) == "3"
    assert data.findtext("o:OutageReasonText", namespaces=X) == "Замена задвижки"
    # building 2 of outage B has no house GUID: only building 1 is named
    assert [e.text for e in b.findall(".//o:Houses/o:FIASHouseGuid", X)] == ["11111111-2222-3333-4444-555555555555"]
    a = by_info[f"zhkh-ops outage #{small.outages['A']}; houses: 1"]
    assert a.findtext(".//o:OutageKind/n:Code", namespaces=X) == "2"          # emergency
    assert a.findtext(".//o:OutageReasonText", namespaces=X).startswith("Аварийные работы")
    guids = [r.findtext("b:TransportGUID", namespaces=X) for r in reports]
    assert len(set(guids)) == 3
    # stable: the same outages give the same transport GUIDs
    again = tmp_path / "again.xml"
    assert run_cli(monkeypatch, capsys, db_url, "outage-report", "--from", "2026-10-01", "--to", "2026-10-31",
                   "--out", str(again), env=ENV)[0] == 0
    assert [r.findtext("b:TransportGUID", namespaces=X)
            for r in etree.parse(str(again)).getroot().findall("o:OutageReport", X)] == guids


def test_more_than_100_outages_split_into_files(clean_engine: Engine, small: Small, db_url: str,
                                               tmp_path: Path, monkeypatch, capsys) -> None:
    with clean_engine.begin() as conn:
        for i in range(205):
            add_outage(conn, small.network_id, [small.building_id], msk(2026, 11, 1 + i % 28, 8), msk(2026, 11, 1 + i % 28, 9),
                       reason=f"работы №{i}\x01<b>")
    out = tmp_path / "nov.xml"
    code, _, err = run_cli(monkeypatch, capsys, db_url, "outage-report", "--from", "2026-11-01", "--to", "2026-11-30",
                           "--out", str(out), env=ENV)
    assert code == 0, err
    files = [out, tmp_path / "nov-2.xml", tmp_path / "nov-3.xml"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in files)
    xsd = schema()
    counts = []
    for f in files:
        doc = etree.parse(str(f))
        assert xsd.validate(doc), xsd.error_log
        counts.append(len(doc.getroot().findall("o:OutageReport", X)))
        assert "<b>" not in f.read_text(encoding="utf-8")  # text is escaped
    assert counts == [100, 100, 5]


def test_the_schema_refuses_what_gis_would(tmp_path: Path) -> None:
    """The XSD is a real check: a report with an unknown service code or 101 reports fail it."""
    from billing.outage_report import OutageRow, build_request

    rows = [OutageRow(i, "emergency", "cold_water", "cw", "", msk(2026, 10, 1), None, ("11111111-2222-3333-4444-555555555555",), 1)
            for i in range(100)]
    xsd = schema()
    root = build_request(rows, msk(2026, 1, 1).tzinfo)
    assert xsd.validate(root)
    root.find(".//o:ServiceCode", X).text = "9"
    assert not xsd.validate(root)
    root.find(".//o:ServiceCode", X).text = "1"
    root.append(etree.fromstring(etree.tostring(root.find("o:OutageReport", X))))
    assert not xsd.validate(root)  # 101 reports
    bad_guid = build_request(rows[:1], msk(2026, 1, 1).tzinfo)
    bad_guid.find(".//o:FIASHouseGuid", X).text = "not-a-guid"
    assert not xsd.validate(bad_guid)


def test_bad_input_and_an_empty_range(clean_engine: Engine, small: Small, db_url: str, tmp_path: Path,
                                      monkeypatch, capsys) -> None:
    out = tmp_path / "r.xml"
    for args in (["--from", "2026-10-31", "--to", "2026-10-01"], ["--from", "2026-02-30", "--to", "2026-03-01"],
                 ["--from", "yesterday", "--to", "2026-03-01"], ["--from", "2026-10-01"],
                 ["--from", "2026-10-01", "--to", "2026-10-31", "--out", str(tmp_path / "no" / "dir.xml")]):
        full = [*args, "--out", str(out)] if "--out" not in args else args
        code, _, err = run_cli(monkeypatch, capsys, db_url, "outage-report", *full, env=ENV)
        assert code == 2, args
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert not out.exists()
    code, stdout, _ = run_cli(monkeypatch, capsys, db_url, "outage-report", "--from", "2027-01-01", "--to",
                              "2027-01-31", "--out", str(out), env=ENV)
    assert code == 0 and "no outages" in stdout and not out.exists()
    with clean_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM outages")).scalar() == 5
