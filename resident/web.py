"""The resident's page (FastAPI, server-rendered HTML, no login): ``python -m resident serve``.

An address (suggestions as you type) or a report number, and then: water and heating at the address
now (active and planned outages, the month's allowance clock), the address's reports with their
deadlines, a report form, a subscription to the address's notices, and — with an account number and
the code from the bill — the month's charges line by line. No personal data of anybody is shown.

Safety: every text is escaped by the templates (autoescape); every form carries a CSRF token equal to
a ``SameSite=Strict`` cookie (double submit); requests are rate-limited per IP (a token bucket, and a
stricter one for account-code tries) with a friendly 429 page, the IP taken from ``X-Forwarded-For``
only behind a proxy named in ``ZHKH_TRUSTED_PROXIES``; account codes are Argon2id hashes, an account
number is locked after repeated wrong codes from any address (``resident.account_codes``), and a
refusal never says which of the two was wrong. A report's page is ``/report/<random token>``; the
number alone opens it only in the browser that made the report; its description is shown redacted
(``incidents.redact``) or not at all. Forms and queries must be valid UTF-8 (400 otherwise); no page
may be framed by another site.
"""
from __future__ import annotations

import hmac
import re
import secrets
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException

from gis.serving import NoFraming, allowed_methods, lazy_engine, thread_pool_lifespan
from i18n import LANGUAGES, N_
from resident import account_codes, clock, queries
from resident import reports as resident_reports
from resident.ratelimit import Buckets, client_address, trusted_networks
from resident.texts import (
    LINE_KINDS,
    REOPEN_REFUSED,
    SYSTEM_NOTES,
    UNITS,
    WITHOUT,
    Texts,
)
from settings import Settings, get_settings

HERE = Path(__file__).resolve().parent
CSRF_COOKIE = "zr_csrf"
LANG_COOKIE = "zr_lang"
MINE_COOKIE = "zr_mine"   # the reports made in this browser: "id.token,…" (opens /report/<number> for them)
MINE_MAX = 20
_DIGITS = re.compile(r"[0-9]{1,12}")
_ACCOUNT = re.compile(r"[0-9]{6,20}")
_TOKEN = re.compile(r"[0-9a-f]{32}")
FRAME_HEADERS = {"X-Frame-Options": "DENY"}
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
PORTAL_SERVICES = ("no_water", "no_hot_water", "low_pressure", "no_heating", "burst", "sewer", "electricity",
                   "elevator", "roof_leak", "repair", "other")
HISTORY = re.compile(r"^outage #(\d+)(?: (approved|valves closed|restored|merged|extended))?$")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Page(Exception):
    """Answer with an error page: ``status``, a title key and a message key (with params)."""

    def __init__(self, status: int, title: str, message: str, **params: Any) -> None:
        self.status, self.title, self.message, self.params = status, title, message, params
        super().__init__(message)


def create_app(engine: Engine | None = None, settings: Settings | None = None) -> FastAPI:
    s = settings or get_settings()
    db = lazy_engine(engine, s.database_url)
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True),
                      trim_blocks=True, lstrip_blocks=True)
    general = Buckets(max(1.0, s.resident_rate_per_min), 60.0)
    code_tries = Buckets(max(1.0, s.resident_code_tries_per_hour), 3600.0)
    salt = secrets.token_hex(8)  # the IP hash in authors changes per process: no lasting IP record
    proxies = trusted_networks(s.trusted_proxies)
    app = FastAPI(lifespan=thread_pool_lifespan(s.api_threads), docs_url=None, redoc_url=None, openapi_url=None,
                  title="zhkh-ops resident")
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_middleware(StrictUtf8)
    app.add_middleware(NoFraming)

    def zone() -> ZoneInfo:
        from incidents.service import rules_from_settings

        return ZoneInfo(rules_from_settings(s).timezone)

    def client_ip(request: Request) -> str:
        return client_address(request.client.host if request.client else None,
                              request.headers.getlist("x-forwarded-for"), proxies)

    def mine(request: Request) -> dict[int, str]:
        """The reports made in this browser: id → token (from the cookie; checked against the
        database before anything is shown)."""
        out: dict[int, str] = {}
        for part in request.cookies.get(MINE_COOKIE, "").split(",")[:MINE_MAX]:
            rid, _, token = part.partition(".")
            if _DIGITS.fullmatch(rid) and _TOKEN.fullmatch(token):
                out[int(rid)] = token
        return out

    def lang_of(request: Request) -> str:
        q = request.query_params.get("lang")
        if q in LANGUAGES:
            return q  # type: ignore[return-value]
        c = request.cookies.get(LANG_COOKIE)
        return c if c in LANGUAGES else (s.language if s.language in LANGUAGES else "ru")

    def csrf_of(request: Request) -> str:
        token = request.cookies.get(CSRF_COOKIE, "")
        return token if re.fullmatch(r"[A-Za-z0-9_-]{20,64}", token) else secrets.token_urlsafe(24)

    def render(request: Request, template: str, status: int = 200, lang: str | None = None,
               **ctx: Any) -> HTMLResponse:
        lang = lang or lang_of(request)
        tx = Texts(lang, zone())
        token = csrf_of(request)
        here = request.url.path
        other = "en" if lang == "ru" else "ru"
        keep = {k: v for k, v in request.query_params.items() if k != "lang"}
        if request.method != "GET":  # the answer to a form: switch the language on the page it came from
            here, keep = ctx.get("switch_path") or "/", {}
        html = env.get_template(template).render(
            t=tx.t, tn=tx.tn, tx=tx, lang=lang, csrf=token, other_lang=other,
            other_lang_url=f"{here}?{urlencode({**keep, 'lang': other})}", languages=LANGUAGES, **ctx)
        resp = HTMLResponse(html, status_code=status)
        resp.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict", max_age=7 * 86400)
        if request.query_params.get("lang") in LANGUAGES:
            resp.set_cookie(LANG_COOKIE, lang, samesite="lax", max_age=365 * 86400)
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Content-Security-Policy"] = CSP
        resp.headers.update(FRAME_HEADERS)
        resp.headers["Referrer-Policy"] = "same-origin"
        return resp

    def error_page(request: Request, status: int, title: str, message: str, **params: Any) -> HTMLResponse:
        return render(request, "error.html", status=status, title_key=title, message_key=message, params=params)

    def check_csrf(request: Request, token: str) -> None:
        cookie = request.cookies.get(CSRF_COOKIE, "")
        if not cookie or not token or not hmac.compare_digest(cookie.encode(), token.encode()):
            raise Page(403, "resident.err.form_title", "resident.err.csrf")

    @app.exception_handler(Page)
    async def _page(request: Request, exc: Page) -> HTMLResponse:
        return error_page(request, exc.status, exc.title, exc.message, **exc.params)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return error_page(request, 404, "resident.err.not_found_title", "resident.err.not_found")
        if exc.status_code == 405:
            resp = error_page(request, 405, "resident.err.form_title", "resident.err.method")
            resp.headers["Allow"] = allowed_methods(app, request.scope)
            return resp
        return error_page(request, exc.status_code, "resident.err.form_title", "resident.err.generic")

    @app.exception_handler(Exception)
    async def _any(request: Request, exc: Exception) -> Response:
        from ops.errors import is_database_down

        if is_database_down(exc):
            return error_page(request, 503, "resident.err.down_title", "resident.err.down")
        import logging

        logging.getLogger("zhkh.resident").exception("resident page failed")
        return error_page(request, 500, "resident.err.down_title", "resident.err.generic")

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: Exception) -> Response:
        return error_page(request, 400, "resident.err.form_title", "resident.err.form")

    @app.middleware("http")
    async def _limit(request: Request, call_next: Any) -> Response:
        path = request.url.path
        if not path.startswith("/static/") and path != "/health":
            cost = 0.25 if path == "/api/addresses" else 1.0
            wait = general.take(client_ip(request), cost)
            if wait > 0:
                retry = max(1, int(wait + 0.999))
                if path.startswith("/api/"):
                    return JSONResponse({"error": "too many requests", "retry_after_s": retry}, status_code=429,
                                        headers={"Retry-After": str(retry)})
                resp = error_page(request, 429, "resident.err.slow_title", "resident.err.slow", seconds=retry)
                resp.headers["Retry-After"] = str(retry)
                return resp
        return await call_next(request)

    # ---- pages -------------------------------------------------------------------------------------

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/", response_class=HTMLResponse)
    def home(request: Request) -> HTMLResponse:
        return render(request, "home.html")

    @app.get("/api/addresses")
    def api_addresses(q: str = "") -> JSONResponse:
        q = q.replace("\x00", "")[:200]
        if len(q.strip()) < 2:
            return JSONResponse([])
        with db().connect() as conn:
            return JSONResponse(queries.suggestions(conn, q))

    @app.get("/search", response_class=HTMLResponse)
    def search(request: Request, q: str = "") -> Response:
        q = q.replace("\x00", "").strip()[:200]
        if _DIGITS.fullmatch(q.lstrip("№#")) or _TOKEN.fullmatch(q):
            return RedirectResponse(f"/report/{q.lstrip('№#')}", status_code=303)
        found = []
        if len(q) >= 2:
            with db().connect() as conn:
                found = queries.suggestions(conn, q, limit=20)
        if len(found) == 1:
            return RedirectResponse(f"/address/{found[0]['id']}", status_code=303)
        return render(request, "home.html", query=q, results=found, searched=True)

    def address_context(building_id: int, now: datetime, mine_ids: dict[int, str] | None = None) -> dict[str, Any]:
        with db().connect() as conn:
            b = queries.building(conn, building_id)
            if b is None:
                raise Page(404, "resident.err.not_found_title", "resident.err.no_address")
            outs = queries.outages_of_building(conn, building_id)
            clocks = clock.clocks(conn, building_id, now)
            reps = queries.reports_of_building(conn, building_id, now)
        from incidents.service import rules_from_settings

        rules = rules_from_settings(s)
        services = [(c, rules.services[c].name) for c in PORTAL_SERVICES if c in rules.services]
        return {"building": b, "outages": outs, "clocks": clocks, "reports": [_report_row(r, rules, now) for r in reps],
                "mine": mine_ids or {},
                "services": services, "without": WITHOUT, "now": now,
                "pct_per_hour": clock.billing_rules().reduction_pct_per_hour}

    @app.get("/address/{building_id}", response_class=HTMLResponse)
    def address(request: Request, building_id: str) -> HTMLResponse:
        if not _DIGITS.fullmatch(building_id):
            raise Page(404, "resident.err.not_found_title", "resident.err.no_address")
        ctx = address_context(int(building_id), utcnow(), mine(request))
        return render(request, "address.html", **ctx, notice=request.query_params.get("done"))

    @app.post("/address/{building_id}/report")
    def new_report(request: Request, building_id: str, csrf: str = Form(""), service_code: str = Form(""),
                   description: str = Form(""), lang: str = Form("ru")) -> Response:
        check_csrf(request, csrf)
        if not _DIGITS.fullmatch(building_id):
            raise Page(404, "resident.err.not_found_title", "resident.err.no_address")
        from incidents.errors import UnknownAddress
        from incidents.intake import InvalidReport

        actor = resident_reports.resident_actor(client_ip(request), salt)
        try:
            result = resident_reports.take(actor, db(), building_id=int(building_id), service_code=service_code,
                                           description=description)
        except UnknownAddress:
            raise Page(404, "resident.err.not_found_title", "resident.err.no_address") from None
        except InvalidReport as exc:
            tx = Texts(lang, zone())
            ctx = address_context(int(building_id), utcnow())
            return render(request, "address.html", status=400, lang=lang, **ctx, switch_path=f"/address/{building_id}",
                          form_errors=[tx.problem(p) for p in exc.problems], form_description=description,
                          form_service=service_code)
        inc = result.incident
        resp = RedirectResponse(f"/report/{inc.public_token}?{urlencode({'lang': lang, 'new': 1})}", status_code=303)
        mine_now = {inc.id: str(inc.public_token), **{k: v for k, v in mine(request).items() if k != inc.id}}
        resp.set_cookie(MINE_COOKIE, ",".join(f"{k}.{v}" for k, v in list(mine_now.items())[:MINE_MAX]),
                        httponly=True, samesite="lax", max_age=REPORT_COOKIE_DAYS * 86400)
        return resp

    @app.post("/address/{building_id}/subscribe")
    def subscribe(request: Request, building_id: str, csrf: str = Form(""), email: str = Form(""),
                  phone: str = Form(""), lang: str = Form("ru")) -> Response:
        """A subscription request: the confirmation mail goes to the address (double opt-in); the
        answer is the same whether the address was new, waiting, unsubscribed or subscribed already."""
        check_csrf(request, csrf)
        from notify import subscriptions
        from notify.errors import InvalidSubscription, TooManyConfirmations, TooManySubscriptions

        if not _DIGITS.fullmatch(building_id):
            raise Page(404, "resident.err.not_found_title", "resident.err.no_address")
        lang = lang if lang in LANGUAGES else "ru"
        actor = resident_reports.resident_actor(client_ip(request), salt)
        try:
            subscriptions.subscribe(db(), building_id=int(building_id), email=email, phone=phone or None,
                                    lang=lang, actor=actor.author, now=utcnow())
        except InvalidSubscription as exc:
            params: dict[str, Any] = {}
            if isinstance(exc, TooManySubscriptions):
                key, params = N_("resident.sub.too_many"), {"max": exc.limit}
            elif isinstance(exc, TooManyConfirmations):
                key, params = N_("resident.sub.too_often"), {"max": exc.limit}
            elif "building" in str(exc):
                raise Page(404, "resident.err.not_found_title", "resident.err.no_address") from None
            else:
                key = "resident.sub.bad_phone" if "phone" in str(exc) else "resident.sub.bad_email"
            ctx = address_context(int(building_id), utcnow())
            status = 429 if isinstance(exc, (TooManySubscriptions, TooManyConfirmations)) else 400
            return render(request, "address.html", status=status, lang=lang, **ctx,
                          switch_path=f"/address/{building_id}", sub_error=key, sub_error_params=params,
                          sub_email=email)
        return RedirectResponse(f"/address/{building_id}?{urlencode({'lang': lang, 'done': 'subscribed'})}#subscribe",
                                status_code=303)

    @app.get("/confirm/{token}", response_class=HTMLResponse)
    def confirm_form(request: Request, token: str) -> HTMLResponse:
        """The link of the confirmation mail: a page with a button (a GET changes nothing, so a mail
        scanner that opens links cannot subscribe anybody)."""
        from notify import subscriptions

        address = subscriptions.pending_address(db(), token, now=utcnow())
        if address is None:
            raise Page(404, "resident.err.not_found_title", "resident.confirm.unknown")
        return render(request, "confirm.html", token=token, address=address, done=False)

    @app.post("/confirm/{token}", response_class=HTMLResponse)
    def confirm(request: Request, token: str, csrf: str = Form("")) -> HTMLResponse:
        check_csrf(request, csrf)
        from notify import subscriptions

        row = subscriptions.confirm(db(), token, actor="resident:confirm", now=utcnow())
        if row is None:
            raise Page(404, "resident.err.not_found_title", "resident.confirm.unknown")
        return render(request, "confirm.html", token="", address=row["address"], done=True,
                      switch_path="/")

    @app.get("/unsubscribe/{token}", response_class=HTMLResponse)
    def unsubscribe_form(request: Request, token: str) -> HTMLResponse:
        return render(request, "unsubscribe.html", token=token[:100], done=None)

    @app.post("/unsubscribe/{token}", response_class=HTMLResponse)
    def unsubscribe(request: Request, token: str, csrf: str = Form("")) -> HTMLResponse:
        check_csrf(request, csrf)
        from notify import subscriptions

        row = subscriptions.unsubscribe(db(), token, actor="resident:unsubscribe", now=utcnow())
        if row is None:
            raise Page(404, "resident.err.not_found_title", "resident.unsub.unknown")
        return render(request, "unsubscribe.html", token=token, done=row["address"])

    @app.get("/report", response_class=HTMLResponse)
    def report_lookup(request: Request, number: str = "") -> Response:
        number = number.strip().lstrip("№#").strip()
        if not (_DIGITS.fullmatch(number) or _TOKEN.fullmatch(number)):
            raise Page(400, "resident.err.form_title", "resident.err.report_number")
        return RedirectResponse(f"/report/{number}", status_code=303)

    def report_by_token(token: str) -> dict[str, Any]:
        with db().connect() as conn:
            r = queries.report_by_token(conn, token) if _TOKEN.fullmatch(token) else None
        if r is None:
            raise Page(404, "resident.err.no_report_title", "resident.err.no_report_link")
        return r

    def report_context(r: dict[str, Any], now: datetime) -> dict[str, Any]:
        from incidents.redact import public_description
        from incidents.service import rules_from_settings

        with db().connect() as conn:
            events = queries.timeline(conn, int(r["id"]))
            linked = queries.outage(conn, r["outage_id"], r["building_id"]) if r["outage_id"] is not None else None
        rules = rules_from_settings(s)
        row = _report_row(r, rules, now)
        row["description"] = public_description(r["description"], r["description_private"])
        row["private"] = bool(r["description_private"]) and bool(r["description"])
        reopen_ok = (r["status"] == "resolved" and not (r["attributes"] or {}).get("reopened_at")
                     and r["resolved_at"] is not None
                     and (now - r["resolved_at"]).days < resident_reports.REOPEN_DAYS)
        return {"r": row, "events": [_event_row(e) for e in events], "reopen_ok": reopen_ok, "outage": linked}

    @app.get("/report/{key}", response_class=HTMLResponse)
    def report_page(request: Request, key: str) -> Response:
        if _DIGITS.fullmatch(key):
            # a bare number: only the browser that made the report is sent on to its page
            token = mine(request).get(int(key))
            if token is not None:
                with db().connect() as conn:
                    r = queries.report_by_token(conn, token)
                if r is not None and int(r["id"]) == int(key):
                    keep = {k: v for k, v in request.query_params.items()}
                    return RedirectResponse(f"/report/{token}" + (f"?{urlencode(keep)}" if keep else ""),
                                            status_code=303)
            raise Page(404, "resident.err.no_report_title", "resident.err.no_report", number=key)
        ctx = report_context(report_by_token(key), utcnow())
        return render(request, "report.html", **ctx, new=request.query_params.get("new"),
                      reopened=request.query_params.get("reopened"), token=key, site=s.resident_url.rstrip("/"))

    @app.post("/report/{key}/reopen", response_class=HTMLResponse)
    def reopen(request: Request, key: str, csrf: str = Form(""), lang: str = Form("ru")) -> Response:
        check_csrf(request, csrf)
        r = report_by_token(key)
        from incidents.errors import ConcurrentEdit, IncidentNotFound

        actor = resident_reports.resident_actor(client_ip(request), salt)
        try:
            resident_reports.reopen(db(), int(r["id"]), actor=actor, now=utcnow())
        except IncidentNotFound:
            raise Page(404, "resident.err.no_report_title", "resident.err.no_report_link") from None
        except resident_reports.ReopenRefused as exc:
            ctx = report_context(report_by_token(key), utcnow())
            return render(request, "report.html", status=409, lang=lang, **ctx, switch_path=f"/report/{key}",
                          refused=REOPEN_REFUSED[exc.reason], token=key)
        except ConcurrentEdit:
            ctx = report_context(report_by_token(key), utcnow())
            return render(request, "report.html", status=409, lang=lang, **ctx, switch_path=f"/report/{key}",
                          refused="resident.reopen.busy", token=key)
        return RedirectResponse(f"/report/{key}?{urlencode({'lang': lang, 'reopened': 1})}", status_code=303)

    @app.post("/account", response_class=HTMLResponse)
    def account(request: Request, csrf: str = Form(""), number: str = Form(""), code: str = Form(""),
                lang: str = Form("ru"), back: str = Form("")) -> HTMLResponse:
        check_csrf(request, csrf)
        wait = code_tries.take(client_ip(request))
        if wait > 0:
            retry = max(1, int(wait + 0.999))
            resp = error_page(request, 429, "resident.err.slow_title", "resident.err.slow_codes",
                              minutes=max(1, (retry + 59) // 60))
            resp.headers["Retry-After"] = str(retry)
            return resp
        number = number.strip().replace(" ", "")
        now = utcnow()
        outcome = account_codes.check(
            db(), number if _ACCOUNT.fullmatch(number) else "", code[:200], now=now,
            actor=resident_reports.resident_actor(client_ip(request), salt).author,
            max_failures=max(1, s.resident_code_account_failures), lock=timedelta(minutes=s.resident_code_lock_min))
        acc = outcome.account
        back = back if _safe_back(back) else "/"
        if outcome.locked_until is not None:
            retry = max(1, int((outcome.locked_until - now).total_seconds() + 0.999))
            resp = render(request, "account_refused.html", status=429, lang=lang, back=back, switch_path=back,
                          locked_minutes=max(1, (retry + 59) // 60))
            resp.headers["Retry-After"] = str(retry)
            return resp
        if acc is None:
            return render(request, "account_refused.html", status=403, lang=lang, back=back, switch_path=back)
        with db().connect() as conn:
            period, charges = queries.latest_charges(conn, acc["id"])
        tx = Texts(lang, zone())
        for c in charges:
            for line in c["lines"]:
                line["label"] = tx.t(LINE_KINDS.get(line["kind"], "resident.line.consumption"))
                line["explain"] = _explain(line, tx)
                line["unit_word"] = tx.t(UNITS[line["unit"]]) if line.get("unit") in UNITS else (line.get("unit") or "")
            c["unit_word"] = tx.t(UNITS[c["unit"]]) if c["unit"] in UNITS else c["unit"]
        return render(request, "account.html", lang=lang, switch_path=f"/address/{acc['building_id']}", acc=acc,
                      period=period, charges=charges,
                      total=sum((c["total_rub"] for c in charges), start=0))

    def _report_row(r: dict[str, Any], rules: Any, now: datetime) -> dict[str, Any]:
        from incidents.sla import due_at, sla_state

        try:
            due = due_at(r, rules)
            state = sla_state(due, r["resolved_at"], now, rules.at_risk_fraction, created_at=r["created_at"])
        except Exception:
            due, state = None, "on_time"
        closed = r["status"] in ("resolved", "closed", "rejected", "duplicate", "cancelled")
        rule = rules.services.get(r["service_code"])
        return {**r, "due": due, "overdue": state in ("overdue", "breached") and r["status"] not in
                ("rejected", "duplicate", "cancelled"), "sla": state, "closed": closed,
                "due_by_outage": r.get("outage_id") is not None and r.get("outage_end") is not None
                and due == r.get("outage_end"),
                "service_name": rule.name if rule else r["service_code"],
                "reopened": bool((r["attributes"] or {}).get("reopened_at"))}

    def _event_row(e: dict[str, Any]) -> dict[str, Any]:
        note = e["note"] or ""
        m = HISTORY.match(note)
        key = None
        params: dict[str, Any] = {}
        if m:
            key, params = f"history.outage.{(m.group(2) or 'linked').replace(' ', '_')}", {"id": m.group(1)}
        elif note in SYSTEM_NOTES:
            key = SYSTEM_NOTES[note]
        return {"at": e["at"], "to": e["to_status"], "from": e["from_status"], "note_key": key, "note_params": params}

    from resident.app_extra import add_routes  # «Тарифы» and the installable app (resident/app_extra.py)

    add_routes(app, db=db, render=render, page_error=Page, csrf_of=csrf_of, csrf_cookie=CSRF_COOKIE,
               actor_of=lambda r: resident_reports.resident_actor(client_ip(r), salt),
               default_lang=s.language if s.language in LANGUAGES else "ru",
               today=lambda: utcnow().astimezone(zone()).date(), zone=zone, static_dir=HERE / "static")
    return app


REPORT_COOKIE_DAYS = 90


class StrictUtf8:
    """Refuse a form body or a query string that is not valid UTF-8 — also inside %-escapes — with a
    400 page before anything reads it (Starlette would decode it as Latin-1 or with U+FFFD, and the
    intake would store the mojibake), as the Open311 API does."""

    def __init__(self, app: Any) -> None:
        self.app = app

    @staticmethod
    def _bad(raw: bytes) -> bool:
        from urllib.parse import parse_qsl

        try:
            parse_qsl(raw.decode("utf-8"), keep_blank_values=True, errors="strict")
        except UnicodeDecodeError:
            return True
        except ValueError:
            return False
        return False

    async def _refuse(self, scope: Any, receive: Any, send: Any, key: str = N_("resident.err.utf8")) -> None:
        lang = "en" if b"lang=en" in scope.get("query_string", b"") or \
            b"zr_lang=en" in dict(scope.get("headers") or []).get(b"cookie", b"") else "ru"
        from i18n import translate

        from html import escape

        def tr(k: str) -> str:
            return escape(translate(lang, k))

        html = ('<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
                '<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>'
                '<link rel="stylesheet" href="/static/resident.css"></head><body>'
                '<header class="top"><a class="brand" href="/?lang={lang}">{brand}</a></header><main>'
                '<section class="card"><h1>{title}</h1><p class="error" role="alert">{message}</p>'
                '<p><a href="/?lang={lang}">← {back}</a></p></section></main></body></html>').format(
            lang=lang, title=tr("resident.err.form_title"), brand=tr("resident.title"), message=tr(key),
            back=tr("resident.back"))
        resp = HTMLResponse(html, status_code=400, headers={"X-Content-Type-Options": "nosniff",
                                                            "Content-Security-Policy": CSP, **FRAME_HEADERS})
        await resp(scope, receive, send)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._bad(scope.get("query_string", b"")):
            await self._refuse(scope, receive, send)
            return
        if scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > MAX_FORM_BYTES or not message.get("more_body", False):
                break
        body = b"".join(chunks)
        ctype = dict(scope.get("headers") or []).get(b"content-type", b"").split(b";")[0].strip().lower()
        if size > MAX_FORM_BYTES:
            await self._refuse(scope, receive, send, N_("resident.err.too_big"))
            return
        if (ctype == b"application/x-www-form-urlencoded" and self._bad(body)) or not _utf8_ok(body):
            await self._refuse(scope, receive, send)
            return
        sent = False

        async def replay() -> Any:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


MAX_FORM_BYTES = 64 * 1024


def _utf8_ok(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _safe_back(back: str) -> bool:
    return bool(re.fullmatch(r"/address/[0-9]{1,12}", back or ""))


def _when_off(details: dict[str, Any], outage_id: int, tx: Texts) -> str:
    """" (08.10.2026 21:10 – 09.10.2026 09:40)": when outage ``outage_id`` of a charge line's details was
    off, in the region's time; the end as a time only on the same day; "" when the details lack it."""
    found = next((o for o in details.get("outages") or [] if isinstance(o, dict) and o.get("id") == outage_id), None)
    try:
        start = datetime.fromisoformat(str(found["start"])) if found else None
        end = datetime.fromisoformat(str(found["end"])) if found and found.get("end") else None
    except (TypeError, ValueError, KeyError):
        return ""
    if start is None or start.tzinfo is None or (end is not None and end.tzinfo is None):
        return ""
    if end is None:
        return f" ({tx.when(start)} –)"
    same_day = start.astimezone(tx.zone).date() == end.astimezone(tx.zone).date()
    return f" ({tx.when(start)} – {end.astimezone(tx.zone):%H:%M})" if same_day else f" ({tx.when(start)} – {tx.when(end)})"


def _explain(line: dict[str, Any], tx: Texts) -> str:
    """A reduction or correction line in words: "−0.9 %: 6 h beyond the 8 h allowance, outage №12"."""
    d = line.get("details") or {}
    if not isinstance(d, dict):
        return ""
    if line["kind"] == "correction" and isinstance(d.get("recalculation"), dict):
        inner = {**line, "kind": "reduction", "details": d["recalculation"]}
        return tx.t("resident.explain.correction", period=str(d.get("for_period", "")), why=_explain(inner, tx))
    if line["kind"] != "reduction":
        return ""

    def first(*names: str) -> Any:
        return next((d[n] for n in names if d.get(n) not in (None, "")), None)

    pct, excess = first("pct", "reduction_pct"), first("excess_h", "excess", "hours_over")
    allowance, hours = first("allowance_h", "allowance"), first("interruption_h", "hours")
    ids = [int(i) for i in (line.get("outage_ids") or [])]
    outs = ", ".join(f"№{i}{_when_off(d, i, tx)}" for i in ids)
    if pct is None or excess is None or allowance is None:
        return tx.tn("resident.explain.outages", len(ids), outages=outs) if ids else ""
    return tx.tn("resident.explain.reduction", len(ids), pct=tx.number(pct, 3), excess=tx.number(excess, 2),
                 allowance=tx.number(allowance, 2), hours=tx.number(hours or 0, 2), outages=outs)
