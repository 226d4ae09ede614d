"""The residents' page's JSON (``/api/…``), for its scripts and the installable app: address suggestions
as you type, «Тарифы» as data, the page's CSRF token and a report written offline and sent when the
connection returns. Every refusal is JSON ``{"error": …}`` (``apps.http.resident.errors``)."""
from __future__ import annotations

import json
import re
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from apps.http.resident.site import (
    DIGITS,
    Site,
    csrf_matches,
    csrf_of,
    lang_of,
    remember_mine,
    set_csrf_cookie,
    site_of,
)
from apps.http.resident.tariffs import tariffs_json, tariffs_of
from i18n import LANGUAGES
from incidents.errors import UnknownAddress
from incidents.intake import InvalidReport
from ops import resident as resident_ops
from resident import queries
from resident import tariffs as address_tariffs
from resident.texts import Texts

#: a queued report's id: a UUID the page makes (crypto.randomUUID), kept as ``portal:<uuid>``
CLIENT_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

router = APIRouter(prefix="/api")


def client_token(client_id: str) -> str:
    """The intake's idempotency key of a portal report with the page's ``client_id``."""
    return f"portal:{client_id}"


@router.get("/addresses")
def addresses(q: str = "", site: Site = Depends(site_of)) -> JSONResponse:
    q = q.replace("\x00", "")[:200]
    if len(q.strip()) < 2:
        return JSONResponse([])
    with site.read_db().connect() as conn:
        return JSONResponse(queries.suggestions(conn, q))


@router.get("/tariffs")
def tariffs(request: Request, address: str = "", site: Site = Depends(site_of)) -> JSONResponse:
    """``?address=`` a building id or an address text (as the search box takes it); ``lang=ru|en``.
    404 with ``error`` when nothing matches; 400 with ``error`` and ``matches`` (id, address) when
    the text names several buildings — ask again with one of the ids."""
    lang = lang_of(request)
    try:
        with site.read_db().connect() as conn:
            b = address_tariffs.resolve_address(conn, address)
    except address_tariffs.AddressNotFound as exc:
        return JSONResponse({"error": str(exc)}, status_code=404)
    except address_tariffs.Ambiguous as exc:
        return JSONResponse({"error": f"{len(exc.matches)} addresses match {exc.query!r}: give one of their ids",
                             "matches": exc.matches}, status_code=400)
    return JSONResponse(tariffs_json(tariffs_of(site, b, lang), lang))


@router.get("/csrf")
def csrf(request: Request) -> JSONResponse:
    """The page's CSRF token (the cookie's value; set when missing) for a queued report's send.
    Same-origin only: no CORS header, so another site's script cannot read it."""
    token = csrf_of(request)
    out = JSONResponse({"csrf": token}, headers={"Cache-Control": "no-store"})
    set_csrf_cookie(out, token)
    return out


@router.post("/reports")
async def report(request: Request) -> JSONResponse:
    """A report written offline: JSON ``{client_id, building_id, service_code, description}`` with
    the header ``X-CSRF-Token`` equal to the CSRF cookie. 201 ``{id, created: true, url}`` — ``url``
    is the report's page, ``/report/<public token>?lang=…`` (a bare number opens only in the browser
    that made the report, which this answer marks so, as the form post does); the same ``client_id``
    again: 200 with the first report's id and url and ``created: false``. 400/403/404 with ``error``
    (and ``problems``): the page drops the item and says why — nothing is retried forever."""
    if not csrf_matches(request, request.headers.get("x-csrf-token", "")):
        return JSONResponse({"error": "csrf token missing or wrong: reload the page"}, status_code=403)
    try:
        data = json.loads((await request.body()).decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        data = None
    fields = _report_fields(data)
    if isinstance(fields, str):
        return JSONResponse({"error": fields}, status_code=400)
    site = site_of(request)
    lang = data["lang"] if isinstance(data.get("lang"), str) and data["lang"] in LANGUAGES else site.default_lang
    return _take(request, site, fields, lang, data["building_id"])


def _report_fields(data: Any) -> dict[str, Any] | str:
    """The queued report's fields, or what is wrong with them."""
    if not isinstance(data, dict):
        return "the body must be a JSON object"
    cid, bid = data.get("client_id"), data.get("building_id")
    if not isinstance(cid, str) or not CLIENT_ID.fullmatch(cid):
        return "client_id must be a lowercase UUID"
    if isinstance(bid, bool) or not ((isinstance(bid, int) and 0 <= bid < 10**12)
                                     or (isinstance(bid, str) and DIGITS.fullmatch(bid))):
        return "building_id must be a number"
    service_code, description = data.get("service_code"), data.get("description", "")
    if not isinstance(service_code, str) or not isinstance(description, str):
        return "service_code and description must be texts"
    return {"building_id": int(bid), "service_code": service_code, "description": description,
            "client_token": client_token(cid)}


def _take(request: Request, site: Site, fields: dict[str, Any], lang: str, building: Any) -> JSONResponse:
    """The report taken (``ops.resident.take_incident``; a repeated ``client_token`` is the first report)."""
    try:
        result = resident_ops.take_incident(site.actor(request), bind=site.db(), **fields)
    except InvalidReport as exc:
        tx = Texts(lang, site.zone())
        return JSONResponse({"error": "the report is not valid", "problems": [tx.problem(p) for p in exc.problems]},
                            status_code=400)
    except UnknownAddress:
        return JSONResponse({"error": f"no building with id {building}"}, status_code=404)
    inc = result.incident
    out = JSONResponse({"id": inc.id, "created": bool(result.created),
                        "url": f"/report/{inc.public_token}?lang={lang}"},
                       status_code=201 if result.created else 200, headers={"Cache-Control": "no-store"})
    remember_mine(request, out, int(inc.id), str(inc.public_token))
    return out
