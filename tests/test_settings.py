"""Settings that cannot surprise: ZHKH_ENV is development or production and nothing else (refused at start
with one line), secrets never show, and every variable is read through ``settings`` (so ``.env`` counts)."""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import reports.rules
from reports.errors import InvalidRules
from settings import ROOT, Environment, Settings, SettingsError, get_settings


@pytest.fixture()
def fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def run(module: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", module], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, **env})


def test_env_is_one_of_two(fresh_settings: None, monkeypatch: pytest.MonkeyPatch) -> None:
    for value in ("development", "production"):
        monkeypatch.setenv("ZHKH_ENV", value)
        get_settings.cache_clear()
        assert get_settings().env is Environment(value) and get_settings().env == value
    monkeypatch.setenv("ZHKH_ENV", "prod")
    get_settings.cache_clear()
    with pytest.raises(SettingsError) as err:
        get_settings()
    assert err.value.code == 2
    assert str(err.value).startswith("settings refused: ZHKH_ENV='prod': ")
    assert "'development' or 'production'" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("module", ["settings", "gis.local_pg"])
def test_a_wrong_env_stops_a_command_with_one_line(module: str) -> None:
    done = run(module, ZHKH_ENV="Production ")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: settings refused: ZHKH_ENV='Production ': Input should be 'development' or 'production'"]
    assert done.stdout == ""


def test_the_settings_check_passes() -> None:
    done = run("settings", ZHKH_ENV="production")
    assert (done.returncode, done.stdout.strip(), done.stderr) == (0, "settings: ok", "")


def test_secrets_never_show() -> None:
    s = Settings(database_url="postgresql://ops:db-secret@db.example:5432/zhkh", smtp_password="mail-secret")
    for shown in (repr(s), str(s), s.model_dump_json()):
        assert "db-secret" not in shown and "mail-secret" not in shown
    assert s.database_url is not None
    assert s.database_url.get_secret_value() == "postgresql://ops:db-secret@db.example:5432/zhkh"
    assert s.smtp_password.get_secret_value() == "mail-secret"


def test_a_refused_value_never_shows_a_secret(fresh_settings: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://ops:db-secret@db.example/zhkh")
    monkeypatch.setenv("ZHKH_SMTP_PORT", "twenty-five")
    with pytest.raises(SettingsError, match=r"ZHKH_SMTP_PORT='twenty-five': ") as err:
        get_settings()
    assert "db-secret" not in str(err.value)


def test_reports_rules_file_from_dot_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The reports rules file named in a .env file is the one read (it used to be os.environ only)."""
    missing = tmp_path / "regional-reports.yaml"
    dot_env = tmp_path / ".env"
    dot_env.write_text(f"ZHKH_REPORTS_RULES_FILE={missing}\n")
    monkeypatch.delenv("ZHKH_REPORTS_RULES_FILE", raising=False)
    monkeypatch.setattr(reports.rules, "get_settings", lambda: Settings(_env_file=dot_env))
    with pytest.raises(InvalidRules, match="regional-reports.yaml"):
        reports.rules.current()


def test_no_module_reads_the_environment_itself() -> None:
    """Only settings.py reads the environment (tests and benchmarks pass one to the processes they start)."""
    readers = []
    skipped = {".venv", ".git", "tests", "benchmarks", "var", "artifacts", "node_modules", "static"}
    tops = [p for p in ROOT.iterdir() if p.name not in skipped]
    for path in [p for top in tops for p in ([top] if top.is_file() else top.rglob("*"))]:
        rel = path.relative_to(ROOT)
        if path.suffix != ".py" or rel == Path("settings/__init__.py"):
            continue
        source = path.read_text(encoding="utf-8")
        if "os.environ" in source or "getenv(" in source:
            readers.append(str(rel))
    assert readers == []



@pytest.mark.parametrize("lang, words", [("ru", "Настройки сервера отклонены"), ("en", "The server's settings are refused")])
def test_the_app_says_which_setting_is_refused(lang: str, words: str, fresh_settings: None,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("ZHKH_ENV", "prod")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["lang"] = lang
    at.run()
    assert not at.exception
    assert len(at.error) == 1
    shown = at.error[0].value
    assert shown.startswith(words) and "ZHKH\\_ENV\\='prod'" in shown   # Markdown-escaped
    assert "Input should be" not in shown                                  # no pydantic English on the page
