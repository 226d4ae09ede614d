"""The service's dispatcher sees a crew's marks from the phone on the outage panel (the operators' app,
AppTest on the demo database) and approves the stuck-valve re-plan there in one click; the organisation's
desk names a crew's own steps ("Бригада выехала", "Бригада на месте")."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import Engine, text

from auth.model import Actor, User
from ops import field as field_ops
from ops import outages
from settings import ROOT
from tests.ops.conftest import Demo
from tests.ops.test_outage_lifecycle import burst, stuck_candidate

DISPATCHER = Actor(author="dispatcher", role="dispatcher")


def page(name: str, user: User):
    from streamlit.testing.v1 import AppTest

    path = ROOT / "views" / f"{name}.py"
    at = AppTest.from_string(f"import runpy\nrunpy.run_path({str(path)!r}, run_name='__main__')\n",
                             default_timeout=90)
    at.session_state["user"] = user
    at.session_state["lang"] = "ru"
    return at


def _user(login: str, role: str, org_id: int | None = None) -> User:
    return User(id=0, login=login, display_name="", role=role, active=True, auth_source="local",
                created_at=datetime.now(timezone.utc), created_by="test", org_id=org_id)


def test_the_dispatcher_approves_a_crew_s_stuck_valve_on_the_outage_panel(demo_engine: Engine, ui_db_url: str,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from settings import get_settings

    monkeypatch.setenv("DATABASE_URL", ui_db_url)
    get_settings.cache_clear()
    eng = demo_engine
    with eng.connect() as conn:
        net = int(conn.execute(text("SELECT id FROM networks ORDER BY id LIMIT 1")).scalar_one())
        org = conn.execute(text("SELECT org_id FROM users WHERE login = 'crew'")).scalar_one()
    with eng.begin() as conn:
        conn.execute(text("UPDATE networks SET utility_id = :o WHERE id = :n"), {"o": org, "n": net})
    crew = Actor(author="crew", role="crew", org_id=org)
    pipe, valve, lon, lat = stuck_candidate(Demo(eng, net), DISPATCHER)
    with eng.connect() as conn:
        was = conn.execute(text("SELECT status FROM valves WHERE id = :v"), {"v": valve}).scalar_one()
    outage = outages.approve(DISPATCHER, network_id=net, break_pipe_ids=[pipe], incident_id=burst(DISPATCHER, eng, lon, lat),
                             bind=eng)
    try:
        first = outage.valve_ids[0] if outage.valve_ids[0] != valve else outage.valve_ids[-1]
        field_ops.mark_valve(crew, outage.id, first, "closed", event_id=f"c-{outage.id}", bind=eng)
        field_ops.mark_valve(crew, outage.id, valve, "stuck", event_id=f"s-{outage.id}", bind=eng)
        at = page("outages", _user("dispatcher", "dispatcher"))
        at.query_params["id"] = str(outage.id)
        at.run()
        assert not at.exception, at.exception
        marks = next(df.value for df in at.dataframe if "Отметка" in df.value.columns)
        assert sorted(marks["Отметка"].tolist()) == ["закрыта", "не закрывается"]
        assert any("Бригада сообщила: не закрываются задвижки" in w.value for w in at.warning)
        at.button(key=f"outages_crew_approve_{outage.id}").click().run()
        assert not at.exception, at.exception
        [stuck] = [m for m in field_ops.stuck_reports(DISPATCHER, outage.id, bind=eng) if m.kind == "stuck"]
        assert (stuck.state, stuck.decided_by) == ("approved", "dispatcher")
        assert outages.get(DISPATCHER, outage.id, bind=eng).outage.buildings > outage.buildings
        assert any(f"№{outage.id}" in s.value for s in at.success), [s.value for s in at.success]
    finally:
        with eng.begin() as conn:
            conn.execute(text("UPDATE outages SET state = 'cancelled' WHERE id = :o"), {"o": outage.id})
            conn.execute(text("UPDATE valves SET status = :s WHERE id = :v"), {"s": was, "v": valve})
        get_settings.cache_clear()


def test_the_desk_names_a_crew_s_steps_from_the_phone(demo_engine: Engine, ui_db_url: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from ops import incidents, orgs
    from settings import get_settings

    monkeypatch.setenv("DATABASE_URL", ui_db_url)
    get_settings.cache_clear()
    eng = demo_engine
    with eng.connect() as conn:
        org = conn.execute(text("SELECT org_id FROM users WHERE login = 'crew'")).scalar_one()
        building, lon, lat = conn.execute(text("SELECT id, ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)) FROM buildings "
                                               "ORDER BY id LIMIT 1")).one()
    inc = incidents.take_report(Actor.cli("cli:tests"), bind=eng, service_code="elevator", building_id=building,
                                description="Лифт не едет").incident
    with eng.begin() as conn:
        conn.execute(text("UPDATE incidents SET responsible_org_id = :o WHERE id = :i"), {"o": org, "i": inc.id})
    desk = Actor(author="org_dispatcher", role="org_dispatcher", org_id=org)
    orgs.act(desk, inc.id, "assigned", event_id=f"desk-assign-{inc.id}", crew="crew", bind=eng)
    crew = Actor(author="crew", role="crew", org_id=org)
    field_ops.order_step(crew, inc.id, "on_the_way", event_id=f"way-{inc.id}", lat=lat, lon=lon, bind=eng)
    field_ops.order_step(crew, inc.id, "arrived", event_id=f"here-{inc.id}", bind=eng)
    at = page("desk", _user("org_dispatcher", "org_dispatcher", org))
    at.query_params["id"] = str(inc.id)
    at.run()
    assert not at.exception, at.exception
    shown = " ".join(" ".join(map(str, df.value.astype(str).values.ravel())) for df in at.dataframe)
    assert "Бригада выехала" in shown and "Бригада на месте" in shown
    with eng.connect() as conn:
        status = conn.execute(text("SELECT status FROM incidents WHERE id = :i"), {"i": inc.id}).scalar_one()
    assert status == "in_progress"
    get_settings.cache_clear()
