""""Will not close" from a crew's phone reaches the service's dispatcher on the outage, who approves the
re-plan in one step (``ops.outages.extend``): the valve recorded stuck, the outage grown, the crew's report
marked approved with the dispatcher's name — on the demo city's real network."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from auth.errors import DuplicateLogin, PermissionDenied
from auth.model import Actor
from ops import field as field_ops
from ops import outages, users
from tests.ops.conftest import Demo, actors, demo, ops_demo  # noqa: F401  (fixtures)
from tests.ops.test_outage_lifecycle import burst, stuck_candidate

ADMIN = Actor(author="boss", role="admin")


def test_a_crew_s_stuck_valve_is_approved_by_the_dispatcher_in_one_step(demo: Demo, actors: dict[str, Actor]) -> None:  # noqa: F811
    eng, net = demo.engine, demo.network_id
    disp = actors["dispatcher"]
    with eng.begin() as conn:
        org = conn.execute(text("INSERT INTO organisations (kind, name) VALUES ('utility', 'Водоканал (тест поля)') "
                                "ON CONFLICT (name) DO UPDATE SET active = true RETURNING id")).scalar_one()
        conn.execute(text("UPDATE networks SET utility_id = :o WHERE id = :n"), {"o": org, "n": net})
    try:
        crew = Actor.of(users.add_user(ADMIN, "crew-stuck", role="crew", password="crew stuck secret 42", org_id=org,
                                       bind=eng))
    except DuplicateLogin:   # the demo city is the session's: made by an earlier run of this test
        crew = Actor(author="crew-stuck", role="crew", org_id=org)
    pipe, valve, lon, lat = stuck_candidate(demo, disp)
    outage = outages.approve(disp, network_id=net, break_pipe_ids=[pipe], incident_id=burst(disp, eng, lon, lat),
                             bind=eng)
    assert outage.id in [s.outage.id for s in field_ops.outage_sheets(crew, bind=eng)]

    with pytest.raises(field_ops.FieldRefused, match="nothing_pending"):
        field_ops.approve_stuck(disp, outage.id, bind=eng)
    mark = field_ops.mark_valve(crew, outage.id, valve, "stuck", event_id=f"stuck-{outage.id}", lat=lat, lon=lon,
                                note="шток сорван", bind=eng)
    assert mark.created and mark.mark.state == "pending"
    assert field_ops.mark_valve(crew, outage.id, valve, "stuck", event_id=f"stuck-{outage.id}", bind=eng).created is False
    [seen] = field_ops.stuck_reports(disp, outage.id, bind=eng)
    assert (seen.valve_id, seen.author, seen.state) == (valve, "crew-stuck", "pending")

    with pytest.raises(PermissionDenied):
        field_ops.approve_stuck(crew, outage.id, bind=eng)          # the crew reports; the dispatcher decides
    grown = field_ops.approve_stuck(disp, outage.id, bind=eng)
    assert grown.buildings > outage.buildings and valve not in grown.valve_ids
    [done] = field_ops.stuck_reports(disp, outage.id, bind=eng)
    assert (done.state, done.decided_by) == ("approved", disp.author)
    with eng.connect() as conn:
        status = conn.execute(text("SELECT status FROM valves WHERE id = :v"), {"v": valve}).scalar()
        trail = [r[0] for r in conn.execute(text(
            "SELECT action FROM audit_events WHERE object_type = 'outage' AND object_id = :o ORDER BY id"),
            {"o": str(outage.id)})]
    assert status == "inoperable"
    assert trail[-3:] == ["outage.valve_stuck", "outage.extend", "outage.stuck_approved"]
    with pytest.raises(field_ops.FieldRefused, match="nothing_pending"):
        field_ops.approve_stuck(disp, outage.id, bind=eng)
