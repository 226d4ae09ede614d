"""What the residents' page adds beside its core pages (``resident/web.py`` includes it with one call):

- «Тарифы»: ``/tariffs`` (an address search), ``/address/<id>/tariffs`` (the page) and
  ``GET /api/tariffs?address=<text or id>`` (the same as JSON) — ``resident/tariffs.py``;
- the installable app: ``/manifest.webmanifest``, the service worker ``/sw.js`` (scope ``/``), the
  offline page ``/offline``, ``GET /api/csrf`` and ``POST /api/reports`` for a report written
  offline and sent when the connection returns (its client-generated id is the intake's
  ``client_token``, so a second send of it stores nothing new).
"""
from __future__ import annotations

import hmac
import json
import re
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from babel.dates import format_date
from babel.numbers import format_decimal
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy import Engine

from i18n import LANGUAGES, translate
from resident import tariffs as address_tariffs_mod
from resident.texts import UNITS

#: a queued report's id: a UUID the page makes (crypto.randomUUID), kept as ``portal:<uuid>``
CLIENT_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
SERVICE_NAMES = {
    "cold_water": "resident.tariffs.service.cold_water", "hot_water": "resident.tariffs.service.hot_water",
    "sewer": "resident.tariffs.service.sewer", "heating": "resident.tariffs.service.heating",
    "electricity": "resident.tariffs.service.electricity", "gas": "resident.tariffs.service.gas",
}
PER = {"person": "resident.tariffs.per_person", "m2": "resident.tariffs.per_m2"}
MONTH_BASIS = {"charges": "resident.tariffs.basis_charges", "normative": "resident.tariffs.basis_normative",
               "normative_one_person": "resident.tariffs.basis_one_person"}
APP_NAME = {"ru": "resident.app.name", "en": "resident.app.name"}
_DIGITS = re.compile(r"[0-9]{1,12}")


def client_token(client_id: str) -> str:
    """The intake's idempotency key of a portal report with the page's ``client_id``."""
    return f"portal:{client_id}"


class Fmt:
    """Numbers, money and dates of one language with Babel (a decimal comma in Russian)."""

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGUAGES else "ru"

    def number(self, value: Any, places: int = 4) -> str:
        if value is None:
            return "—"
        return format_decimal(Decimal(str(value)), format="#,##0." + "#" * places, locale=self.lang)

    def money(self, value: Any) -> str:
        if value is None:
            return "—"
        return format_decimal(Decimal(str(value)), format="#,##0.00", locale=self.lang) + "\u00a0₽"

    def day(self, value: date | None) -> str:
        return "—" if value is None else format_date(value, format="long", locale=self.lang)


def _lang(request: Request, fallback: str) -> str:
    q = request.query_params.get("lang")
    if q in LANGUAGES:
        return q  # type: ignore[return-value]
    c = request.cookies.get("zr_lang")
    return c if c in LANGUAGES else fallback


def tariffs_view(data: dict[str, Any], lang: str) -> dict[str, Any]:
    """``resident.tariffs.address_tariffs`` with every figure and word in ``lang`` (for page and JSON)."""
    f = Fmt(lang)
    t = lambda key, **p: translate(lang, key, **p)  # noqa: E731
    out = []
    for s in data["services"]:
        unit = t(UNITS[s["unit"]]) if s["unit"] in UNITS else s["unit"]
        norm = s["normative"]
        m = s["month"]
        out.append({
            **s,
            "name": t(SERVICE_NAMES[s["service"]]), "unit_text": unit,
            "price_text": t("resident.tariffs.price", price=f.money(s["price_rub"]), unit=unit),
            "since_text": f.day(s["valid_from"]),
            "previous_text": (t("resident.tariffs.previous_was", price=f.money(s["previous"]["price_rub"]),
                                unit=unit, start=f.day(s["previous"]["valid_from"]), end=f.day(s["previous"]["valid_to"]))
                              if s["previous"] else t("resident.tariffs.no_previous")),
            "next_text": (t("resident.tariffs.next_on", date=f.day(s["next_change"]["date"]),
                            price=f.money(s["next_change"]["price_rub"]), unit=unit)
                          if s["next_change"] else t("resident.tariffs.no_next")),
            "normative_text": (t("resident.tariffs.normative_value", value=f.number(norm["value"]), unit=unit,
                                 per=t(PER[norm["per"]])) if norm else ""),
            "metered_text": (t("resident.tariffs.metered", n=s["metered_flats"], of=s["flats"])
                             if s["flats"] and s["service"] != "heating" else ""),
            "month_text": (t("resident.tariffs.month_cost", quantity=f.number(m["quantity"], 2), unit=unit,
                             cost=f.money(m["cost_rub"])) if m["cost_rub"] is not None
                           else t("resident.tariffs.month_unknown")),
            "month_basis_text": t(MONTH_BASIS[m["basis"]], months=m["months"]),
        })
    return {**data, "services": out, "date_text": f.day(data["date"]),
            "month_total_text": f.money(data["month_total_rub"])}


def _json_value(v: Any) -> Any:
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, (date, datetime)):
        return v.isoformat()
    if isinstance(v, dict):
        return {k: _json_value(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_json_value(x) for x in v]
    return v


def tariffs_json(view: dict[str, Any], lang: str) -> dict[str, Any]:
    """The JSON form of the «Тарифы» view: the figures as numbers, the texts in ``lang``."""
    services = []
    for s in view["services"]:
        services.append({
            "service": s["service"], "name": s["name"], "unit": s["unit"], "unit_text": s["unit_text"],
            "price_rub": s["price_rub"], "price_text": s["price_text"], "valid_from": s["valid_from"],
            "previous": s["previous"], "next_change": s["next_change"], "normative": s["normative"],
            "normative_text": s["normative_text"] or None, "metered_flats": s["metered_flats"], "flats": s["flats"],
            "organisation": s["organisation"] or None, "legal_basis": s["legal_basis"] or None,
            "month": {**s["month"], "text": s["month_text"], "basis_text": s["month_basis_text"]},
        })
    return _json_value({
        "address": view["building"], "date": view["date"], "lang": lang, "services": services,
        "month_total_rub": view["month_total_rub"], "month_total_text": view["month_total_text"],
        "month_total_complete": view["month_total_complete"], "household": view["household"],
        "source": view["source"] or None,
    })


def add_routes(app: FastAPI, *, db: Callable[[], Engine], render: Callable[..., HTMLResponse],
               page_error: Callable[..., Exception], csrf_of: Callable[[Request], str], csrf_cookie: str,
               actor_of: Callable[[Request], Any], default_lang: str, today: Callable[[], date],
               zone: Callable[[], Any], static_dir: Path) -> None:
    """Add «Тарифы» and the app's routes to the residents' ``app`` (``resident/web.py``): ``render``
    and ``page_error`` are its page and error, ``csrf_of`` its CSRF token of a request (the cookie's
    when valid) kept in the cookie ``csrf_cookie``, ``actor_of`` the author of a resident's write."""

    def csrf_ok(request: Request, token: str) -> bool:
        cookie = request.cookies.get(csrf_cookie, "")
        return bool(cookie and token) and hmac.compare_digest(cookie.encode(), token.encode())

    billed: dict[tuple[str, float], tuple[str, ...] | None] = {}

    def billed_services() -> tuple[str, ...] | None:
        """The services the billing charges (the tariffs file's list, read again when the file
        changes), ``None`` (all in the table) when the file cannot be read."""
        from billing.errors import BillingError
        from billing.tariffs import load_tariffs, tariffs_path

        try:
            path = tariffs_path()
            key = (str(path), path.stat().st_mtime)
            if key not in billed:
                billed.clear()
                billed[key] = load_tariffs(path).services
            return billed[key]
        except (BillingError, OSError):
            return None

    def tariffs_of(building: dict[str, Any], lang: str) -> dict[str, Any]:
        with db().connect() as conn:
            data = address_tariffs_mod.address_tariffs(conn, building, today(), lang=lang,
                                                       services=billed_services())
        return tariffs_view(data, lang)

    # ---- «Тарифы» ----------------------------------------------------------------------------------

    @app.get("/tariffs", response_class=HTMLResponse)
    def tariffs_search(request: Request, address: str = "") -> Response:
        lang = _lang(request, default_lang)
        q = address.replace("\x00", "").strip()[:200]
        if not q:
            return render(request, "tariffs_search.html")
        try:
            with db().connect() as conn:
                b = address_tariffs_mod.resolve_address(conn, q)
        except address_tariffs_mod.Ambiguous as exc:
            return render(request, "tariffs_search.html", query=q, results=exc.matches, searched=True)
        except address_tariffs_mod.AddressNotFound:
            return render(request, "tariffs_search.html", status=404, query=q, results=[], searched=True)
        return RedirectResponse(f"/address/{b['id']}/tariffs?lang={lang}", status_code=303)

    @app.get("/address/{building_id}/tariffs", response_class=HTMLResponse)
    def tariffs_page(request: Request, building_id: str) -> HTMLResponse:
        if not _DIGITS.fullmatch(building_id):
            raise page_error(404, "resident.err.not_found_title", "resident.err.no_address")
        with db().connect() as conn:
            from resident import queries

            b = queries.building(conn, int(building_id))
        if b is None:
            raise page_error(404, "resident.err.not_found_title", "resident.err.no_address")
        lang = _lang(request, default_lang)
        return render(request, "tariffs.html", building=b, view=tariffs_of(b, lang))

    @app.get("/api/tariffs")
    def api_tariffs(request: Request, address: str = "") -> JSONResponse:
        """``?address=`` a building id or an address text (as the search box takes it); ``lang=ru|en``.
        404 with ``error`` when nothing matches; 400 with ``error`` and ``matches`` (id, address) when
        the text names several buildings — ask again with one of the ids."""
        lang = _lang(request, default_lang)
        try:
            with db().connect() as conn:
                b = address_tariffs_mod.resolve_address(conn, address)
        except address_tariffs_mod.AddressNotFound as exc:
            return JSONResponse({"error": str(exc)}, status_code=404)
        except address_tariffs_mod.Ambiguous as exc:
            return JSONResponse({"error": f"{len(exc.matches)} addresses match {exc.query!r}: give one of their ids",
                                 "matches": exc.matches}, status_code=400)
        return JSONResponse(tariffs_json(tariffs_of(b, lang), lang))

    # ---- the app -----------------------------------------------------------------------------------

    @app.get("/manifest.webmanifest")
    def manifest(request: Request) -> Response:
        lang = _lang(request, default_lang)
        body = {
            "name": translate(lang, "resident.app.name"), "short_name": translate(lang, "resident.app.short_name"),
            "description": translate(lang, "resident.lead"), "lang": lang, "dir": "ltr",
            "id": "/", "start_url": f"/?lang={lang}&source=app", "scope": "/", "display": "standalone",
            "background_color": "#f6f7f9", "theme_color": "#0b3d6e",
            "icons": [
                {"src": "/static/icons/icon-192.png", "sizes": "192x192", "type": "image/png", "purpose": "any"},
                {"src": "/static/icons/icon-512.png", "sizes": "512x512", "type": "image/png", "purpose": "any"},
                {"src": "/static/icons/maskable-512.png", "sizes": "512x512", "type": "image/png",
                 "purpose": "maskable"},
            ],
        }
        return Response(json.dumps(body, ensure_ascii=False), media_type="application/manifest+json",
                        headers={"Cache-Control": "no-cache"})

    @app.get("/sw.js")
    def service_worker() -> Response:
        return FileResponse(static_dir / "sw.js", media_type="text/javascript",
                            headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"})

    @app.get("/offline", response_class=HTMLResponse)
    def offline(request: Request) -> HTMLResponse:
        return render(request, "offline.html")

    @app.get("/api/csrf")
    def api_csrf(request: Request) -> JSONResponse:
        """The page's CSRF token (the cookie's value; set when missing) for a queued report's send.
        Same-origin only: no CORS header, so another site's script cannot read it."""
        token = csrf_of(request)
        out = JSONResponse({"csrf": token}, headers={"Cache-Control": "no-store"})
        out.set_cookie(csrf_cookie, token, httponly=True, samesite="strict", max_age=7 * 86400)
        return out

    @app.post("/api/reports")
    async def api_report(request: Request) -> JSONResponse:
        """A report written offline: JSON ``{client_id, building_id, service_code, description}`` with
        the header ``X-CSRF-Token`` equal to the CSRF cookie. 201 ``{id, created: true, url}``; the same
        ``client_id`` again: 200 with the first report's id and ``created: false``. 400/403/404 with
        ``error`` (and ``problems``): the page drops the item and says why — nothing is retried forever."""
        from incidents.errors import UnknownAddress
        from incidents.intake import InvalidReport
        from resident import reports as resident_reports

        if not csrf_ok(request, request.headers.get("x-csrf-token", "")):
            return JSONResponse({"error": "csrf token missing or wrong: reload the page"}, status_code=403)
        try:
            data = json.loads((await request.body()).decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return JSONResponse({"error": "the body must be a JSON object"}, status_code=400)
        if not isinstance(data, dict):
            return JSONResponse({"error": "the body must be a JSON object"}, status_code=400)
        cid, bid = data.get("client_id"), data.get("building_id")
        if not isinstance(cid, str) or not CLIENT_ID.fullmatch(cid):
            return JSONResponse({"error": "client_id must be a lowercase UUID"}, status_code=400)
        if isinstance(bid, bool) or not (isinstance(bid, int) or (isinstance(bid, str) and _DIGITS.fullmatch(bid))):
            return JSONResponse({"error": "building_id must be a number"}, status_code=400)
        service_code, description = data.get("service_code"), data.get("description", "")
        if not isinstance(service_code, str) or not isinstance(description, str):
            return JSONResponse({"error": "service_code and description must be texts"}, status_code=400)
        lang = data.get("lang") if data.get("lang") in LANGUAGES else default_lang
        try:
            result = resident_reports.take(actor_of(request), db(), building_id=int(bid), service_code=service_code,
                                           description=description, client_token=client_token(cid))
        except InvalidReport as exc:
            from resident.texts import Texts

            tx = Texts(lang, zone())
            return JSONResponse({"error": "the report is not valid",
                                 "problems": [tx.problem(p) for p in exc.problems]}, status_code=400)
        except UnknownAddress:
            return JSONResponse({"error": f"no building with id {bid}"}, status_code=404)
        inc = result.incident
        return JSONResponse({"id": inc.id, "created": bool(result.created), "url": f"/report/{inc.id}?lang={lang}"},
                            status_code=201 if result.created else 200)
