"""«Тарифы»: ``/tariffs`` (an address search) and ``/address/<id>/tariffs`` (the page; the same as JSON is
``GET /api/tariffs``, ``apps/http/resident/api.py``) — what is read is ``resident/tariffs.py``, the
wording is here: every figure and word in the page's language (Babel: a decimal comma in Russian)."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from babel.dates import format_date
from babel.numbers import format_decimal
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from apps.http.resident.site import DIGITS, Site, lang_of, no_address, render, site_of
from billing.errors import BillingError
from billing.tariffs import load_tariffs, tariffs_path
from i18n import LANGUAGES, translate
from resident import queries
from resident import tariffs as address_tariffs
from resident.texts import UNITS

SERVICE_NAMES = {
    "cold_water": "resident.tariffs.service.cold_water", "hot_water": "resident.tariffs.service.hot_water",
    "sewer": "resident.tariffs.service.sewer", "heating": "resident.tariffs.service.heating",
    "electricity": "resident.tariffs.service.electricity", "gas": "resident.tariffs.service.gas",
}
PER = {"person": "resident.tariffs.per_person", "m2": "resident.tariffs.per_m2"}
MONTH_BASIS = {"charges": "resident.tariffs.basis_charges", "normative": "resident.tariffs.basis_normative",
               "normative_one_person": "resident.tariffs.basis_one_person"}


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


_BILLED: dict[tuple[str, float], tuple[str, ...] | None] = {}


def billed_services() -> tuple[str, ...] | None:
    """The services the billing charges (the tariffs file's list, read again when the file changes),
    ``None`` (all in the table) when the file cannot be read."""
    try:
        path = tariffs_path()
        key = (str(path), path.stat().st_mtime)
        if key not in _BILLED:
            _BILLED.clear()
            _BILLED[key] = load_tariffs(path).services
        return _BILLED[key]
    except (BillingError, OSError):
        return None


def tariffs_of(site: Site, building: dict[str, Any], lang: str) -> dict[str, Any]:
    """The «Тарифы» view of ``building`` today, in ``lang``."""
    with site.read_db().connect() as conn:
        data = address_tariffs.address_tariffs(conn, building, site.today(), lang=lang, services=billed_services())
    return tariffs_view(data, lang)


router = APIRouter()


@router.get("/tariffs", response_class=HTMLResponse)
def tariffs_search(request: Request, address: str = "", site: Site = Depends(site_of)) -> Response:
    """An address search; one building found opens its «Тарифы»."""
    lang = lang_of(request)
    q = address.replace("\x00", "").strip()[:200]
    if not q:
        return render(request, "tariffs_search.html")
    try:
        with site.read_db().connect() as conn:
            b = address_tariffs.resolve_address(conn, q)
    except address_tariffs.Ambiguous as exc:
        return render(request, "tariffs_search.html", query=q, results=exc.matches, searched=True)
    except address_tariffs.AddressNotFound:
        return render(request, "tariffs_search.html", status=404, query=q, results=[], searched=True)
    return RedirectResponse(f"/address/{b['id']}/tariffs?lang={lang}", status_code=303)


@router.get("/address/{building_id}/tariffs", response_class=HTMLResponse)
def tariffs_page(request: Request, building_id: str, site: Site = Depends(site_of)) -> HTMLResponse:
    if not DIGITS.fullmatch(building_id):
        raise no_address()
    with site.read_db().connect() as conn:
        b = queries.building(conn, int(building_id))
    if b is None:
        raise no_address()
    return render(request, "tariffs.html", building=b, view=tariffs_of(site, b, lang_of(request)))
