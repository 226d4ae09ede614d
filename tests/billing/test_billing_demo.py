"""``python -m billing demo``: flats, accounts, meters and readings for the loaded buildings."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import Engine, text

from billing.codes import verify_code
from apps.demo.billing import access_code, load_billing_demo
from billing.house_guid import house_guid
from billing.tariffs import load_tariffs
from tests.billing.city import build_small, run_cli


def test_demo_accounts_are_deterministic_and_idempotent(clean_engine: Engine, db_url: str, monkeypatch,
                                                        capsys) -> None:
    small = build_small(clean_engine)
    with clean_engine.begin() as conn:
        conn.execute(text("UPDATE buildings SET residents = 250, house_guid = NULL WHERE id = :b"),
                     {"b": small.other_building_id})
        conn.execute(text("INSERT INTO buildings (address, kind, residents, geom) VALUES ('Школа', 'school', 0, "
                          "ST_GeomFromText('POLYGON((24.96 60.17, 24.9602 60.17, 24.9602 60.1702, 24.96 60.17))', 4326))"))
    now = datetime(2026, 11, 27, 12, tzinfo=timezone.utc)
    with clean_engine.begin() as conn:
        counts = load_billing_demo(conn, seed=7, book=load_tariffs(), now=now)
    with clean_engine.connect() as conn:
        b2 = small.other_building_id
        flats = conn.execute(text("SELECT count(*), sum(a.residents), min(p.area_m2), max(p.area_m2) FROM accounts a "
                                  "JOIN premises p ON p.id = a.premises_id WHERE p.building_id = :b"), {"b": b2}).one()
        assert flats[0] == round(250 / 2.1) and flats[1] == 250 and 30 <= flats[2] and flats[3] <= 110
        metered = conn.execute(text("SELECT count(DISTINCT premises_id) FROM meters WHERE kind = 'flat' AND "
                                    "building_id = :b"), {"b": b2}).scalar()
        assert 0.4 * flats[0] < metered < 0.8 * flats[0]
        # a building meter on every building, residential or not
        assert conn.execute(text("SELECT count(*) FROM buildings b WHERE NOT EXISTS (SELECT 1 FROM meters m "
                                 "WHERE m.building_id = b.id AND m.kind = 'building' AND m.serial = 'B-' || b.id || '-CW')"
                                 )).scalar() == 0
        # 12 monthly readings (Dec 2025 .. Nov 2026) on each new meter
        assert conn.execute(text("SELECT count(*) FROM meter_readings r JOIN meters m ON m.id = r.meter_id "
                                 "WHERE m.serial = :s"), {"s": f"B-{b2}-CW"}).scalar() == 12
        row = conn.execute(text("SELECT b.dataset, b.ext_id, b.house_guid FROM buildings b WHERE id = :b"),
                           {"b": b2}).one()
        assert row.house_guid == house_guid(row.dataset, row.ext_id)
        number, stored = conn.execute(text("SELECT a.number, a.access_code_hash FROM accounts a JOIN premises p "
                                           "ON p.id = a.premises_id WHERE p.building_id = :b ORDER BY a.number "
                                           "LIMIT 1"), {"b": b2}).one()
        assert len(number) >= 10 and stored.startswith("$argon2id$") and verify_code(stored, access_code(7, number))[0]
    with clean_engine.begin() as conn:
        again = load_billing_demo(conn, seed=7, book=load_tariffs(), now=now)
    assert counts["accounts"] == flats[0] and again["accounts"] == again["meters"] == again["readings"] == 0
    code, out, err = run_cli(monkeypatch, capsys, db_url, "demo-code", number, "--seed", "7")
    assert code == 0 and out.strip() == access_code(7, number)
    code, _, err = run_cli(monkeypatch, capsys, db_url, "demo-code", number, "--seed", "8")
    assert code == 2 and "not the demo code" in err
    code, out, _ = run_cli(monkeypatch, capsys, db_url, "demo", "--if-missing")
    assert code == 0 and "nothing added" in out
