"""What every route of the crews' phone page shares: the app's state (``FieldSite``), the signed-in crew
(the session cookie, sessions kept in the database by ``ops.users``), the CSRF double submit, the page
renderer (language, region's time zone, safety headers) and ``Refusal`` — an error a route raises."""
from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import Engine

from auth.model import Actor, User
from gis.serving import lazy_engine
from apps.http.pwa import request_lang
from i18n import LANGUAGES
from incidents.service import rules_from_settings
from ops import users
from resident.texts import Texts
from settings import Settings

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
SESSION_COOKIE = "zf_session"
CSRF_COOKIE = "zf_csrf"
LANG_COOKIE = "zf_lang"
_CSRF = re.compile(r"[A-Za-z0-9_-]{20,64}")
CSP = ("default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
SAFETY = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin",
          "Content-Security-Policy": CSP}


class Refusal(Exception):
    """Answer with a worded refusal: ``status`` and a text key (with params); JSON under ``/api/``."""

    def __init__(self, status: int, key: str, **params: Any) -> None:
        self.status, self.key, self.params = status, key, params
        super().__init__(key)


@dataclass
class FieldSite:
    settings: Settings
    db: Callable[[], Engine]     # made at the first call: the page starts while the database is down
    templates: Environment

    @classmethod
    def make(cls, engine: Engine | None, s: Settings) -> FieldSite:
        return cls(settings=s, db=lazy_engine(engine, s.database_url),
                   templates=Environment(loader=FileSystemLoader(HERE / "templates"),
                                         autoescape=select_autoescape(default=True),
                                         trim_blocks=True, lstrip_blocks=True))

    @property
    def default_lang(self) -> str:
        return self.settings.language if self.settings.language in LANGUAGES else "ru"

    def zone(self) -> ZoneInfo:
        return ZoneInfo(rules_from_settings(self.settings).timezone)


def site_of(request: Request) -> FieldSite:
    return request.app.state.site


def lang_of(request: Request) -> str:
    """The page's language: ``?lang=``, else the language cookie, else the settings'."""
    return request_lang(request, LANG_COOKIE, site_of(request).default_lang)


def texts(request: Request) -> Texts:
    return Texts(lang_of(request), site_of(request).zone())


def csrf_of(request: Request) -> str:
    token = request.cookies.get(CSRF_COOKIE, "")
    return token if _CSRF.fullmatch(token) else secrets.token_urlsafe(24)


def csrf_matches(request: Request, token: str) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE, "")
    return bool(cookie and token) and hmac.compare_digest(cookie.encode(), token.encode())


def signed_in(request: Request) -> User | None:
    """The user of the session cookie (an ended, idle or disabled session: nobody)."""
    site = site_of(request)
    return users.resume(request.cookies.get(SESSION_COOKIE), settings=site.settings, bind=site.db())


def crew_actor(request: Request) -> Actor:
    """The signed-in crew member (nobody: 401 — the page sends the browser to sign in)."""
    user = signed_in(request)
    if user is None:
        raise Refusal(401, "fieldapp.err.signed_out")
    return Actor.of(user)


def secure(resp: Response) -> Response:
    resp.headers.update(SAFETY)
    return resp


def render(request: Request, template: str, status: int = 200, **ctx: Any) -> HTMLResponse:
    """A page of ``template`` in the request's language, with the CSRF cookie and the language switch."""
    site = site_of(request)
    lang = lang_of(request)
    token = csrf_of(request)
    other = "en" if lang == "ru" else "ru"
    keep = {k: v for k, v in request.query_params.items() if k != "lang"}
    here = request.url.path if request.method == "GET" else "/"
    tx = Texts(lang, site.zone())
    html = site.templates.get_template(template).render(
        t=tx.t, tn=tx.tn, tx=tx, lang=lang, csrf=token, other_lang=other, languages=LANGUAGES,
        other_lang_url=f"{here}?{urlencode({**keep, 'lang': other})}", **ctx)
    resp = HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-cache"})
    resp.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict", max_age=30 * 86400)
    resp.set_cookie(LANG_COOKIE, lang, samesite="lax", max_age=365 * 86400)
    return secure(resp)  # type: ignore[return-value]


def refusal_page(request: Request, status: int, key: str, **params: Any) -> Response:
    if request.url.path.startswith("/api/"):
        tx = texts(request)
        return secure(JSONResponse({"error": tx.t(key, **params), "key": key}, status_code=status,
                                   headers={"Cache-Control": "no-store"}))
    return render(request, "error.html", status=status, message_key=key, params=params)
