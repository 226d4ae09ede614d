"""``python -m billing outage-report``: ГИС ЖКХ importOutageReportRequest files valid against the official
schema set (``billing/schemas/gis-zhkh``) with two validators, and the lifecycle placing → edit → annulment
remembered in ``gis_outage_reports``."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import Engine, text

from billing.gis_nsi import DEMO_NSI_FILE
from billing.outage_report import BASE, NS, NSI, SCHEMA_DIR, schema_errors
from billing.rules_file import DEFAULT_RULES_FILE
from settings import ROOT
from tests.billing.city import Small, add_outage, build_small, msk, run_cli

X = {"o": NS, "b": BASE, "n": NSI}
ENV = {"ZHKH_BILLING_RULES_FILE": str(DEFAULT_RULES_FILE), "ZHKH_GIS_NSI_FILE": str(DEMO_NSI_FILE)}
HOUSE_1 = "11111111-2222-3333-4444-555555555555"


def _cli(db_url: str, *args: str, command: str = "outage-report") -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": db_url, **ENV}
    return subprocess.run([sys.executable, "-m", "billing", command, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def _both_accept(path_or_bytes: Path | bytes) -> None:
    data = path_or_bytes.read_bytes() if isinstance(path_or_bytes, Path) else path_or_bytes
    errors = schema_errors(data)
    assert errors == {"lxml": None, "xmlschema": None}, errors


def _reports(path: Path) -> list:
    return etree.parse(str(path)).getroot().findall("o:OutageReport", X)


def _sent(engine: Engine) -> dict[int, dict]:
    with engine.connect() as conn:
        return {r.outage_id: r._asdict() for r in conn.execute(text("SELECT * FROM gis_outage_reports"))}


@pytest.fixture()
def small(clean_engine: Engine) -> Small:
    return build_small(clean_engine)


def test_the_schema_set_is_the_official_one_unchanged() -> None:
    """The repository carries the published files byte for byte (the git blob hashes its README.txt lists
    for the source files)."""
    readme = (SCHEMA_DIR / "README.txt").read_text(encoding="utf-8")
    files = sorted(p.relative_to(SCHEMA_DIR).as_posix() for p in SCHEMA_DIR.rglob("*.xsd"))
    assert files == ["lib/hcs-base.xsd", "lib/hcs-nsi-base.xsd", "lib/hcs-organizations-base.xsd",
                     "lib/hcs-premises-base.xsd", "lib/xmldsig-core-schema.xsd",
                     "outage-report/hcs-outage-report-types.xsd"]
    for rel in files:
        data = (SCHEMA_DIR / rel).read_bytes()
        blob = subprocess.run(["git", "hash-object", "--stdin"], input=data, capture_output=True, check=True)
        line = next(ln for ln in readme.splitlines() if ln.startswith(rel + " "))
        assert line.split()[-1] == blob.stdout.decode().strip(), rel
    code = (ROOT / "billing" / "outage_report.py").read_text(encoding="utf-8")
    assert "shared" not in code


def test_the_months_planned_outage_placed_emergencies_listed(clean_engine: Engine, small: Small, db_url: str,
                                                            tmp_path: Path, monkeypatch, capsys) -> None:
    out = tmp_path / "october.xml"
    res = _cli(db_url, "--from", "2026-10-01", "--to", "2026-10-31", "--out", str(out))
    assert res.returncode == 0, res.stderr
    _both_accept(out)
    text_ = out.read_text(encoding="utf-8")
    assert "ДЕМО / DEMO" in text_ and "FIASHouseGuid" not in text_        # the demo НСИ file is marked
    root = etree.parse(str(out)).getroot()
    assert root.tag == f"{{{NS}}}importOutageReportRequest" and root.get(f"{{{BASE}}}version") == "13.2.2.0"
    reports = root.findall("o:OutageReport", X)
    # B is the only planned one; A and C (C started on 30 Sep, ended on 1 Oct) are emergencies
    assert len(reports) == 1
    data = reports[0].find("o:PlacingOutageReport/o:OutageReportData", X)
    nsi = json.loads(DEMO_NSI_FILE.read_text(encoding="utf-8"))["registries"]
    assert data.findtext("o:OutageKind/n:Code", namespaces=X) == "1"          # 361: «Плановый» only
    assert data.findtext("o:OutageKind/n:GUID", namespaces=X) == nsi["361"]["elements"][0]["guid"]
    assert data.findtext("o:OutageType", namespaces=X) == "SUSPENSION"
    assert [e.text for e in data.findall("o:ServiceCodes/o:ServiceCode", X)] == ["1"]   # cold water
    assert data.findtext("o:StartDate", namespaces=X) == "2026-10-10T15:00:00+03:00"
    assert data.findtext("o:EndDate", namespaces=X) == "2026-10-11T01:00:00+03:00"
    assert data.findtext("o:OutageReason/n:Code", namespaces=X) == "3"
    assert data.findtext("o:OutageReasonText", namespaces=X) == "Замена задвижки"
    assert f"zhkh-ops outage #{small.outages['B']}; houses: 1" in data.findtext("o:AdditionalInfo", namespaces=X)
    # building 2 of outage B has no house GUID: only building 1 is named
    assert [e.text for e in reports[0].findall(".//o:Houses/o:FiasHouseGUID", X)] == [HOUSE_1]
    # the emergencies are listed for the operator, one line each, not sent silently
    notes = [ln for ln in res.stderr.splitlines() if ln.startswith("note: emergency outage")]
    assert sorted(int(ln.split("#")[1].split()[0]) for ln in notes) == sorted([small.outages["A"], small.outages["C"]])
    assert "2 emergency outage(s) not sent" in res.stdout
    sent = _sent(clean_engine)
    assert list(sent) == [small.outages["B"]]
    row = sent[small.outages["B"]]
    assert row["operation"] == "placing" and row["sent_version"] == 1 and row["report_guid"] is None
    assert str(row["transport_guid"]) == reports[0].findtext("b:TransportGUID", namespaces=X)
    assert row["file"] == str(out) and row["nsi_demo"] is True
    # a rerun sends nothing: nothing changed
    again = tmp_path / "again.xml"
    code, stdout, _ = run_cli(monkeypatch, capsys, db_url, "outage-report", "--from", "2026-10-01", "--to",
                              "2026-10-31", "--out", str(again), env=ENV)
    assert code == 0 and "nothing to send" in stdout and "1 unchanged" in stdout and not again.exists()


def test_more_than_100_outages_split_into_files(clean_engine: Engine, small: Small, db_url: str,
                                               tmp_path: Path, monkeypatch, capsys) -> None:
    with clean_engine.begin() as conn:
        for i in range(205):
            add_outage(conn, small.network_id, [small.building_id], msk(2026, 11, 1 + i % 28, 8),
                       msk(2026, 11, 1 + i % 28, 9), kind="planned", reason=f"работы №{i}\x01<b>")
    out = tmp_path / "nov.xml"
    code, _, err = run_cli(monkeypatch, capsys, db_url, "outage-report", "--from", "2026-11-01", "--to", "2026-11-30",
                           "--out", str(out), env=ENV)
    assert code == 0, err
    files = [out, tmp_path / "nov-2.xml", tmp_path / "nov-3.xml"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in files)
    counts = []
    for f in files:
        _both_accept(f)
        counts.append(len(_reports(f)))
        assert "<b>" not in f.read_text(encoding="utf-8")  # text is escaped
    assert counts == [100, 100, 5]
    assert len(_sent(clean_engine)) == 205


def _hand_made(version: str = "13.2.2.0", house_tag: str = "FiasHouseGUID", code: str = "1",
               transport: tuple[str, str] = ("11111111-0000-0000-0000-000000000001",
                                             "11111111-0000-0000-0000-000000000002")) -> bytes:
    reports = "".join(f"""
  <OutageReport><base:TransportGUID>{t}</base:TransportGUID><PlacingOutageReport><OutageReportData>
    <OutageKind><nsi-base:Code>{code}</nsi-base:Code><nsi-base:GUID>{HOUSE_1}</nsi-base:GUID></OutageKind>
    <OutageType>SUSPENSION</OutageType><ServiceCodes><ServiceCode>1</ServiceCode></ServiceCodes>
    <StartDate>2026-10-10T15:00:00+03:00</StartDate>
    <OutageReason><nsi-base:Code>3</nsi-base:Code><nsi-base:GUID>{HOUSE_1}</nsi-base:GUID></OutageReason>
    <OutageReasonText>Замена задвижки</OutageReasonText></OutageReportData>
    <OutageReportObjects><Houses><{house_tag}>{HOUSE_1}</{house_tag}></Houses></OutageReportObjects>
  </PlacingOutageReport></OutageReport>""" for t in transport)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<importOutageReportRequest xmlns="{NS}" xmlns:base="{BASE}" xmlns:nsi-base="{NSI}" Id="x" base:version="{version}">
{reports}
</importOutageReportRequest>""".encode()


def test_hand_made_invalid_documents_are_refused_by_both_validators() -> None:
    _both_accept(_hand_made())
    # the issue's two failures: the hand-written XSDs' element name, and a wrong version
    bad_house = schema_errors(_hand_made(house_tag="FIASHouseGuid"))
    assert bad_house["lxml"] and bad_house["xmlschema"], bad_house
    assert "FIASHouseGuid" in bad_house["lxml"] and "FIASHouseGuid" in bad_house["xmlschema"]
    wrong_version = schema_errors(_hand_made(version="13.2.1.0"))
    assert wrong_version["xmlschema"] and "13.2.2.0" in wrong_version["xmlschema"], wrong_version
    # libxml2 alone lets the wrong version through: that is why the export runs both
    assert wrong_version["lxml"] is None
    # both defects at once: refused by both
    both = schema_errors(_hand_made(version="13.2.1.0", house_tag="FIASHouseGuid"))
    assert both["lxml"] and both["xmlschema"], both
    # the nsiRef/Code pattern and the xs:key on TransportGUID
    bad_code = schema_errors(_hand_made(code="Плановый"))
    assert bad_code["lxml"] and bad_code["xmlschema"], bad_code
    same = "11111111-0000-0000-0000-000000000001"
    dup = schema_errors(_hand_made(transport=(same, same)))
    assert dup["lxml"] and dup["xmlschema"], dup


def test_an_invalid_document_is_refused_with_one_line_and_nothing_written(
        clean_engine: Engine, small: Small, db_url: str, tmp_path: Path, monkeypatch, capsys) -> None:
    import billing.outage_report as rep

    out = tmp_path / "r.xml"
    for attr, value, needle in (("VERSION", "13.2.1.0", "xmlschema"), ("HOUSE_TAG", "FIASHouseGuid", "lxml")):
        with monkeypatch.context() as m:
            m.setattr(rep, attr, value)
            code, stdout, err = run_cli(monkeypatch, capsys, db_url, "outage-report", "--from", "2026-10-01",
                                        "--to", "2026-10-31", "--out", str(out), env=ENV)
        assert code == 2 and stdout == "", (attr, err)
        assert len(err.strip().splitlines()) == 1 and "official ГИС ЖКХ schema" in err and needle in err, err
        assert not list(tmp_path.iterdir()) and _sent(clean_engine) == {}


def _result(entries: list[tuple[str, str | None, str | None]]) -> bytes:
    """A getStateResult of the outage-report service: (TransportGUID, GUID, error code or None)."""
    items = []
    for transport, guid, error in entries:
        if error:
            items.append(f"<ImportResult><base:TransportGUID>{transport}</base:TransportGUID><base:Error>"
                         f"<base:ErrorCode>{error}</base:ErrorCode><base:Description>Ошибка</base:Description>"
                         "</base:Error></ImportResult>")
        else:
            items.append(f"<ImportResult><base:GUID>{guid}</base:GUID><base:TransportGUID>{transport}"
                         "</base:TransportGUID><base:UpdateDate>2026-12-01T10:00:00+03:00</base:UpdateDate>"
                         "</ImportResult>")
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<getStateResult xmlns="{NS}" xmlns:base="{BASE}" '
            f'base:version="13.2.0.1"><base:RequestState>3</base:RequestState><base:MessageGUID>'
            f'{uuid.uuid4()}</base:MessageGUID>{"".join(items)}</getStateResult>').encode()


def test_placing_edit_annulment_round_trip(clean_engine: Engine, small: Small, db_url: str, tmp_path: Path,
                                           monkeypatch, capsys) -> None:
    """A planned outage placed; the service's GUID recorded; a new end and a grown area → an edit with that
    GUID; cancelled → an annulment with the reason; every file valid with both validators."""
    from auth.model import Actor
    from ops import outages as outage_ops

    with clean_engine.begin() as conn:
        oid = add_outage(conn, small.network_id, [small.building_id], None, None, kind="planned", state="planned",
                         reason="Промывка сети")
        conn.execute(text("UPDATE outages SET planned_start = :s, planned_end = :e WHERE id = :o"),
                     {"s": msk(2026, 12, 20, 9), "e": msk(2026, 12, 20, 13), "o": oid})
        conn.execute(text("UPDATE buildings SET house_guid = 'aaaaaaaa-2222-3333-4444-555555555555' WHERE id = :b"),
                     {"b": small.other_building_id})
        conn.execute(text("DELETE FROM outage_buildings WHERE outage_id = :o AND building_id <> :b"),
                     {"o": oid, "b": small.building_id})
    args = ["--from", "2026-12-01", "--to", "2026-12-31"]

    def cli(*argv: str, command: str = "outage-report") -> subprocess.CompletedProcess:
        code, stdout, stderr = run_cli(monkeypatch, capsys, db_url, command, *argv, env=ENV)
        return subprocess.CompletedProcess([command, *argv], code, stdout, stderr)

    # 1. placing
    r1 = cli(*args, "--out", str(tmp_path / "1.xml"))
    assert r1.returncode == 0 and "placing 1, edit 0, annulment 0" in r1.stdout, r1.stdout + r1.stderr
    _both_accept(tmp_path / "1.xml")
    (placing,) = _reports(tmp_path / "1.xml")
    assert placing.find("o:PlacingOutageReport", X) is not None
    transport1 = placing.findtext("b:TransportGUID", namespaces=X)

    # 2. the outage changes before the service answered: listed, not sent (its GUID is the service's)
    outage_ops.reschedule(Actor.cli("cli:test"), oid, planned_end=msk(2026, 12, 20, 18), reason="больше работ",
                          bind=clean_engine)
    r2 = cli(*args, "--out", str(tmp_path / "2.xml"))
    assert r2.returncode == 0 and not (tmp_path / "2.xml").exists(), r2.stderr
    assert f"note: outage #{oid} changed" in r2.stderr and "outage-report-result" in r2.stderr

    # 3. the service's answer: the GUID it gave the report (the result file is checked against the schema too)
    report_guid = "c0ffee00-1111-4222-8333-444455556666"
    (tmp_path / "state1.xml").write_bytes(_result([(transport1, report_guid, None)]))
    _both_accept(tmp_path / "state1.xml")
    r3 = cli(str(tmp_path / "state1.xml"), command="outage-report-result")
    assert r3.returncode == 0 and "1 report(s) accepted" in r3.stdout, r3.stderr
    assert str(_sent(clean_engine)[oid]["report_guid"]) == report_guid

    # 4. new end (above) and a grown area → EditOutageReport with the same OutageReportGUID
    with clean_engine.begin() as conn:
        conn.execute(text("INSERT INTO outage_buildings (outage_id, building_id) VALUES (:o, :b)"),
                     {"o": oid, "b": small.other_building_id})
    r4 = cli(*args, "--out", str(tmp_path / "4.xml"))
    assert r4.returncode == 0 and "placing 0, edit 1, annulment 0" in r4.stdout, r4.stdout + r4.stderr
    _both_accept(tmp_path / "4.xml")
    (edit,) = _reports(tmp_path / "4.xml")
    e = edit.find("o:EditOutageReport", X)
    assert e.findtext("o:OutageReportGUID", namespaces=X) == report_guid
    assert e.findtext("o:OutageReportData/o:EndDate", namespaces=X) == "2026-12-20T18:00:00+03:00"
    assert sorted(h.text for h in e.findall(".//o:FiasHouseGUID", X)) == sorted(
        [HOUSE_1, "aaaaaaaa-2222-3333-4444-555555555555"])
    transport4 = edit.findtext("b:TransportGUID", namespaces=X)
    assert transport4 != transport1
    row = _sent(clean_engine)[oid]
    assert (row["operation"], row["sent_version"], str(row["transport_guid"])) == ("edit", 2, transport4)

    # a rerun sends nothing
    r5 = cli(*args, "--out", str(tmp_path / "5.xml"))
    assert r5.returncode == 0 and "nothing to send" in r5.stdout and not (tmp_path / "5.xml").exists()

    # 5. the service refuses the edit: the next export sends it again, same GUID
    (tmp_path / "state2.xml").write_bytes(_result([(transport4, None, "INT002012")]))
    r6 = cli(str(tmp_path / "state2.xml"), command="outage-report-result")
    assert r6.returncode == 0 and "1 refused" in r6.stdout and "INT002012" in r6.stderr, r6.stderr
    r7 = cli(*args, "--out", str(tmp_path / "7.xml"))
    assert "edit 1" in r7.stdout, r7.stdout + r7.stderr
    (edit_again,) = _reports(tmp_path / "7.xml")
    assert edit_again.findtext("o:EditOutageReport/o:OutageReportGUID", namespaces=X) == report_guid

    # 6. cancelled → AnnulmentOutageReport with the reason of the cancellation
    outage_ops.cancel(Actor.cli("cli:test"), oid, reason="Работы перенесены на весну", bind=clean_engine)
    r8 = cli(*args, "--out", str(tmp_path / "8.xml"))
    assert r8.returncode == 0 and "placing 0, edit 0, annulment 1" in r8.stdout, r8.stdout + r8.stderr
    _both_accept(tmp_path / "8.xml")
    (ann,) = _reports(tmp_path / "8.xml")
    a = ann.find("o:AnnulmentOutageReport", X)
    assert a.findtext("o:OutageReportGUID", namespaces=X) == report_guid
    assert a.findtext("o:AnnulmentReason", namespaces=X) == "Работы перенесены на весну"
    assert _sent(clean_engine)[oid]["operation"] == "annulment"
    r9 = cli(*args, "--out", str(tmp_path / "9.xml"))
    assert r9.returncode == 0 and "nothing to send" in r9.stdout and not (tmp_path / "9.xml").exists()
    with clean_engine.connect() as conn:
        exports = conn.execute(text("SELECT count(*) FROM audit_events WHERE action = 'billing.export'")).scalar()
    assert exports == 6   # 4 files written + 2 results read


def test_nsi_file_from_the_operator(clean_engine: Engine, small: Small, db_url: str, tmp_path: Path,
                                   monkeypatch, capsys) -> None:
    """A registry export: its GUIDs reach the file, a planned reason named like the outage's is used without
    text, and the file is not marked as demo; a broken НСИ file is refused with one line."""
    kind_guid, reason_guid, other_guid = (str(uuid.uuid4()) for _ in range(3))
    nsi = {"source": "exportNsiItem 361/360", "registries": {
        "361": {"elements": [{"code": "1", "guid": kind_guid, "name": "Плановый"},
                             {"code": "2", "guid": str(uuid.uuid4()), "name": "Аварийный"}]},
        "360": {"elements": [{"code": "3", "guid": other_guid, "name": "Иная", "outage_kind": "1"},
                             {"code": "1", "guid": reason_guid, "name": "Замена задвижки", "outage_kind": "1"}]}}}
    path = tmp_path / "nsi.json"
    path.write_text(json.dumps(nsi, ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "r.xml"
    code, stdout, err = run_cli(monkeypatch, capsys, db_url, "outage-report", "--from", "2026-10-01", "--to",
                                "2026-10-31", "--out", str(out), "--nsi", str(path), env=ENV)
    assert code == 0, err
    _both_accept(out)
    data = _reports(out)[0].find(".//o:OutageReportData", X)
    assert data.findtext("o:OutageKind/n:GUID", namespaces=X) == kind_guid
    assert data.findtext("o:OutageReason/n:Code", namespaces=X) == "1"
    assert data.findtext("o:OutageReason/n:GUID", namespaces=X) == reason_guid
    assert data.find("o:OutageReasonText", X) is None
    assert "DEMO" not in out.read_text(encoding="utf-8") and "DEMO" not in stdout
    assert _sent(clean_engine)[small.outages["B"]]["nsi_demo"] is False
    for broken in ({"registries": {"361": {"elements": []}, "360": nsi["registries"]["360"]}},
                   {"registries": {**nsi["registries"], "360": {"elements": [{"code": "3", "guid": "x", "name": "Иная",
                                                                               "outage_kind": "1"}]}}},
                   "not json"):
        path.write_text(broken if isinstance(broken, str) else json.dumps(broken), encoding="utf-8")
        code, stdout, err = run_cli(monkeypatch, capsys, db_url, "outage-report", "--from", "2026-10-01", "--to",
                                    "2026-11-30", "--out", str(tmp_path / "x.xml"), "--nsi", str(path), env=ENV)
        assert code == 2 and len(err.strip().splitlines()) == 1 and str(path) in err, err
        assert not (tmp_path / "x.xml").exists()


def test_bad_input_and_an_empty_range(clean_engine: Engine, small: Small, db_url: str, tmp_path: Path,
                                      monkeypatch, capsys) -> None:
    out = tmp_path / "r.xml"
    for args in (["--from", "2026-10-31", "--to", "2026-10-01"], ["--from", "2026-02-30", "--to", "2026-03-01"],
                 ["--from", "yesterday", "--to", "2026-03-01"], ["--from", "2026-10-01"],
                 ["--from", "2026-10-01", "--to", "2026-10-31", "--out", str(tmp_path / "no" / "dir.xml")],
                 ["--from", "2026-10-01", "--to", "2026-10-31", "--nsi", str(tmp_path / "missing.json")]):
        full = [*args, "--out", str(out)] if "--out" not in args else args
        code, _, err = run_cli(monkeypatch, capsys, db_url, "outage-report", *full, env=ENV)
        assert code == 2, args
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert not out.exists() and _sent(clean_engine) == {}
    code, stdout, _ = run_cli(monkeypatch, capsys, db_url, "outage-report", "--from", "2027-01-01", "--to",
                              "2027-01-31", "--out", str(out), env=ENV)
    assert code == 0 and "no outages" in stdout and not out.exists()
    # a result file that is not the service's answer
    bad = tmp_path / "state.xml"
    for content in (b"<not-xml", _hand_made(), _result([("zzz", None, None)])):
        bad.write_bytes(content)
        code, _, err = run_cli(monkeypatch, capsys, db_url, "outage-report-result", str(bad), env=ENV)
        assert code == 2 and len(err.strip().splitlines()) == 1, err
    with clean_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM outages")).scalar() == 5
        assert conn.execute(text("SELECT count(*) FROM audit_events WHERE action = 'billing.export'")).scalar() == 0
