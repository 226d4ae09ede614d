"""A billing rerun whose plan does not depend on statistics, with limits (issue 22, item 4):

- on a never-analysed database (autovacuum is off on this server) no query of a billing run plans a
  per-row subquery over charge_lines (the correlated subquery of ``_corrections`` did: a parallel full
  scan of charge_lines per charge, a rerun over 15 minutes);
- a run leaves charges and charge_lines analysed;
- a run sets statement_timeout and lock_timeout and says which one it hit, in one line;
- the billing lock of a client that died is released while its query would still be running.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, text

from auth.model import Actor
from billing.rules_file import DEFAULT_RULES_FILE
from ops import billing as ops_billing
from settings import ROOT, get_settings
from tests.billing.city import Small, add_outage, build_small, msk, run_cli, write_tariffs

ACTOR = Actor.cli("cli:tests")
LOCK = (774413, 0)  # ops.billing's advisory lock


@pytest.fixture()
def small(clean_engine: Engine) -> Small:
    return build_small(clean_engine)


@pytest.fixture()
def tariffs(tmp_path: Path) -> Path:
    return write_tariffs(tmp_path)


def _run(engine: Engine, tariffs: Path, period: str, **kw: Any) -> dict:
    return ops_billing.run_period(ACTOR, period, tariffs_file=tariffs, rules_file=DEFAULT_RULES_FILE, bind=engine,
                                  now=msk(2026, 11, 27, 12), **kw)


def forget_statistics(engine: Engine) -> None:
    """The never-analysed state of charges and charge_lines (this test database only)."""
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM pg_statistic WHERE starelid IN ('charges'::regclass, "
                          "'charge_lines'::regclass)"))
        conn.execute(text("UPDATE pg_class SET reltuples = -1 WHERE oid IN ('charges'::regclass, "
                          "'charge_lines'::regclass)"))


def never_analysed(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(text("SELECT relname FROM pg_class WHERE relname IN ('charges', 'charge_lines') "
                                     "AND reltuples < 0")).scalars())


def subplans_over_charge_lines(plan: dict) -> list[str]:
    """Nodes reading charge_lines below a SubPlan (run once per outer row)."""
    found: list[str] = []

    def walk(node: dict, in_subplan: bool) -> None:
        sub = in_subplan or node.get("Parent Relationship") == "SubPlan"
        if sub and node.get("Relation Name") == "charge_lines":
            found.append(f"{node['Node Type']} on charge_lines in {node.get('Subplan Name', 'a subplan')}")
        for child in node.get("Plans", []):
            walk(child, sub)

    walk(plan["Plan"], False)
    return found


def test_no_query_of_a_rerun_plans_a_subquery_per_charge_on_a_never_analysed_database(
        clean_engine: Engine, small: Small, tariffs: Path) -> None:
    _run(clean_engine, tariffs, "2026-09", close=True)
    _run(clean_engine, tariffs, "2026-10", close=True)
    with clean_engine.begin() as conn:  # recorded late: November corrects September and October
        add_outage(conn, small.network_id, [small.building_id], msk(2026, 10, 20, 0), msk(2026, 10, 20, 10))
        add_outage(conn, small.network_id, [small.building_id], msk(2026, 9, 20, 0), msk(2026, 9, 21, 10))
    _run(clean_engine, tariffs, "2026-11")
    assert never_analysed(clean_engine) == set()  # the runs analysed what they wrote

    forget_statistics(clean_engine)
    assert never_analysed(clean_engine) == {"charges", "charge_lines"}
    seen: list[tuple[str, Any]] = []

    def capture(_conn, _cur, statement, parameters, _ctx, _many) -> None:  # noqa: ANN001
        head = statement.lstrip().upper()
        if "CHARGE_LINES" in statement.upper() and head.startswith(("SELECT", "WITH")):
            seen.append((statement, parameters))

    # the rerun's own statements, planned on tables without statistics
    plans: list[dict] = []
    raw = clean_engine.raw_connection()
    try:
        event.listen(clean_engine, "before_cursor_execute", capture)
        try:
            _run(clean_engine, tariffs, "2026-11")  # the rerun
        finally:
            event.remove(clean_engine, "before_cursor_execute", capture)
        forget_statistics(clean_engine)  # the rerun analysed at its end: back to none for the plans
        cur = raw.cursor()
        for statement, params in seen:
            cur.execute("EXPLAIN (FORMAT JSON) " + statement, params)
            plans.append(cur.fetchone()[0][0])
        raw.rollback()
    finally:
        raw.close()
    assert any("corrected" in s.lower() or "for_period" in s for s, _ in seen), "the corrections query ran"
    bad = [(s.split()[:12], found) for (s, _), plan in zip(seen, plans) if (found := subplans_over_charge_lines(plan))]
    assert bad == []


def _in_thread(fn: Any) -> tuple[threading.Thread, dict]:
    out: dict = {}

    def go() -> None:
        try:
            out["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            out["error"] = exc

    th = threading.Thread(target=go, daemon=True)
    th.start()
    return th, out


@pytest.mark.parametrize("setting, value, says", [
    ("ZHKH_BILLING_LOCK_TIMEOUT_S", "0.5", "ZHKH_BILLING_LOCK_TIMEOUT_S"),
    ("ZHKH_BILLING_STATEMENT_TIMEOUT_S", "0.5", "ZHKH_BILLING_STATEMENT_TIMEOUT_S"),
])
def test_a_run_sets_its_timeouts_and_says_which_one_it_hit(clean_engine: Engine, small: Small, tariffs: Path,
                                                           db_url: str, monkeypatch, capsys, setting: str,
                                                           value: str, says: str) -> None:
    """Another job holds the billing lock: the run waits no longer than its lock timeout (or, with a long
    lock timeout, its statement timeout), then stops with one line naming the setting; nothing written."""
    other = {"ZHKH_BILLING_LOCK_TIMEOUT_S": "60", "ZHKH_BILLING_STATEMENT_TIMEOUT_S": "60"}
    env = {**other, setting: value, "ZHKH_BILLING_TARIFFS_FILE": str(tariffs),
           "ZHKH_BILLING_RULES_FILE": str(DEFAULT_RULES_FILE)}
    with clean_engine.connect() as holder:
        holder.execute(text("SELECT pg_advisory_lock(:a, :b)"), {"a": LOCK[0], "b": LOCK[1]})
        try:
            th, out = _in_thread(lambda: run_cli(monkeypatch, capsys, db_url, "run", "--period", "2026-10", env=env))
            th.join(30)
            stuck = th.is_alive()
        finally:
            holder.execute(text("SELECT pg_advisory_unlock(:a, :b)"), {"a": LOCK[0], "b": LOCK[1]})
            holder.commit()
        th.join(30)
    assert not stuck, "the run waited for the billing lock with no limit"
    assert "error" not in out, out.get("error")
    code, stdout, stderr = out["value"]
    assert code == 2
    assert len(stderr.strip().splitlines()) == 1 and says in stderr and "nothing was written" in stderr
    with clean_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM charges")).scalar_one() == 0


def test_the_job_limits_come_from_the_settings(clean_engine: Engine, monkeypatch) -> None:
    monkeypatch.setenv("ZHKH_BILLING_STATEMENT_TIMEOUT_S", "900")
    monkeypatch.setenv("ZHKH_BILLING_LOCK_TIMEOUT_S", "15")
    get_settings.cache_clear()
    try:
        with clean_engine.begin() as conn:
            ops_billing.job_limits(conn)
            got = {n: conn.execute(text(f"SHOW {n}")).scalar_one()
                   for n in ("statement_timeout", "lock_timeout", "client_connection_check_interval")}
        with clean_engine.connect() as conn:  # SET LOCAL: the pooled connection is not left limited
            after = conn.execute(text("SHOW statement_timeout")).scalar_one()
    finally:
        get_settings.cache_clear()
    assert got == {"statement_timeout": "15min", "lock_timeout": "15s", "client_connection_check_interval": "2s"}
    assert after == "0"


HOLDER = """
import sys
from sqlalchemy import text
from gis.db import make_engine
from ops.billing import _lock
engine = make_engine(sys.argv[1], prepare=False)
with engine.begin() as conn:
    _lock(conn)
    print("locked", flush=True)
    conn.execute(text("SELECT pg_sleep(300)"))  # a long query of the job
"""


def test_a_killed_clients_billing_lock_is_released_while_its_query_would_still_run(clean_engine: Engine,
                                                                                     db_url: str) -> None:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, db_url], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "DATABASE_URL": db_url})
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        proc.kill()  # the client dies; its backend is inside pg_sleep(300)
        proc.wait(10)
        with clean_engine.begin() as conn:
            conn.execute(text("SET LOCAL lock_timeout = '60s'"))
            conn.execute(text("SELECT pg_advisory_xact_lock(:a, :b)"), {"a": LOCK[0], "b": LOCK[1]})
        # The lock is released when the backend aborts its transaction; its row leaves pg_stat_activity a
        # moment later, as it exits. Wait for that (seconds), not for the 300 s the query would have run.
        deadline = time.monotonic() + 30
        while True:
            with clean_engine.connect() as conn:
                sleeping = conn.execute(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND "
                    "query LIKE 'SELECT pg_sleep(300)%' AND pid <> pg_backend_pid()")).scalar_one()
            if sleeping == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert sleeping == 0  # the dead client's query ended with its backend, not 300 s later
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        with clean_engine.begin() as conn:  # never leave a sleeper holding the lock for the next tests
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = "
                              "current_database() AND query LIKE 'SELECT pg_sleep(300)%' AND pid <> pg_backend_pid()"))
