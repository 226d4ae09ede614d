"""What every route of the residents' page shares: the app's state (``Site``, kept in ``app.state.site``),
the page renderer with its headers and cookies, the cookies' readers, and ``Page`` — the error page a
route raises."""
from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import Engine

from auth.model import Actor
from gis.serving import lazy_engine, lazy_read_engine
from apps.http.pwa import request_lang
from i18n import LANGUAGES
from incidents.service import rules_from_settings
from ops.resident import resident_actor
from resident.ratelimit import Buckets, client_address, trusted_networks
from resident.texts import Texts
from settings import Settings

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
CSRF_COOKIE = "zr_csrf"
LANG_COOKIE = "zr_lang"
MINE_COOKIE = "zr_mine"   # the reports made in this browser: "id.token,…" (opens /report/<number> for them)
MINE_MAX = 20
REPORT_COOKIE_DAYS = 90
DIGITS = re.compile(r"[0-9]{1,12}")
TOKEN = re.compile(r"[0-9a-f]{32}")
_CSRF = re.compile(r"[A-Za-z0-9_-]{20,64}")
FRAME_HEADERS = {"X-Frame-Options": "DENY"}
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Page(Exception):
    """Answer with an error page: ``status``, a title key and a message key (with params)."""

    def __init__(self, status: int, title: str, message: str, **params: Any) -> None:
        self.status, self.title, self.message, self.params = status, title, message, params
        super().__init__(message)


def no_address() -> Page:
    """The page of an address (building id) that is not one."""
    return Page(404, "resident.err.not_found_title", "resident.err.no_address")


@dataclass
class Site:
    """The state of one residents' app: its settings, databases, templates and rate limits. The IP
    hash in authors is salted per process, so no lasting record of an IP is kept.

    ``db`` is the leader (every write, and every read that must see one: a report's page, the address
    page a form sends the resident back to, the rate limits); ``read_db`` the look-ups that may be a
    moment behind — address search and suggestions, tariffs, an address's page — on the standby when
    ``ZHKH_READ_DATABASE_URL`` names one, else the same engine as ``db``."""

    settings: Settings
    db: Callable[[], Engine]     # made at the first call: the page starts while the database is down
    read_db: Callable[[], Engine]
    templates: Environment
    general: Buckets             # every request, per IP (in the database: shared by every replica)
    code_tries: Buckets          # account-code tries, per IP
    salt: str
    proxies: tuple[Any, ...]

    @classmethod
    def make(cls, engine: Engine | None, s: Settings) -> Site:
        db = lazy_engine(engine, s.database_url)
        return cls(settings=s, db=db, read_db=lazy_read_engine(engine, s.read_database_url, s.database_url),
                   templates=Environment(loader=FileSystemLoader(HERE / "templates"),
                                         autoescape=select_autoescape(default=True),
                                         trim_blocks=True, lstrip_blocks=True),
                   general=Buckets(db, "general", max(1.0, s.resident_rate_per_min), 60.0),
                   code_tries=Buckets(db, "code_tries", max(1.0, s.resident_code_tries_per_hour), 3600.0),
                   salt=secrets.token_hex(8), proxies=trusted_networks(s.trusted_proxies))

    @property
    def default_lang(self) -> str:
        return self.settings.language if self.settings.language in LANGUAGES else "ru"

    def zone(self) -> ZoneInfo:
        return ZoneInfo(rules_from_settings(self.settings).timezone)

    def today(self) -> date:
        return utcnow().astimezone(self.zone()).date()

    def client_ip(self, request: Request) -> str:
        return client_address(request.client.host if request.client else None,
                              request.headers.getlist("x-forwarded-for"), self.proxies)

    def actor(self, request: Request) -> Actor:
        """The author of this request's write (``ops.resident.resident_actor``)."""
        return resident_actor(self.client_ip(request), self.salt)


def site_of(request: Request) -> Site:
    """The app's ``Site`` (a FastAPI dependency as well)."""
    return request.app.state.site


def lang_of(request: Request) -> str:
    """The page's language: ``?lang=``, else the language cookie, else the settings'."""
    return request_lang(request, LANG_COOKIE, site_of(request).default_lang)


def csrf_of(request: Request) -> str:
    """The CSRF token of this browser: its cookie's when valid, else a new one (set by the answer)."""
    token = request.cookies.get(CSRF_COOKIE, "")
    return token if _CSRF.fullmatch(token) else secrets.token_urlsafe(24)


def csrf_matches(request: Request, token: str) -> bool:
    """Double submit: ``token`` (the form's field or the app's header) equals the CSRF cookie."""
    cookie = request.cookies.get(CSRF_COOKIE, "")
    return bool(cookie and token) and hmac.compare_digest(cookie.encode(), token.encode())


def set_csrf_cookie(resp: Response, token: str) -> None:
    resp.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict", max_age=7 * 86400)


def mine(request: Request) -> dict[int, str]:
    """The reports made in this browser: id → token (from the cookie; checked against the database
    before anything is shown)."""
    out: dict[int, str] = {}
    for part in request.cookies.get(MINE_COOKIE, "").split(",")[:MINE_MAX]:
        rid, _, token = part.partition(".")
        if DIGITS.fullmatch(rid) and TOKEN.fullmatch(token):
            out[int(rid)] = token
    return out


def remember_mine(request: Request, resp: Response, incident_id: int, token: str) -> None:
    """Add a report made in this browser to its ``zr_mine`` cookie (newest first, at most ``MINE_MAX``):
    then ``/report/<number>`` opens the report's page here."""
    mine_now = {int(incident_id): str(token), **{k: v for k, v in mine(request).items() if k != int(incident_id)}}
    resp.set_cookie(MINE_COOKIE, ",".join(f"{k}.{v}" for k, v in list(mine_now.items())[:MINE_MAX]),
                    httponly=True, samesite="lax", max_age=REPORT_COOKIE_DAYS * 86400)


def render(request: Request, template: str, status: int = 200, lang: str | None = None, **ctx: Any) -> HTMLResponse:
    """A page of ``template`` in the request's language (or ``lang``, a form's), with the CSRF cookie,
    the language switch (on a form's answer: to ``switch_path``) and the safety headers."""
    site = site_of(request)
    lang = lang or lang_of(request)
    token = csrf_of(request)
    here = request.url.path
    other = "en" if lang == "ru" else "ru"
    keep = {k: v for k, v in request.query_params.items() if k != "lang"}
    if request.method != "GET":  # the answer to a form: switch the language on the page it came from
        here, keep = ctx.get("switch_path") or "/", {}
    tx = Texts(lang, site.zone())
    html = site.templates.get_template(template).render(
        t=tx.t, tn=tx.tn, tx=tx, lang=lang, csrf=token, other_lang=other,
        other_lang_url=f"{here}?{urlencode({**keep, 'lang': other})}", languages=LANGUAGES, **ctx)
    resp = HTMLResponse(html, status_code=status)
    set_csrf_cookie(resp, token)
    if request.query_params.get("lang") in LANGUAGES:
        resp.set_cookie(LANG_COOKIE, lang, samesite="lax", max_age=365 * 86400)
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Content-Security-Policy"] = CSP
    resp.headers.update(FRAME_HEADERS)
    resp.headers["Referrer-Policy"] = "same-origin"
    return resp


def error_page(request: Request, status: int, title: str, message: str, **params: Any) -> HTMLResponse:
    return render(request, "error.html", status=status, title_key=title, message_key=message, params=params)


def retry_after(resp: Response, seconds: int) -> Response:
    resp.headers["Retry-After"] = str(seconds)
    return resp
