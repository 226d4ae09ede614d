"""The admin's page of the organisations' webhooks (AppTest on the demo database): the endpoints, a failing
event with its next try, the delivery log with the status code, "retry now"; no other role opens it."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, text

from auth.model import Actor, User
from ops.base import utcnow
from settings import ROOT
from tests.webhooks.conftest import failing_delivery, serve  # noqa: F401  (fixture)

ADMIN = Actor.cli("cli:tests")


@dataclass(frozen=True)
class Failing:
    engine: Engine
    org: int
    incident_id: int
    url: str


@pytest.fixture()
def failing(demo_engine: Engine, ui_db_url: str, monkeypatch: pytest.MonkeyPatch, serve) -> Iterator[Failing]:  # noqa: F811
    from settings import get_settings

    monkeypatch.setenv("DATABASE_URL", ui_db_url)
    get_settings.cache_clear()
    with failing_delivery(demo_engine, serve, 503, "Лифт стоит (вебхук)") as f:
        yield Failing(demo_engine, f.org, f.incident_id, f.url)
    get_settings.cache_clear()


def page(role: str, lang: str = "ru"):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_string(f"import runpy\nrunpy.run_path({str(ROOT / 'views' / 'webhooks.py')!r}, "
                             "run_name='__main__')\n", default_timeout=60)
    at.session_state["user"] = User(id=0, login=role, display_name="", role=role, active=True, auth_source="local",
                                    created_at=datetime.now(timezone.utc), created_by="test")
    at.session_state["lang"] = lang
    return at


def _cells(at) -> str:
    return " ".join(str(v) for df in at.dataframe for v in df.value.astype(str).values.ravel())


def test_the_admin_sees_the_failing_event_and_retries_it_now(failing: Failing) -> None:
    at = page("admin").run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Вебхуки организаций"
    shown = _cells(at)
    assert failing.url in shown and "503" in shown and "ожидает" in shown and "новая заявка организации" in shown
    assert "ответ не 2xx" in shown and "not a 2xx" not in shown           # the error in the page's language
    with failing.engine.connect() as conn:
        before = conn.execute(text("SELECT next_attempt_at FROM webhook_events WHERE incident_id = :i "
                                   "AND state = 'pending'"), {"i": failing.incident_id}).scalar_one()
    assert before > utcnow() + timedelta(seconds=20)                       # backed off
    at.selectbox[1].select(next(o for o in at.selectbox[1].options if f"#{failing.incident_id}" in o))
    [retry] = [b for b in at.button if b.label == "Отправить сейчас"]
    retry.click().run()
    assert not at.exception, at.exception
    with failing.engine.connect() as conn:
        after = conn.execute(text("SELECT next_attempt_at FROM webhook_events WHERE incident_id = :i "
                                  "AND state = 'pending'"), {"i": failing.incident_id}).scalar_one()
        audited = conn.execute(text("SELECT count(*) FROM audit_events WHERE action = 'webhook.retry'")).scalar_one()
    assert after <= utcnow() and audited >= 1


def test_the_page_in_english_and_refused_to_other_roles(failing: Failing) -> None:
    at = page("admin", "en").run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Organisations' webhooks"
    assert "waiting" in _cells(at) and "new work order" in _cells(at) and "not a 2xx answer (see" in _cells(at)
    for role in ("dispatcher", "inspector", "org_dispatcher"):
        refused = page(role).run()
        assert refused.error and not refused.dataframe, role
