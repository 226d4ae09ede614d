"""The demo's outages (``billing demo`` + ``billing demo-month`` on a small network) exported over a year:
every file valid against the official ГИС ЖКХ schema with both validators; the emergencies listed."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from lxml import etree
from sqlalchemy import Engine, text

from apps.demo.billing_month import load_demo_month
from billing.gis_nsi import DEMO_NSI_FILE
from billing.outage_report import NS, schema_errors
from billing.rules_file import load_billing_rules
from ops.base import utcnow
from tests.billing.city import run_cli
from tests.billing.test_demo_month import RULES, star  # noqa: F401 - the fixture

ENV = {"ZHKH_BILLING_RULES_FILE": str(RULES), "ZHKH_GIS_NSI_FILE": str(DEMO_NSI_FILE)}


def test_every_file_of_the_demo_year_is_valid(star: dict[str, list[int]], clean_engine: Engine,  # noqa: F811
                                               db_url: str, tmp_path: Path, monkeypatch, capsys) -> None:
    zone = load_billing_rules(RULES).zone
    now = utcnow()
    made = load_demo_month(rules_file=RULES, bind=clean_engine, now=now)["outages"]
    day_from = (now - timedelta(days=365)).astimezone(zone).date().isoformat()
    day_to = (now + timedelta(days=30)).astimezone(zone).date().isoformat()
    out = tmp_path / "demo-year.xml"
    code, stdout, err = run_cli(monkeypatch, capsys, db_url, "outage-report", "--from", day_from, "--to", day_to,
                                "--out", str(out), env=ENV)
    assert code == 0, err
    files = sorted(tmp_path.glob("demo-year*.xml"))
    assert files == [out]
    placed = []
    for f in files:
        data = f.read_bytes()
        assert schema_errors(data) == {"lxml": None, "xmlschema": None}, f
        assert b"DEMO" in data    # demo НСИ GUIDs and the billing demo's house GUIDs
        root = etree.fromstring(data)
        placed += [int(r.findtext(f".//{{{NS}}}AdditionalInfo").split("#")[1].split(";")[0])
                   for r in root.iter(f"{{{NS}}}PlacingOutageReport")]
    # the two planned works are placed; the three emergencies are listed for the operator
    assert sorted(placed) == sorted([made["valve"], made["flushing"]])
    listed = sorted(int(ln.split("#")[1].split()[0]) for ln in err.splitlines() if ln.startswith("note: emergency"))
    assert listed == sorted([made["burst"], made["repair"], made["now"]])
    assert "placing 2" in stdout and "DEMO" in stdout
    with clean_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM gis_outage_reports WHERE nsi_demo")).scalar() == 2
