"""The demo break history and the stored scores, in the demo city's database (real PostGIS)."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text

from apps.demo.forecast import YEARS, demo
from auth.errors import PermissionDenied
from auth.model import Actor
from ops.risk import refresh_on

AS_OF = date(2026, 6, 1)
CLI = Actor.cli("cli:tests")


def _counts(conn):
    return conn.execute(text("""
        SELECT (SELECT count(*) FROM pipe_breaks WHERE source = 'history'),
               (SELECT count(*) FROM pipe_risk),
               (SELECT count(*) FROM pipes WHERE kind = 'pipe'),
               (SELECT min(occurred_on) FROM pipe_breaks WHERE source = 'history'),
               (SELECT max(occurred_on) FROM pipe_breaks WHERE source = 'history'),
               (SELECT count(*) FROM audit_events WHERE action = 'forecast.demo')""")).one()


def test_demo_writes_history_and_risk_and_reruns_the_same(demo_engine) -> None:
    with demo_engine.begin() as conn:
        first = demo(conn, actor=CLI, seed=7, as_of=AS_OF)
        n_hist, n_risk, n_pipes, lo, hi, audits = _counts(conn)
        rows = conn.execute(text("SELECT pipe_id, occurred_on FROM pipe_breaks WHERE source = 'history' ORDER BY 1, 2")).all()
        risk = conn.execute(text("SELECT pipe_id, expected_breaks FROM pipe_risk ORDER BY 1")).all()
    assert n_hist == first["history_breaks"] > 30        # a few breaks a year on ~20 km over 20 years
    assert n_risk == n_pipes > 200                        # every pipe scored
    assert lo >= date(AS_OF.year - YEARS, 1, 1) and hi < AS_OF
    assert first["risk"][0]["model"] == "selected"          # the backtest-chosen model, as the CLI
    assert first["risk"][0]["candidate"] == "eb"            # a small record: the per-pipe posterior rate
    assert 1.0 < first["risk"][0]["expected_total"] < 30.0
    # rerun: the same history and scores, nothing doubled
    with demo_engine.begin() as conn:
        again = demo(conn, actor=CLI, seed=7, as_of=AS_OF)
        assert _counts(conn)[:2] == (n_hist, n_risk) and _counts(conn)[5] == audits + 1
        assert conn.execute(text("SELECT pipe_id, occurred_on FROM pipe_breaks WHERE source = 'history' ORDER BY 1, 2")).all() == rows
        assert conn.execute(text("SELECT pipe_id, expected_breaks FROM pipe_risk ORDER BY 1")).all() == risk
    assert again["history_breaks"] == first["history_breaks"]
    with demo_engine.begin() as conn:
        skipped = demo(conn, actor=CLI, seed=99, if_missing=True, as_of=AS_OF)
        assert skipped["skipped"] is True and _counts(conn)[0] == n_hist


def test_a_burst_incident_becomes_a_break_once_and_raises_its_pipe(demo_engine) -> None:
    with demo_engine.begin() as conn:
        demo(conn, actor=CLI, seed=7, if_missing=True, as_of=AS_OF)
        pipe = conn.execute(text("""SELECT p.id FROM pipes p JOIN pipe_risk r ON r.pipe_id = p.id
                                    WHERE p.kind = 'pipe' AND NOT EXISTS (SELECT 1 FROM pipe_breaks b WHERE b.pipe_id = p.id)
                                    ORDER BY r.expected_breaks DESC LIMIT 1""")).scalar_one()
        before = conn.execute(text("SELECT expected_breaks FROM pipe_risk WHERE pipe_id = :p"), {"p": pipe}).scalar_one()
        inc = conn.execute(text("""
            INSERT INTO incidents (category, resource, priority, status, service_code, geom, pipe_id, network_id, created_at)
            SELECT 'burst', 'cold_water', 'emergency', 'resolved', 'burst', ST_LineInterpolatePoint(geom, 0.5), id,
                   network_id, TIMESTAMPTZ '2026-05-20 10:00+03' FROM pipes WHERE id = :p RETURNING id"""),
            {"p": pipe}).scalar_one()
        audits = conn.execute(text("SELECT count(*) FROM audit_events WHERE action = 'forecast.refresh'")).scalar_one()
        out = refresh_on(conn, CLI, as_of=AS_OF)
        assert out["breaks_from_incidents"] == 1
        again = refresh_on(conn, CLI, as_of=AS_OF)
        assert conn.execute(text("SELECT count(*) FROM audit_events WHERE action = 'forecast.refresh'")).scalar_one() \
            == audits + 2                                 # the use-case records each refresh
        with pytest.raises(PermissionDenied):
            refresh_on(conn, Actor("planner", "planner"), as_of=AS_OF)
        assert again["breaks_from_incidents"] == 0
        row = conn.execute(text("SELECT pipe_id, occurred_on, source FROM pipe_breaks WHERE incident_id = :i"),
                           {"i": inc}).one()
        after = conn.execute(text("SELECT expected_breaks FROM pipe_risk WHERE pipe_id = :p"), {"p": pipe}).scalar_one()
        conn.rollback()
    assert tuple(row) == (pipe, date(2026, 5, 20), "incident")
    assert after > 1.3 * before      # a fresh break on a pipe makes the next one likelier


def test_reading_needs_network_read_and_gives_the_renewal_list(demo_engine) -> None:
    from ops import risk

    with demo_engine.begin() as conn:
        demo(conn, actor=CLI, seed=7, if_missing=True, as_of=AS_OF)
        net = conn.execute(text("SELECT DISTINCT network_id FROM pipes")).scalar_one()
    pipes, years = risk.renewal(Actor("t", "planner"), net, first_year=2027, years=3, km_per_year=1.0, bind=demo_engine)
    assert list(years["year"]) == [2027, 2028, 2029] and (years["km"] <= 1.0 + 1e-9).all()
    assert pipes["per_km_year"].iloc[0] == pytest.approx(pipes["per_km_year"].max())
    with pytest.raises(PermissionDenied):
        risk.scores(Actor("nobody", "resident"), net, bind=demo_engine)
