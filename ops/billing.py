"""Use-cases of billing: compute a month's charges, close the month, load the demo accounts.

Each checks the actor's permission, runs in one transaction under one advisory lock (two runs of
the same month cannot interleave), and writes its audit event in that transaction.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from auth.model import Actor
from billing.charges import compute_period, period_first_day, write_period
from billing.errors import BillingError
from billing.gis_nsi import load_nsi
from billing.outage_report import (
    documents,
    load_sent,
    outages_between,
    parse_day,
    plan_export,
    read_results,
    record_sent,
    write_files,
)
from billing.rules_file import BillingRules
from billing.rules_setting import current_rules
from billing.tariffs import load_tariffs, sync_tariffs
from ops import audit
from ops.base import allow, engine, utcnow
from settings import ROOT, get_settings

_LOCK_CLASS = 774413  # pg_advisory_xact_lock(class, 0): one billing write at a time


class PeriodClosed(BillingError):
    """The month is closed: its charges are never changed (corrections go to a later month)."""


class PeriodNotComputed(BillingError):
    """Closing a month that has no charges computed yet."""


class BillingTimeout(BillingError):
    """A billing job ran past its statement timeout, or waited past its lock timeout; nothing was written."""


def _lock(conn: Connection) -> None:
    """The job's limits (:func:`job_limits`), then the billing lock: a transaction-level advisory lock,
    released at commit, rollback, or the end of the backend."""
    job_limits(conn)
    conn.execute(text("SELECT pg_advisory_xact_lock(:c, 0)"), {"c": _LOCK_CLASS})


def job_limits(conn: Connection, settings: Any = None) -> dict[str, str]:
    """``SET LOCAL`` (this transaction only) statement_timeout, lock_timeout and
    client_connection_check_interval from the settings ``billing_statement_timeout_s``,
    ``billing_lock_timeout_s``, ``db_client_check_interval_s``. The last one makes a backend whose
    client died (a killed ``billing run``) notice it during a long query and end, releasing the billing
    lock, instead of running the query to its end first. The values set."""
    s = settings or get_settings()
    values = {"statement_timeout": f"{max(1, round(s.billing_statement_timeout_s * 1000))}ms",
              "lock_timeout": f"{max(1, round(s.billing_lock_timeout_s * 1000))}ms",
              "client_connection_check_interval": f"{max(1, round(s.db_client_check_interval_s * 1000))}ms"}
    for name, value in values.items():
        conn.execute(text("SELECT set_config(:n, :v, true)"), {"n": name, "v": value})
    return values


@contextmanager
def _limits_explained(what: str) -> Iterator[None]:
    """A statement or lock timeout of the job as :class:`BillingTimeout` with one clear line."""
    try:
        yield
    except DBAPIError as exc:
        code = getattr(exc.orig, "sqlstate", None)
        s = get_settings()
        if code == "57014" and "statement timeout" in str(exc.orig):
            raise BillingTimeout(f"{what} was stopped: a statement ran longer than "
                                 f"{s.billing_statement_timeout_s:g} s (setting ZHKH_BILLING_STATEMENT_TIMEOUT_S); "
                                 "nothing was written") from None
        if code == "55P03":
            raise BillingTimeout(f"{what} gave up: another billing job held the billing lock (or a table it "
                                 f"needs) for more than {s.billing_lock_timeout_s:g} s (setting "
                                 "ZHKH_BILLING_LOCK_TIMEOUT_S); try again when it has finished; nothing was "
                                 "written") from None
        raise


def _analyze(bind: Engine | None, tables: str, *, only_never_analysed: bool = False) -> None:
    """Statistics after a bulk write, once it is committed (autovacuum may be off: nothing else would);
    with ``only_never_analysed``, of those of ``tables`` that have none yet (a database upgraded from a
    version that never analysed them). A failure here is not the job's: the next run analyses again."""
    names = [t.strip() for t in tables.split(",")]
    try:
        with engine(bind).begin() as conn:
            job_limits(conn)
            if only_never_analysed:
                names = list(conn.execute(text(
                    "SELECT relname FROM pg_class WHERE relname = ANY(:n) AND relkind = 'r' AND reltuples < 0 "
                    "AND relnamespace = 'public'::regnamespace"), {"n": names}).scalars())
            if names:
                conn.execute(text(f"ANALYZE {', '.join(names)}"))
    except DBAPIError:
        pass


def _rules(rules_file: str | Path | None) -> BillingRules:
    """The billing rules: ``rules_file``, else the setting (a relative path also from the project root)."""
    return current_rules(rules_file)


def _state(conn: Connection, first) -> str | None:
    return conn.execute(text("SELECT state FROM billing_periods WHERE period = :p"), {"p": first}).scalar()


def run_period(actor: Actor, period: str, *, close: bool = False, tariffs_file: str | Path | None = None,
               rules_file: str | Path | None = None, bind: Engine | None = None,
               now: datetime | None = None) -> dict[str, Any]:
    """Compute month ``period`` (``YYYY-MM``) for every account, replacing its draft; with ``close``
    also close it. ``PeriodClosed`` for a closed month or when a later month is already closed."""
    allow(actor, "billing.run")
    if close:
        allow(actor, "billing.close")
    rules = _rules(rules_file)
    first = period_first_day(period, rules)
    book = load_tariffs(tariffs_file)
    now = now or utcnow()
    with _limits_explained(f"billing run of {period}"):
        _analyze(bind, "charges, charge_lines, billing_periods", only_never_analysed=True)
        totals = _run_period(actor, period, first, book, rules, close, bind, now)
    _analyze(bind, "charges, charge_lines, billing_periods")
    return totals


def _run_period(actor: Actor, period: str, first, book, rules, close: bool, bind: Engine | None,  # noqa: ANN001
                now: datetime) -> dict[str, Any]:
    with engine(bind).begin() as conn:
        _lock(conn)
        if _state(conn, first) == "closed":
            raise PeriodClosed(f"period {period} is closed; its charges are never changed "
                               "(corrections go to the next open period)")
        later = conn.execute(text("SELECT max(period) FROM billing_periods WHERE state = 'closed' AND period > :p"),
                             {"p": first}).scalar()
        if later is not None:
            raise PeriodClosed(f"period {later:%Y-%m} after {period} is already closed; compute the month after it")
        sync_tariffs(conn, book)
        result = compute_period(conn, period, book, rules, now=now)
        write_period(conn, first, result, actor=actor.author, now=now)
        totals = result.totals()
        if close:
            _close(conn, first, actor, now)
        totals["state"] = "closed" if close else "draft"
        audit.record(conn, actor=actor.author, action="billing.run", object_type="billing_period",
                     object_id=period, at=now, details={**totals, "tariffs": book.region, "rules": rules.region,
                                                         "outage_ids": totals["outage_ids"][:200]})
        if close:
            audit.record(conn, actor=actor.author, action="billing.close", object_type="billing_period",
                         object_id=period, at=now, details={"charges": totals["charges"]})
        return totals


def _close(conn: Connection, first, actor: Actor, now: datetime) -> None:
    conn.execute(text("UPDATE billing_periods SET state = 'closed', closed_at = :now, closed_by = :who "
                      "WHERE period = :p"), {"p": first, "now": now, "who": actor.author})


def close_period(actor: Actor, period: str, *, rules_file: str | Path | None = None, bind: Engine | None = None,
                 now: datetime | None = None) -> dict[str, Any]:
    """Close month ``period`` (computed before by :func:`run_period`)."""
    allow(actor, "billing.close")

    first = period_first_day(period, _rules(rules_file))
    now = now or utcnow()
    with _limits_explained(f"closing {period}"), engine(bind).begin() as conn:
        _lock(conn)
        state = _state(conn, first)
        if state == "closed":
            raise PeriodClosed(f"period {period} is already closed")
        if state is None:
            raise PeriodNotComputed(f"period {period} has not been computed; run 'billing run --period {period}' first")
        _close(conn, first, actor, now)
        row = conn.execute(text("SELECT count(*), coalesce(sum(total_rub), 0) FROM charges WHERE period = :p"),
                           {"p": first}).one()
        details = {"period": period, "charges": int(row[0]), "total_rub": str(row[1]), "state": "closed"}
        audit.record(conn, actor=actor.author, action="billing.close", object_type="billing_period",
                     object_id=period, at=now, details=details)
        return details


DemoLoader = Callable[..., dict[str, int]]


def load_demo(actor: Actor, loader: DemoLoader, *, seed: int, if_missing: bool = False,
              tariffs_file: str | Path | None = None, bind: Engine | None = None,
              now: datetime | None = None) -> dict[str, Any]:
    """Flats, accounts, meters and readings for the demo city: ``loader(conn, seed=, book=, now=)`` (the demo
    loader, ``apps.demo.billing.load_billing_demo``: demo data is made above the application layer) in one
    transaction under the billing lock, with its audit event; the counts of what it added."""
    allow(actor, "demo.reload")

    book = load_tariffs(tariffs_file)
    with _limits_explained("loading the billing demo"), engine(bind).begin() as conn:
        _lock(conn)
        if not conn.execute(text("SELECT count(*) FROM buildings")).scalar():
            raise BillingError("no buildings: load the demo city first (python -m data load-demo)")
        if if_missing and conn.execute(text("SELECT EXISTS (SELECT 1 FROM accounts)")).scalar():
            return {"skipped": "accounts exist already"}
        counts = loader(conn, seed=seed, book=book, now=now)
        audit.record(conn, actor=actor.author, action="billing.demo", object_type="billing_demo",
                     details={"seed": seed, **counts})
        return counts


def _nsi(nsi_file: str | Path | None):  # -> billing.gis_nsi.Nsi
    """The НСИ 360/361 file: ``nsi_file``, else the setting ``gis_nsi_file`` (a relative path also from the root)."""
    path = Path(nsi_file) if nsi_file else Path(get_settings().gis_nsi_file)
    if not path.is_absolute() and not path.exists() and (ROOT / path).exists():
        path = ROOT / path
    return load_nsi(path)


_EXPORT_LOCK = 774414  # pg_advisory_xact_lock(class, 0): one ГИС ЖКХ export at a time


def export_outage_reports(actor: Actor, *, day_from: str, day_to: str, out: str | Path,
                          rules_file: str | Path | None = None, nsi_file: str | Path | None = None,
                          bind: Engine | None = None) -> dict[str, Any]:
    """Write what changed among the outages of ``day_from``..``day_to`` as ГИС ЖКХ request files (see
    :mod:`billing.outage_report`) and remember what was sent, in one transaction; what was written.
    Every document is validated (two validators, the official schema) before anything is written."""
    allow(actor, "billing.export")

    a, b = parse_day(day_from, "--from"), parse_day(day_to, "--to")
    if b < a:
        raise BillingError(f"--to {day_to} is before --from {day_from}")
    zone = _rules(rules_file).zone
    nsi = _nsi(nsi_file)
    out = Path(out)
    now = utcnow()
    with engine(bind).begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:c, 0)"), {"c": _EXPORT_LOCK})
        outages, skipped = outages_between(conn, a, b, zone)
        plan = plan_export(outages, load_sent(conn, [o.id for o in outages]), nsi, zone)
        docs = documents(plan) if plan.operations else []
        if docs and not out.parent.is_dir():
            raise BillingError(f"--out {out}: directory {out.parent} does not exist")
        paths = write_files([d for _, d in docs], out) if docs else []
        try:
            record_sent(conn, [(ops, p) for (ops, _), p in zip(docs, paths)], actor=actor.author, now=now,
                        nsi_demo=nsi.demo)
            counts = {k: sum(1 for o in plan.operations if o.operation == k) for k in ("placing", "edit", "annulment")}
            result = {"from": day_from, "to": day_to, "reports": len(plan.operations), **counts,
                      "unchanged": plan.unchanged, "without_house_guid": skipped,
                      "emergency_not_sent": [_brief(o, zone) for o in plan.emergency],
                      "awaiting_report_guid": [o.id for o in plan.awaiting_guid],
                      "outages_in_range": len(outages) + skipped,
                      "demo": plan.demo, "nsi_file": nsi.path, "nsi_demo": nsi.demo,
                      "files": [str(p) for p in paths]}
            if paths:
                audit.record(conn, actor=actor.author, action="billing.export", object_type="gis_outage_report",
                             at=now, details={k: v for k, v in result.items() if k != "emergency_not_sent"}
                             | {"outage_ids": [o.outage.id for o in plan.operations][:500]})
        except BaseException:
            for p in paths:
                p.unlink(missing_ok=True)
            raise
    return result


def _brief(o: Any, zone: Any) -> dict[str, Any]:
    end = o.end.astimezone(zone).isoformat(timespec="minutes") if o.end else None
    return {"outage_id": o.id, "start": o.start.astimezone(zone).isoformat(timespec="minutes"), "end": end,
            "houses": len(o.houses)}


def record_outage_report_results(actor: Actor, *, file: str | Path, bind: Engine | None = None) -> dict[str, Any]:
    """Record the service's ``getStateResult`` for sent outage reports (the GUIDs it assigned, what it
    refused); checked against the official schema with both validators first."""
    allow(actor, "billing.export")

    path = Path(file)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise BillingError(f"result file {path} does not exist") from None
    except OSError as exc:
        raise BillingError(f"cannot read {path}: {exc.strerror or exc}") from None
    now = utcnow()
    with engine(bind).begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:c, 0)"), {"c": _EXPORT_LOCK})
        out = read_results(conn, data, now=now)
        audit.record(conn, actor=actor.author, action="billing.export", object_type="gis_outage_result", at=now,
                     details={"file": str(path), "accepted": out["accepted"], "refused": out["refused"][:100],
                              "unknown": out["unknown"]})
    return {"file": str(path), **out}
