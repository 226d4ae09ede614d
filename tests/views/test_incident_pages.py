"""Incident pages through streamlit.testing.v1.AppTest on the session database: bad intake input is
refused with a message and writes nothing; a stale version gives the "changed by someone else" message."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from settings import ROOT


@pytest.fixture()
def app_db(demo_engine: Engine, ui_db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    from settings import get_settings

    monkeypatch.setenv("DATABASE_URL", ui_db_url)
    get_settings.cache_clear()
    yield demo_engine
    get_settings.cache_clear()


def count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM incidents")).scalar_one())


def page(name: str, role: str = "dispatcher"):
    """An AppTest of a page script, run through runpy as Streamlit runs a page, for a signed-in user
    of ``role`` (app.py checks the session before it runs a page)."""
    from datetime import datetime, timezone

    from streamlit.testing.v1 import AppTest

    from auth.model import User

    path = ROOT / "views" / f"{name}.py"
    at = AppTest.from_string(f"import runpy\nrunpy.run_path({str(path)!r}, run_name='__main__')\n",
                             default_timeout=60)
    at.session_state["user"] = User(id=0, login=f"test-{role}", display_name="", role=role, active=True,
                                    auth_source="local", created_at=datetime.now(timezone.utc), created_by="test")
    return at


def intake(**state: object):
    at = page("intake")
    at.session_state["lang"] = "ru"  # AppTest formats widget options outside the session: keep the default language
    for k, v in state.items():
        at.session_state[k] = v
    return at.run()


def test_intake_refuses_bad_input_and_writes_nothing(app_db: Engine) -> None:
    before = count(app_db)
    # a point far outside the service area (Moscow), picked on the map
    at = intake(**{"intake_mode.ru": "map"}, intake_point=(37.62, 55.75))   # views.common.tkey
    at.text_area[0].input("Water everywhere")
    at.button(key="intake_submit").click().run()
    assert any("вне зоны обслуживания" in e.value for e in at.error), [e.value for e in at.error]
    # too long, and no description at all
    at.text_area[0].input("x" * 4001)
    at.button(key="intake_submit").click().run()
    assert any("слишком длинное: 4001 символ," in e.value for e in at.error)
    at.text_area[0].input("   ")
    at.button(key="intake_submit").click().run()
    assert any("не может быть пустым" in e.value for e in at.error)
    # every problem of the typed fields at once, from the shared intake model, in Russian
    at.text_area[0].input("Течёт <b>сильно</b>\x00")
    at.text_input(key="intake_name_0").input("И" * 402)
    at.text_input(key="intake_phone_0").input("звоните вечером")
    at.button(key="intake_submit").click().run()
    shown = [e.value for e in at.error]
    assert any("«Описание со слов заявителя» содержит HTML-разметку" in e for e in shown), shown
    assert any("«Описание со слов заявителя»: управляющий символ U\\+0000 в позиции 20" in e for e in shown), shown
    assert any("«Имя заявителя» слишком длинное: 402 символа, допустимо не более 401" in e for e in shown), shown
    assert any("Телефон указан неверно" in e and "звоните вечером" in e for e in shown), shown
    # ordinary text with "&", "<5" and Markdown is not a problem
    at.text_area[0].input('"ржавая" & <5°C, **срочно**')
    at.text_input(key="intake_name_0").input("Анна")
    at.text_input(key="intake_phone_0").input("+7 (900) 123-45-67")
    at.button(key="intake_submit").click().run()
    assert not any("HTML" in e.value or "Телефон" in e.value for e in at.error), [e.value for e in at.error]
    assert count(app_db) == before


def test_every_problem_code_and_field_has_a_text_in_both_languages() -> None:
    from i18n import has_text
    from i18n import keys as text_keys
    from incidents import intake

    fields = ("service_code", "category", "channel", "priority", "location", "lat", "lon", "building_id", "address",
              "description", "reporter_name", "reporter_phone", "reporter_email", "media_url", "client_token",
              "attribute")
    keys = [f"intake.problem.{c}" for c in intake.PROBLEM_CODES] + [f"intake.field.{f}" for f in fields]
    for lang in ("ru", "en"):
        missing = [k for k in keys if not has_text(k, lang)]
        assert not missing, (lang, missing)
    stale = sorted(k for k in text_keys("intake.problem.") if k.removeprefix("intake.problem.") not in intake.PROBLEM_CODES)
    assert not stale, stale


def test_stale_version_says_changed_by_someone_else(app_db: Engine) -> None:
    from incidents import service as S

    with app_db.connect() as conn:
        lon, lat = conn.execute(text("SELECT ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)) FROM buildings "
                                     "ORDER BY id LIMIT 1")).one()
    inc = S.create_incident(app_db, service_code="elevator", lon=lon, lat=lat, description="lift stuck").incident
    at = page("incidents")
    at.session_state["lang"] = "ru"  # AppTest formats widget options outside the session: keep the default language
    at.query_params["id"] = str(inc.id)
    at.run()
    # someone else accepts it meanwhile
    S.transition_incident(app_db, inc.id, "accepted", actor="other", expected_version=inc.version)
    at.button(key=f"inc_to_{inc.id}_rejected").click().run()
    assert any("Заявку уже изменил кто-то другой" in e.value for e in at.error), [e.value for e in at.error]
    assert S.get_incident(app_db, inc.id).status == "accepted"  # nothing overwritten


@pytest.mark.parametrize("name,role,refusal", [
    ("users", "inspector", "управлять пользователями"),
    ("data", "inspector", "загружать данные"),
    ("data", "dispatcher", "загружать данные"),
    ("intake", "inspector", "принимать заявки"),
    ("audit", "dispatcher", "читать журнал действий"),
])
def test_a_page_its_role_may_not_open_says_so(app_db: Engine, name: str, role: str, refusal: str) -> None:
    at = page(name, role=role)
    at.session_state["lang"] = "ru"
    at.run()
    assert not at.exception
    assert any(f"Недостаточно прав: ваша роль не позволяет {refusal}" in e.value for e in at.error), \
        [e.value for e in at.error]
    assert not at.button and not at.text_input and not at.dataframe   # nothing of the page beyond the refusal


def test_an_inspector_reads_a_report_but_gets_no_status_buttons(app_db: Engine) -> None:
    from incidents import service as S

    with app_db.connect() as conn:
        lon, lat = conn.execute(text("SELECT ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)) FROM buildings "
                                     "ORDER BY id LIMIT 1")).one()
    inc = S.create_incident(app_db, service_code="elevator", lon=lon, lat=lat, description="lift **stuck**").incident
    at = page("incidents", role="inspector")
    at.session_state["lang"] = "ru"
    at.query_params["id"] = str(inc.id)
    at.run()
    assert not at.exception
    assert not [b for b in at.button if b.key and b.key.startswith(f"inc_to_{inc.id}_")]
    assert any(t.value == "lift **stuck**" for t in at.text)          # free text as text, not Markdown
    assert any(b.label == "Добавить заметку" for b in at.button)     # inspectors may write notes


def test_ones_own_approve_and_valves_closed_are_not_someone_elses_change(app_db: Engine) -> None:
    """The dispatcher approves the shutoff and reports the valves closed on the report's own page: no
    «Заявка изменилась, пока вы её смотрели»; another person's change afterwards still says so."""
    from incidents import service as S
    from ops import outages as O
    from ops.base import utcnow

    with app_db.connect() as conn:
        lon, lat = conn.execute(text(
            """SELECT ST_X(ST_LineInterpolatePoint(p.geom, 0.5)), ST_Y(ST_LineInterpolatePoint(p.geom, 0.5))
               FROM pipes p JOIN service_connections sc ON sc.pipe_id = p.id
               WHERE NOT EXISTS (SELECT 1 FROM outages o WHERE o.state IN ('planned', 'active')
                                 AND (p.id = ANY(o.pipe_ids) OR p.id = ANY(o.unintended_pipe_ids)))
               GROUP BY p.id ORDER BY count(*) DESC, p.id LIMIT 1""")).one()
    inc = S.create_incident(app_db, service_code="burst", lon=lon, lat=lat, description="Прорыв у дома",
                            actor="orlova").incident
    stale = "Заявка изменилась, пока вы её смотрели"

    def warned(at) -> bool:
        return any(stale in w.value for w in at.warning)

    at = page("incidents")
    at.session_state["lang"] = "ru"
    at.query_params["id"] = str(inc.id)
    at.run()
    outage_id = None
    try:
        assert not at.exception and not warned(at)
        at.button(key=f"plan_{inc.id}").click().run()
        at.button(key=f"approve_{inc.id}").click().run()
        assert not at.exception
        got = S.get_incident(app_db, inc.id)
        assert got.status == "dispatched" and got.outage_id is not None
        outage_id = got.outage_id
        assert not warned(at), [w.value for w in at.warning]            # approving was this user's own write
        at.button(key=f"inc{inc.id}_start_{outage_id}").click().run()   # «Задвижки закрыты»
        assert not at.exception
        assert S.get_incident(app_db, inc.id).status == "in_progress"
        assert not warned(at), [w.value for w in at.warning]            # and so was "valves closed"
        # the report names its outage, the outage's state and its expected end
        facts = {str(r[0]): str(r[1]) for df in at.dataframe for r in df.value.itertuples(index=False) if len(r) == 2}
        assert facts["Отключение"].startswith(f"№{outage_id} · ") and "ожидаемое окончание" in facts["Отключение"], facts
        at.run()
        assert not warned(at)
        # someone else resolves it meanwhile: that is a change to warn about
        S.transition_incident(app_db, inc.id, "resolved", actor="other", expected_version=S.get_incident(
            app_db, inc.id).version, now=utcnow())
        at.run()
        assert warned(at), [w.value for w in at.warning]
    finally:
        if outage_id is not None:
            from auth.model import Actor

            detail = O.get(Actor.cli("cli:tests"), outage_id, bind=app_db)
            if detail.outage.state == "active":
                O.restore(Actor.cli("cli:tests"), outage_id, bind=app_db)
            elif detail.outage.state == "planned":
                O.cancel(Actor.cli("cli:tests"), outage_id, reason="test", bind=app_db)


def test_a_dispatcher_hides_a_description_from_the_public(app_db: Engine) -> None:
    """Issue 22 §6: the report's page says what the public sees (masked) and hides it on a toggle."""
    from incidents import service as S

    with app_db.connect() as conn:
        lon, lat = conn.execute(text("SELECT ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)) FROM buildings "
                                     "ORDER BY id LIMIT 1")).one()
    caller = "лифт стоит, звонила Петрова Анна, 8 912 000 11 22"
    inc = S.create_incident(app_db, service_code="elevator", lon=lon, lat=lat, description=caller).incident
    at = page("incidents")
    at.session_state["lang"] = "ru"
    at.query_params["id"] = str(inc.id)
    at.run()
    public = [c.value for c in at.caption if "Жители видят" in c.value]
    assert len(public) == 1 and "Петрова" not in public[0] and "912" not in public[0], public
    assert caller in [t.value for t in at.text]                      # the operator's view: the full text
    at.toggle(key=f"inc_private_{inc.id}").set_value(True).run()
    assert not at.exception
    assert S.get_incident(app_db, inc.id).description_private is True
    with app_db.connect() as conn:
        actor = conn.execute(text("SELECT actor FROM audit_events WHERE action = 'incident.description_private' "
                                  "AND object_id = :i"), {"i": str(inc.id)}).scalar_one()
    assert actor == "test-dispatcher"
