"""With a wrong DATABASE_URL the app says the database is unavailable and why, in the page's language
(``error.db.<problem>``), instead of only "unavailable"."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from settings import ROOT, get_settings


@pytest.fixture()
def fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.parametrize("url, lang, why", [
    ("postgresql://postgres@127.0.0.1:6379/zhkh", "en", "The server at 127.0.0.1:6379 is not PostgreSQL"),
    ("postgresql://postgres@127.0.0.1:6379/zhkh", "ru", "Сервер 127.0.0.1:6379 — не PostgreSQL"),
    ("mysql://root@127.0.0.1:3306/zhkh", "en", "The server at 127.0.0.1:3306 is not PostgreSQL"),
    ("postgresql://postgres@127.0.0.1:6379:x/zhkh", "en", "DATABASE_URL in the server's settings is malformed"),
])
def test_the_page_says_why(url: str, lang: str, why: str, fresh_settings: None,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("DATABASE_URL", url)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["lang"] = lang
    at.run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "The database is unavailable. The page reloads by itself as soon as it answers again." if lang == "en" else
        "База данных недоступна. Страница обновится сама, как только связь восстановится."]
    assert [w.value for w in at.warning] and at.warning[0].value.replace("\\", "").startswith(why)  # Markdown-escaped


def test_signing_in_with_the_database_down_says_why(fresh_settings: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The login form is the first page anyone sees: signing in while DATABASE_URL points at Redis used to
    end in Streamlit's traceback page."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:6379/zhkh")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["lang"] = "en"
    at.session_state["signed_out"] = True   # no session cookie to check: the login form, as a first visit
    at.run()
    assert not at.error and [w.label for w in at.text_input] == ["Login", "Password"]
    at.text_input[0].input("ivanova")
    at.text_input[1].input("some password")
    at.button[0].click().run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "The database is unavailable. The page reloads by itself as soon as it answers again."]
    assert at.warning[0].value.replace("\\", "").startswith("The server at 127.0.0.1:6379 is not PostgreSQL")
