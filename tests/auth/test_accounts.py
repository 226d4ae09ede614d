"""Accounts, signing in under the throttle, sessions and the permission matrix, on real PostGIS."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, text

from auth import permissions
from auth.errors import (
    DuplicateLogin,
    InvalidUserInput,
    LoginRefused,
    PermissionDenied,
    UnknownUser,
)
from auth.model import Actor
from ops import audit_log, users
from settings import Settings

ADMIN = Actor.cli("cli:test")
PASSWORD = "correct horse 1"


@pytest.fixture()
def accounts(clean_engine: Engine) -> Engine:
    users.add_user(ADMIN, "Ivanova", role="dispatcher", password=PASSWORD, display_name="Иванова А. П.",
                   bind=clean_engine)
    users.add_user(ADMIN, "boss", role="admin", password=PASSWORD, bind=clean_engine)
    return clean_engine


def settings(**kw: object) -> Settings:
    return Settings(_env_file=None, **kw)


def test_accounts_are_stored_with_argon2_and_lower_case_logins(accounts: Engine) -> None:
    with accounts.connect() as conn:
        row = conn.execute(text("SELECT login, display_name, role, password_hash, active, created_by FROM users "
                                "WHERE login = 'ivanova'")).one()
    assert row.password_hash.startswith("$argon2id$") and PASSWORD not in row.password_hash
    assert (row.display_name, row.role, row.active, row.created_by) == ("Иванова А. П.", "dispatcher", True, "cli:test")
    assert [u.login for u in users.list_users(ADMIN, bind=accounts)] == ["boss", "ivanova"]


@pytest.mark.parametrize("login,role,password,match", [
    ("petrov", "chief", PASSWORD, "unknown role 'chief'"),
    ("petrov", "planner", "short", "at least 10"),
    ("IVANOVA", "planner", PASSWORD, None),               # duplicate, case-insensitively
    ("x", "planner", PASSWORD, "is not valid"),
    ("bad login", "planner", PASSWORD, "is not valid"),
    ("petrov", "planner", "ten chars\x00!", "NUL"),
])
def test_bad_accounts_are_refused_and_nothing_is_written(accounts: Engine, login: str, role: str, password: str,
                                                         match: str | None) -> None:
    with accounts.connect() as conn:
        before = conn.execute(text("SELECT count(*) FROM users")).scalar_one()
        audits = conn.execute(text("SELECT count(*) FROM audit_events")).scalar_one()
    with pytest.raises(DuplicateLogin if match is None else InvalidUserInput, match=match or "exists already"):
        users.add_user(ADMIN, login, role=role, password=password, bind=accounts)
    with accounts.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM users")).scalar_one() == before
        assert conn.execute(text("SELECT count(*) FROM audit_events")).scalar_one() == audits


def test_sign_in_opens_a_session_that_idles_out_and_ends(accounts: Engine) -> None:
    user, token = users.sign_in(" IVANOVA ", PASSWORD, bind=accounts)
    assert user.login == "ivanova" and user.last_login_at is not None
    assert users.resume(token, bind=accounts).login == "ivanova"
    with accounts.connect() as conn:
        stored = conn.execute(text("SELECT token_hash FROM user_sessions")).scalar_one()
    assert token not in stored and len(stored) == 64
    # idle past the timeout: the session ends
    with accounts.begin() as conn:
        conn.execute(text("UPDATE user_sessions SET last_seen_at = now() - interval '31 minutes'"))
    assert users.resume(token, settings=settings(session_idle_min=30), bind=accounts) is None
    with accounts.connect() as conn:
        assert conn.execute(text("SELECT end_reason FROM user_sessions")).scalar_one() == "idle"
    # a new one ends on logout
    _, token2 = users.sign_in("ivanova", PASSWORD, bind=accounts)
    users.sign_out(token2, user, bind=accounts)
    assert users.resume(token2, bind=accounts) is None
    assert users.resume("forged-token", bind=accounts) is None
    assert users.resume("x" * 5000, bind=accounts) is None


def test_disabling_an_account_ends_its_sessions_at_once(accounts: Engine) -> None:
    _, token = users.sign_in("ivanova", PASSWORD, bind=accounts)
    users.set_active(ADMIN, "ivanova", False, bind=accounts)
    assert users.resume(token, bind=accounts) is None
    with pytest.raises(LoginRefused, match="wrong login or password"):   # same answer as a wrong password
        users.sign_in("ivanova", PASSWORD, bind=accounts)
    users.set_active(ADMIN, "ivanova", True, bind=accounts)
    assert users.sign_in("ivanova", PASSWORD, bind=accounts)[0].login == "ivanova"


def test_a_new_password_ends_sessions_and_the_old_one_stops_working(accounts: Engine) -> None:
    _, token = users.sign_in("ivanova", PASSWORD, bind=accounts)
    users.set_password(ADMIN, "ivanova", "another good one", bind=accounts)
    assert users.resume(token, bind=accounts) is None
    with pytest.raises(LoginRefused):
        users.sign_in("ivanova", PASSWORD, bind=accounts)
    assert users.sign_in("ivanova", "another good one", bind=accounts)[0].role == "dispatcher"


def test_five_wrong_passwords_lock_the_login_for_five_minutes_whether_it_exists_or_not(accounts: Engine) -> None:
    s = settings(login_max_failures=5, login_lock_min=5)
    for login in ("ivanova", "nobody-here"):
        for _ in range(4):
            with pytest.raises(LoginRefused, match="wrong login or password") as exc:
                users.sign_in(login, "wrong password!", settings=s, bind=accounts)
            assert exc.value.locked_until is None
        with pytest.raises(LoginRefused, match="locked") as exc:
            users.sign_in(login, "wrong password!", settings=s, bind=accounts)
        assert exc.value.locked_until is not None
    # locked: even the right password is refused, without being checked
    with pytest.raises(LoginRefused, match="locked"):
        users.sign_in("ivanova", PASSWORD, settings=s, bind=accounts)
    # another login is not affected
    assert users.sign_in("boss", PASSWORD, settings=s, bind=accounts)[0].login == "boss"
    # five minutes later the login opens again
    with accounts.begin() as conn:
        conn.execute(text("UPDATE login_throttle SET locked_until = now() - interval '1 second'"))
    assert users.sign_in("ivanova", PASSWORD, settings=s, bind=accounts)[0].login == "ivanova"
    failed = audit_log.events(ADMIN, audit_log.AuditFilter(actions=("auth.login_failed",)), bind=accounts)
    assert len(failed) == 11 and {e["actor"] for e in failed} == {"anonymous"}
    assert {e["object_id"] for e in failed} == {"ivanova", "nobody-here"}
    assert {e["details"]["reason"] for e in failed} >= {"password", "unknown", "locked"}
    ok = audit_log.events(ADMIN, audit_log.AuditFilter(actions=("auth.login",)), bind=accounts)
    assert [e["actor"] for e in ok] == ["ivanova", "boss"]


def test_the_last_admin_cannot_be_demoted_or_disabled(accounts: Engine) -> None:
    with pytest.raises(InvalidUserInput, match="last active admin"):
        users.set_role(ADMIN, "boss", "planner", bind=accounts)
    with pytest.raises(InvalidUserInput, match="last active admin"):
        users.set_active(ADMIN, "boss", False, bind=accounts)
    users.set_role(ADMIN, "ivanova", "admin", bind=accounts)
    assert users.set_role(ADMIN, "boss", "planner", bind=accounts).role == "planner"
    with pytest.raises(UnknownUser, match="nobody"):
        users.set_role(ADMIN, "nobody", "planner", bind=accounts)


def test_only_admins_manage_users_and_every_change_names_its_author(accounts: Engine) -> None:
    for role in ("operator", "dispatcher", "planner", "inspector"):
        with pytest.raises(PermissionDenied, match="users.manage"):
            users.add_user(Actor(author="someone", role=role), "newbie", role="operator", password=PASSWORD,
                           bind=accounts)
    boss = Actor(author="boss", role="admin")
    users.add_user(boss, "newbie", role="operator", password=PASSWORD, bind=accounts)
    users.set_role(boss, "newbie", "planner", reason="перевод", bind=accounts)
    users.set_password(boss, "newbie", "brand new password", bind=accounts)
    users.set_active(boss, "newbie", False, bind=accounts)
    trail = audit_log.events(boss, audit_log.AuditFilter(object_type="user", object_id="newbie"), bind=accounts)
    assert [(e["action"], e["actor"]) for e in reversed(trail)] == [
        ("user.add", "boss"), ("user.set_role", "boss"), ("user.passwd", "boss"), ("user.disable", "boss")]
    assert trail[2]["details"] == {"from": "operator", "to": "planner"}
    assert all("password" not in str(e["details"]).lower() or e["action"] == "user.passwd" for e in trail)


def test_the_matrix_gives_each_role_its_pages_and_nothing_more() -> None:
    for role, pages in permissions.ROLE_PAGES.items():
        for page, perm in permissions.PAGES.items():
            if page in pages:        # a page in the navigation is one the role may open …
                assert permissions.allowed(role, perm), (role, page)
            if not perm.endswith(".read"):   # … and every role allowed to write there finds the page
                assert (page in pages) == permissions.allowed(role, perm), (role, page)
    assert not permissions.allowed("inspector", "data.import") and not permissions.allowed("inspector", "reports.edit")
    assert permissions.allowed("inspector", "audit.read") and permissions.allowed("inspector", "notes.write")
    assert [r for r in permissions.ROLES if permissions.allowed(r, "data.import")] == ["admin"]
    assert [r for r in permissions.ROLES if permissions.allowed(r, "demo.reload")] == ["admin"]
    assert permissions.pages_for("hacker") == ()
    with pytest.raises(KeyError):
        permissions.allowed("admin", "launch.missiles")


def test_the_docs_show_the_matrix_the_code_enforces() -> None:
    from settings import ROOT

    doc = (ROOT / "docs" / "rights.md").read_text(encoding="utf-8")
    for perm, roles in permissions.MATRIX.items():
        row = next((line for line in doc.splitlines() if line.startswith(f"| `{perm}`")), None)
        assert row is not None, f"docs/rights.md has no row for {perm}"
        cells = [c.strip() for c in row.strip().strip("|").split("|")][2:]
        assert cells == ["✓" if r in roles else "" for r in permissions.ROLES], perm


def test_session_timeouts_are_settings(accounts: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """The three values come from the environment and are the ones enforced (not the defaults 30, 5, 5)."""
    for name, value in (("ZHKH_SESSION_IDLE_MIN", "5"), ("ZHKH_LOGIN_LOCK_MIN", "1"), ("ZHKH_LOGIN_MAX_FAILURES", "3")):
        monkeypatch.setenv(name, value)
    s = settings()
    # idle 6 minutes: past these 5, though well within the default 30
    _, token = users.sign_in("ivanova", PASSWORD, settings=s, bind=accounts)
    _, kept = users.sign_in("boss", PASSWORD, settings=s, bind=accounts)
    with accounts.begin() as conn:
        conn.execute(text("UPDATE user_sessions SET last_seen_at = now() - interval '6 minutes'"))
    assert users.resume(kept, settings=settings(session_idle_min=10), bind=accounts).login == "boss"
    assert users.resume(token, settings=s, bind=accounts) is None
    # the third wrong password locks (the default would allow five), for one minute (not five)
    for _ in range(2):
        with pytest.raises(LoginRefused, match="wrong login or password"):
            users.sign_in("ivanova", "wrong password!", settings=s, bind=accounts)
    with pytest.raises(LoginRefused, match="locked") as exc:
        users.sign_in("ivanova", "wrong password!", settings=s, bind=accounts)
    with accounts.connect() as conn:
        now = conn.execute(text("SELECT now()")).scalar_one()
    assert exc.value.locked_until is not None
    assert timedelta(seconds=50) < exc.value.locked_until - now <= timedelta(minutes=1)


def test_the_identity_providers_role_claim_decides_the_role(clean_engine: Engine) -> None:
    from views.session import oidc_role

    assert oidc_role({"zhkh_role": "planner"}, "zhkh_role") == "planner"
    assert oidc_role({"groups": ["staff", "inspector", "admin"]}, "groups") == "inspector"
    assert oidc_role({"zhkh_role": "chief"}, "zhkh_role") is None
    assert oidc_role({}, "zhkh_role") is None
    user, token = users.sign_in_external(login="Anna@City.example", display_name="Анна", role="inspector",
                                         provider="https://idp.example", bind=clean_engine)
    assert (user.login, user.role, user.auth_source) == ("anna@city.example", "inspector", "oidc")
    assert users.resume(token, bind=clean_engine).login == "anna@city.example"
    # the claim's role wins at the next sign-in; disabling the account here refuses the person
    assert users.sign_in_external(login="anna@city.example", display_name="Анна", role="planner",
                                  provider="https://idp.example", bind=clean_engine)[0].role == "planner"
    users.set_active(ADMIN, "anna@city.example", False, bind=clean_engine)
    with pytest.raises(LoginRefused, match="disabled"):
        users.sign_in_external(login="anna@city.example", display_name="Анна", role="planner",
                               provider="https://idp.example", bind=clean_engine)
    with pytest.raises(InvalidUserInput, match="identity provider"):
        users.set_password(ADMIN, "anna@city.example", "some long password", bind=clean_engine)


def test_a_lock_holds_for_the_attackers_address_only_and_grows_with_each_lock(accounts: Engine) -> None:
    s = settings(login_max_failures=5, login_lock_min=5)
    attacker, owner = "203.0.113.66", "10.0.0.7"
    for _ in range(4):
        with pytest.raises(LoginRefused, match="wrong login or password"):
            users.sign_in("boss", "wrong password!", source=attacker, settings=s, bind=accounts)
    with pytest.raises(LoginRefused, match="locked") as first:
        users.sign_in("boss", "wrong password!", source=attacker, settings=s, bind=accounts)
    # the admin, from their own address, is not locked out by the attacker
    assert users.sign_in("boss", PASSWORD, source=owner, settings=s, bind=accounts)[0].login == "boss"
    # from the attacker's address even the right password is refused while the lock holds
    with pytest.raises(LoginRefused, match="locked"):
        users.sign_in("boss", PASSWORD, source=attacker, settings=s, bind=accounts)
    with accounts.begin() as conn:  # the first lock is over
        conn.execute(text("UPDATE login_throttle SET locked_until = now() - interval '1 second'"))
    for _ in range(4):
        with pytest.raises(LoginRefused, match="wrong login or password"):
            users.sign_in("boss", "wrong password!", source=attacker, settings=s, bind=accounts)
    with pytest.raises(LoginRefused, match="locked") as second:
        users.sign_in("boss", "wrong password!", source=attacker, settings=s, bind=accounts)
    assert second.value.locked_until > first.value.locked_until
    with accounts.connect() as conn:
        until = conn.execute(text("SELECT locked_until - now() FROM login_throttle WHERE login LIKE :k"),
                             {"k": f"{attacker} %"}).scalar_one()
    assert timedelta(minutes=9) < until <= timedelta(minutes=10)      # 5 minutes, then 10
    failed = audit_log.events(ADMIN, audit_log.AuditFilter(actions=("auth.login_failed",)), bind=accounts)
    assert {e["details"]["source"] for e in failed} == {attacker}


def test_the_lock_doubles_up_to_a_day() -> None:
    from auth.service import lock_for

    lock = timedelta(minutes=5)
    got = [lock_for(n, max_failures=5, lock=lock) for n in (4, 5, 6, 10, 15, 20)]
    assert got == [None, lock, None, 2 * lock, 4 * lock, 8 * lock]
    assert lock_for(5 * 40, max_failures=5, lock=lock) == timedelta(hours=24)


@pytest.mark.parametrize("password", ["1234567890", "aaaaaaaaaa", "password12", "Qwertyuiop"])
def test_common_passwords_are_refused_with_a_clear_message(accounts: Engine, password: str) -> None:
    with pytest.raises(InvalidUserInput, match="one of the most common passwords") as exc:
        users.add_user(ADMIN, "petrov", role="operator", password=password, bind=accounts)
    assert exc.value.problems == [("password_common", {})]
    with pytest.raises(InvalidUserInput, match="most common"):
        users.set_password(ADMIN, "ivanova", password, bind=accounts)
    with accounts.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM users WHERE login = 'petrov'")).scalar_one() == 0


@pytest.mark.parametrize(("login", "password"), [("petrov", "petrov2024!"), ("sidorova.m", "Sidorova.M-1"),
                                                 ("operator7", "operator77")])
def test_a_password_like_the_login_is_refused(accounts: Engine, login: str, password: str) -> None:
    with pytest.raises(InvalidUserInput, match="too similar to the login") as exc:
        users.add_user(ADMIN, login, role="operator", password=password, bind=accounts)
    assert exc.value.problems == [("password_like_login", {})]
    assert users.add_user(ADMIN, login, role="operator", password="a quiet river 7", bind=accounts).login == login
