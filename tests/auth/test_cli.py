"""``python -m auth`` exactly as the docs write it: exit 0 on success, exit 2 with one line and nothing
written on bad input."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import Engine, text

from settings import ROOT


def run(db_url: str, *args: str, stdin: str = "", env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "auth", *args], input=stdin, capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, "DATABASE_URL": db_url, **(env or {})}, timeout=120)


def counts(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return (conn.execute(text("SELECT count(*) FROM users")).scalar_one(),
                conn.execute(text("SELECT count(*) FROM audit_events")).scalar_one())


def test_user_commands_as_documented(clean_engine: Engine, db_url: str) -> None:
    ok = run(db_url, "user", "add", "Ivanova", "--role", "dispatcher", "--name", "Иванова Анна", stdin="secret pass 1\n")
    assert ok.returncode == 0, ok.stderr
    assert run(db_url, "user", "add", "petrov", "--role", "planner", stdin="secret pass 2\n").returncode == 0
    listed = run(db_url, "user", "list", "--json")
    assert listed.returncode == 0
    rows = {r["login"]: r for r in json.loads(listed.stdout)}
    assert rows["ivanova"]["display_name"] == "Иванова Анна" and rows["petrov"]["role"] == "planner"
    plain = run(db_url, "user", "list").stdout
    assert "ivanova" in plain and "dispatcher" in plain
    assert run(db_url, "user", "set-role", "petrov", "inspector").returncode == 0
    assert run(db_url, "user", "set-role", "petrov", "--role", "operator").returncode == 0
    assert run(db_url, "user", "disable", "petrov").returncode == 0
    assert run(db_url, "user", "passwd", "ivanova", stdin="a new secret 3\n").returncode == 0
    with clean_engine.connect() as conn:
        assert conn.execute(text("SELECT role, active FROM users WHERE login = 'petrov'")).one() == ("operator", False)
        authors = set(conn.execute(text("SELECT actor FROM audit_events")).scalars())
    assert len(authors) == 1 and next(iter(authors)).startswith("cli:")
    from ops import users

    assert users.sign_in("ivanova", "a new secret 3", bind=clean_engine)[0].display_name == "Иванова Анна"


@pytest.mark.parametrize("args,stdin,words", [
    (("user", "add", "newbie", "--role", "chief"), "long enough 1\n", "unknown role 'chief'"),
    (("user", "add", "ivanova", "--role", "planner"), "long enough 1\n", "exists already"),
    (("user", "add", "newbie", "--role", "planner"), "short\n", "at least 10"),
    (("user", "add", "newbie", "--role", "planner"), "", "no password"),
    (("user", "set-role", "ivanova", "chief"), "", "unknown role"),
    (("user", "set-role", "ghost", "planner"), "", "no account"),
    (("user", "disable", "ghost"), "", "no account"),
    (("user", "passwd", "ivanova"), "short\n", "at least 10"),
    (("user", "add", "newbie", "--role", "planner"), "1234567890\n", "most common passwords"),
    (("user", "add", "newbie", "--role", "planner"), "aaaaaaaaaa\n", "most common passwords"),
    (("user", "passwd", "ivanova"), "password12\n", "most common passwords"),
    (("user", "passwd", "ivanova"), "ivanova-2026\n", "too similar to the login"),
    (("user", "add"), "", "error"),
    (("user", "frobnicate"), "", "error"),
    # an organisation's staff need their organisation; the service's roles take none
    (("user", "add", "newbie", "--role", "org_dispatcher"), "long enough 1\n", "needs an organisation (--org ORG_ID)"),
    (("user", "add", "newbie", "--role", "crew"), "", "needs an organisation"),
    (("user", "add", "newbie", "--role", "operator", "--org", "1"), "long enough 1\n", "takes no organisation"),
    (("user", "add", "newbie", "--role", "crew", "--org", "999999"), "long enough 1\n", "no active organisation"),
    (("user", "add", "newbie", "--role", "crew", "--org", "x"), "long enough 1\n", "invalid int value"),
    (("user", "set-role", "ivanova", "crew"), "", "needs an organisation"),
])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(clean_engine: Engine, db_url: str, args: tuple[str, ...],
                                                            stdin: str, words: str) -> None:
    assert run(db_url, "user", "add", "ivanova", "--role", "dispatcher", stdin="secret pass 1\n").returncode == 0
    before = counts(clean_engine)
    res = run(db_url, *args, stdin=stdin)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], res.stderr
    assert "Traceback" not in res.stderr
    assert counts(clean_engine) == before


def test_demo_users_are_created_once_and_never_in_production(clean_engine: Engine, db_url: str) -> None:
    refused = run(db_url, "demo-users", env={"ZHKH_ENV": "production"})
    assert refused.returncode == 2 and "production" in refused.stderr
    assert counts(clean_engine)[0] == 0
    first = run(db_url, "demo-users")
    assert first.returncode == 0
    passwords = {line.split()[0]: line.split()[1] for line in first.stdout.splitlines()[1:]}
    assert set(passwords) == {"operator", "dispatcher", "planner", "inspector", "admin"}
    second = run(db_url, "demo-users")
    assert second.returncode == 0 and "exist already" in second.stdout
    assert not any(p in second.stdout for p in passwords.values())      # printed only once
    from ops import users

    for login, password in passwords.items():
        assert users.sign_in(login, password, bind=clean_engine)[0].role == login


def test_an_organisations_staff_are_added_with_their_organisation(clean_engine: Engine, db_url: str) -> None:
    with clean_engine.begin() as conn:
        org = conn.execute(text("INSERT INTO organisations (kind, name) VALUES ('utility', 'Водоканал') "
                                "RETURNING id")).scalar_one()
    ok = run(db_url, "user", "add", "desk1", "--role", "org_dispatcher", "--org", str(org), stdin="secret pass 1\n")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == f"created desk1 (org_dispatcher, organisation {org})"
    assert run(db_url, "user", "add", "crew1", "--role", "crew", "--org", str(org), stdin="secret pass 2\n").returncode == 0
    rows = {r["login"]: r for r in json.loads(run(db_url, "user", "list", "--json").stdout)}
    assert (rows["desk1"]["org_id"], rows["crew1"]["role"]) == (org, "crew")
    assert f"(organisation {org})" in run(db_url, "user", "list").stdout
    moved = run(db_url, "user", "set-role", "crew1", "operator")
    assert moved.returncode == 0 and moved.stdout.strip() == "crew1 is now operator"
    with clean_engine.connect() as conn:
        assert conn.execute(text("SELECT role, org_id FROM users WHERE login = 'crew1'")).one() == ("operator", None)
    from ops import users

    assert users.sign_in("desk1", "secret pass 1", bind=clean_engine)[0].org_id == org
