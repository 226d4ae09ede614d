"""The resident's reports: a new one from the address page, a report's page (``/report/<random token>``;
a bare number opens only in the browser that made the report) with its organisation's answer and the
answer's photos (``/report/<token>/photo/<id>``: only with the report's own token, as the page), and
"fixed?" on a resolved one — "yes" with a rating, or "not fixed". The writes go through ``ops.resident``."""
from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from apps.http.resident.context import address_context, report_by_token, report_context
from apps.http.resident.deps import ResidentPost, resident_post
from apps.http.resident.site import (
    DIGITS,
    TOKEN,
    Page,
    Site,
    mine,
    no_address,
    remember_mine,
    render,
    site_of,
    utcnow,
)
from incidents.errors import ConcurrentEdit, IncidentNotFound, UnknownAddress
from incidents.intake import InvalidReport
from ops import resident as resident_ops
from resident import queries
from resident.incidents import FixedRefused, ReopenRefused
from resident.texts import FIXED_REFUSED, REOPEN_REFUSED, Texts

router = APIRouter()


@router.post("/address/{building_id}/report")
def new_report(request: Request, building_id: str, service_code: str = Form(""), description: str = Form(""),
               lang: str = Form("ru"), post: ResidentPost = Depends(resident_post)) -> Response:
    """The report form: on to the new report's page, or the address page again with the form's problems."""
    if not DIGITS.fullmatch(building_id):
        raise no_address()
    try:
        result = resident_ops.take_incident(post.actor, bind=post.site.db(), building_id=int(building_id),
                                            service_code=service_code, description=description)
    except UnknownAddress:
        raise no_address() from None
    except InvalidReport as exc:
        tx = Texts(lang, post.site.zone())
        ctx = address_context(post.site, int(building_id), utcnow(), fresh=True)
        return render(request, "address.html", status=400, lang=lang, **ctx, switch_path=f"/address/{building_id}",
                      form_errors=[tx.problem(p) for p in exc.problems], form_description=description,
                      form_service=service_code)
    inc = result.incident
    resp = RedirectResponse(f"/report/{inc.public_token}?{urlencode({'lang': lang, 'new': 1})}", status_code=303)
    remember_mine(request, resp, inc.id, str(inc.public_token))
    return resp


@router.get("/report", response_class=HTMLResponse)
def report_lookup(number: str = "") -> Response:
    number = number.strip().lstrip("№#").strip()
    if not (DIGITS.fullmatch(number) or TOKEN.fullmatch(number)):
        raise Page(400, "resident.err.form_title", "resident.err.report_number")
    return RedirectResponse(f"/report/{number}", status_code=303)


@router.get("/report/{key}", response_class=HTMLResponse)
def report_page(request: Request, key: str, site: Site = Depends(site_of)) -> Response:
    if DIGITS.fullmatch(key):
        return _by_number(request, site, key)
    ctx = report_context(site, report_by_token(site, key), utcnow())
    return render(request, "report.html", **ctx, new=request.query_params.get("new"),
                  reopened=request.query_params.get("reopened"), fixed=request.query_params.get("fixed"), token=key,
                  site=site.settings.resident_url.rstrip("/"))


@router.get("/report/{key}/photo/{photo_id}")
def report_photo(key: str, photo_id: str, site: Site = Depends(site_of)) -> Response:
    """A photo of the organisation's answer: served only to whoever holds the report's own link (the rule
    of the report's page); any other token, a number or another report's photo answers the same 404."""
    found = None
    if TOKEN.fullmatch(key) and DIGITS.fullmatch(photo_id):
        with site.db().connect() as conn:
            found = queries.report_photo(conn, key, int(photo_id))
    if found is None:
        raise Page(404, "resident.err.no_report_title", "resident.err.no_photo")
    return Response(bytes(found["data"]), media_type=found["content_type"],
                    headers={"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff",
                             "Referrer-Policy": "same-origin", "Content-Security-Policy": "default-src 'none'"})


def _by_number(request: Request, site: Site, number: str) -> Response:
    """A bare number: only the browser that made the report is sent on to its page."""
    token = mine(request).get(int(number))
    if token is not None:
        with site.db().connect() as conn:
            r = queries.report_by_token(conn, token)
        if r is not None and int(r["id"]) == int(number):
            keep = dict(request.query_params.items())
            return RedirectResponse(f"/report/{token}" + (f"?{urlencode(keep)}" if keep else ""), status_code=303)
    raise Page(404, "resident.err.no_report_title", "resident.err.no_report", number=number)


@router.post("/report/{key}/reopen", response_class=HTMLResponse)
def reopen(request: Request, key: str, lang: str = Form("ru"), post: ResidentPost = Depends(resident_post)) -> Response:
    """"Not fixed": the report back in work, or its page again saying why not (409)."""
    r = report_by_token(post.site, key)
    try:
        resident_ops.reopen_incident(post.actor, int(r["id"]), now=utcnow(), bind=post.site.db())
    except IncidentNotFound:
        raise Page(404, "resident.err.no_report_title", "resident.err.no_report_link") from None
    except (ReopenRefused, ConcurrentEdit) as exc:
        refused = REOPEN_REFUSED[exc.reason] if isinstance(exc, ReopenRefused) else "resident.reopen.busy"
        ctx = report_context(post.site, report_by_token(post.site, key), utcnow())
        return render(request, "report.html", status=409, lang=lang, **ctx, switch_path=f"/report/{key}",
                      refused=refused, token=key)
    return RedirectResponse(f"/report/{key}?{urlencode({'lang': lang, 'reopened': 1})}", status_code=303)


@router.post("/report/{key}/fixed", response_class=HTMLResponse)
def fixed(request: Request, key: str, rating: str = Form(""), lang: str = Form("ru"),
          post: ResidentPost = Depends(resident_post)) -> Response:
    """"Fixed? — yes" with a rating 1–5: the report closed, or its page again saying why not (400 for a
    missing or bad rating, 409 when the report is no longer resolved)."""
    r = report_by_token(post.site, key)
    try:
        resident_ops.confirm_fixed(post.actor, int(r["id"]), rating, now=utcnow(), bind=post.site.db())
    except IncidentNotFound:
        raise Page(404, "resident.err.no_report_title", "resident.err.no_report_link") from None
    except (FixedRefused, ConcurrentEdit) as exc:
        refused = FIXED_REFUSED[exc.reason] if isinstance(exc, FixedRefused) else "resident.reopen.busy"
        status = 400 if isinstance(exc, FixedRefused) and exc.reason == "bad_rating" else 409
        ctx = report_context(post.site, report_by_token(post.site, key), utcnow())
        return render(request, "report.html", status=status, lang=lang, **ctx, switch_path=f"/report/{key}",
                      refused=refused, token=key)
    return RedirectResponse(f"/report/{key}?{urlencode({'lang': lang, 'fixed': 1})}", status_code=303)
