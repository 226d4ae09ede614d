"""An organisation's staff in the app's pages (AppTest on the demo database): the desk lists only its
organisation's reports, acts on them, and an address naming another organisation's report (``?id=N``)
answers "not found" on the desk and on the reports page, changing nothing."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone

import pytest
from sqlalchemy import Engine, text

from auth.model import Actor, User
from ops import incidents
from settings import ROOT


@dataclass(frozen=True)
class Orgs:
    engine: Engine
    org_a: int
    mine: int
    theirs: int


@pytest.fixture()
def orgs(demo_engine: Engine, ui_db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Orgs]:
    from settings import get_settings

    monkeypatch.setenv("DATABASE_URL", ui_db_url)
    get_settings.cache_clear()
    eng = demo_engine
    with eng.begin() as conn:
        org_a = conn.execute(text("SELECT id FROM organisations WHERE name = 'Тест УК'")).scalar_one()
        org_b = conn.execute(text("INSERT INTO organisations (kind, name) VALUES ('utility', 'Тест водоканал Б') "
                                  "ON CONFLICT (name) DO UPDATE SET active = true RETURNING id")).scalar_one()
        b1, b2 = conn.execute(text("SELECT id FROM buildings ORDER BY id LIMIT 2")).scalars()
    admin = Actor.cli("cli:tests")
    made = []
    for building, org, words in ((b1, org_a, "Лифт стоит (наша)"), (b2, org_b, "Течёт крыша (чужая)")):
        inc = incidents.take_report(admin, bind=eng, service_code="elevator", building_id=building,
                                    description=words).incident
        with eng.begin() as conn:
            conn.execute(text("UPDATE incidents SET responsible_org_id = :o WHERE id = :i"), {"o": org, "i": inc.id})
        made.append(inc.id)
    yield Orgs(eng, org_a, made[0], made[1])
    get_settings.cache_clear()


def page(name: str, org_id: int, role: str = "org_dispatcher"):
    from streamlit.testing.v1 import AppTest

    path = ROOT / "views" / f"{name}.py"
    at = AppTest.from_string(f"import runpy\nrunpy.run_path({str(path)!r}, run_name='__main__')\n",
                             default_timeout=60)
    with_login = {"org_dispatcher": "org_dispatcher", "crew": "crew"}[role]
    at.session_state["user"] = User(id=0, login=with_login, display_name="", role=role, active=True,
                                    auth_source="local", created_at=datetime.now(timezone.utc), created_by="test",
                                    org_id=org_id)
    at.session_state["lang"] = "ru"
    return at


def _state(eng: Engine, incident_id: int) -> tuple:
    with eng.connect() as conn:
        return tuple(conn.execute(text("SELECT status, version, org_state, responsible_org_id FROM incidents "
                                       "WHERE id = :i"), {"i": incident_id}).one())



def test_the_desk_lists_only_its_organisations_reports_and_accepts_one(orgs: Orgs) -> None:
    at = page("desk", orgs.org_a).run()
    assert not at.exception, at.exception
    listed = set(at.dataframe[0].value.iloc[:, 0].tolist())
    assert orgs.mine in listed and orgs.theirs not in listed
    at.query_params["id"] = str(orgs.mine)
    at.run()
    at.button(key=f"desk_accept_{orgs.mine}").click().run()
    assert not at.exception, at.exception
    assert _state(orgs.engine, orgs.mine)[2] == "accepted"
    assert any("принята" in s.value or "Принять" in s.value for s in at.success), [s.value for s in at.success]


def test_the_desk_names_the_crew_by_its_display_name_not_its_login(orgs: Orgs) -> None:
    from ops import orgs as org_ops

    desk = Actor(author="org_dispatcher", role="org_dispatcher", org_id=orgs.org_a)
    org_ops.act(desk, orgs.mine, "assigned", event_id=f"name-{orgs.mine}", crew="crew", bind=orgs.engine)
    at = page("desk", orgs.org_a).run()
    at.query_params["id"] = str(orgs.mine)
    at.run()
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    row = table[table.iloc[:, 0] == orgs.mine].iloc[0].tolist()
    assert "Тест crew" in row and "crew" not in row


def test_the_desks_map_shows_its_own_work_orders_only(orgs: Orgs) -> None:
    from ops import orgs as org_ops
    from views.desk_parts import orders_features

    desk = Actor(author="org_dispatcher", role="org_dispatcher", org_id=orgs.org_a)
    shown = {f["id"] for f in orders_features(org_ops.work_orders(desk, bind=orgs.engine))["features"]}
    assert orgs.mine in shown and orgs.theirs not in shown
    at = page("desk", orgs.org_a)
    at.session_state["desk_map_on"] = True          # the map drawn with the page
    at.run()
    assert not at.exception, at.exception
    assert at.toggle(key="desk_map_on").value is True


@pytest.mark.parametrize("name", ["desk", "incidents"])
def test_another_organisations_report_by_url_is_not_found(orgs: Orgs, name: str) -> None:
    before = _state(orgs.engine, orgs.theirs)
    at = page(name, orgs.org_a)
    at.query_params["id"] = str(orgs.theirs)
    at.run()
    assert not at.exception, at.exception
    assert any(f"{orgs.theirs}" in e.value for e in at.error), [e.value for e in at.error]
    shown = " ".join(str(x.value) for x in (*at.markdown, *at.text))
    assert "Течёт крыша" not in shown
    assert not any(orgs.theirs in df.value.iloc[:, 0].tolist() for df in at.dataframe)
    assert _state(orgs.engine, orgs.theirs) == before


@pytest.mark.parametrize("role", ["org_dispatcher", "crew"])
def test_the_reports_page_shows_its_own_report_without_the_services_panels(orgs: Orgs, role: str) -> None:
    at = page("incidents", orgs.org_a, role)
    at.query_params["id"] = str(orgs.mine)
    at.run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert any("Лифт стоит (наша)" in x.value for x in at.text)
    # no status buttons: an organisation answers on its desk
    assert not [b for b in at.button if str(b.key or "").startswith("inc_to_")]


def test_the_control_room_names_the_organisations_in_breach() -> None:
    from views.control_room import breaches_html

    assert breaches_html({}, {}) == ""
    shown = breaches_html({7: 2, 9: 5}, {7: "УК <Альфа>"})
    assert shown.index("#9") < shown.index("УК &lt;Альфа&gt; — <b>2</b>")


def test_the_users_page_binds_an_organisations_dispatcher_to_it(orgs: Orgs) -> None:
    at = page("users", orgs.org_a, "org_dispatcher")
    at.session_state["user"] = User(id=0, login="admin", display_name="", role="admin", active=True,
                                    auth_source="local", created_at=datetime.now(timezone.utc), created_by="test")
    at.run()
    assert not at.exception, at.exception
    form = [ti for ti in at.text_input]
    form[0].input("desk-from-page")
    form[2].input("a long page secret 42")
    [role] = [s for s in at.selectbox if s.label in ("Роль", "Role")][:1]
    role.select("org_dispatcher")
    at.selectbox(key="users_add_org").select(orgs.org_a)
    [submit] = [b for b in at.button if b.label in ("Создать", "Create")]
    submit.click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    with orgs.engine.connect() as conn:
        assert conn.execute(text("SELECT role, org_id FROM users WHERE login = 'desk-from-page'")).one() == \
            ("org_dispatcher", orgs.org_a)
