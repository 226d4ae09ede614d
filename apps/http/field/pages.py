"""The crew's pages: sign in and out, today (work orders and valve sheets), a work order, an outage's sheet."""
from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from apps.http.field.site import SESSION_COOKIE, Refusal, crew_actor, csrf_matches, render, secure, signed_in, site_of
from auth.errors import LoginRefused
from auth.model import Actor
from ops import field as field_ops
from ops import users
from ops.base import utcnow
from ops.incidents import rules as sla_rules

router = APIRouter()
MAX_FORM_BYTES = 16 * 1024
KIND_WORDS = {"accepted": "fieldapp.kind.accepted", "assigned": "fieldapp.kind.assigned",
              "visit_planned": "fieldapp.kind.visit_planned", "resolved": "fieldapp.kind.resolved",
              "returned": "fieldapp.kind.returned", "on_the_way": "fieldapp.kind.on_the_way",
              "arrived": "fieldapp.kind.arrived"}


def _to_login(request: Request) -> Response:
    lang = request.query_params.get("lang")
    return secure(RedirectResponse(f"/login?lang={lang}" if lang in ("ru", "en") else "/login", status_code=303))


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> Response:
    return render(request, "login.html")


async def _form(request: Request) -> dict[str, str]:
    """A small urlencoded form, strictly UTF-8 (a broken one is refused in words, nothing read)."""
    raw = await request.body()
    if len(raw) > MAX_FORM_BYTES:
        raise Refusal(413, "fieldapp.err.too_big")
    try:
        return dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True, errors="strict"))
    except (UnicodeDecodeError, ValueError):
        raise Refusal(400, "fieldapp.err.utf8") from None


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    form = await _form(request)
    if not csrf_matches(request, form.get("csrf", "")):
        raise Refusal(403, "fieldapp.err.csrf")
    site = site_of(request)
    source = request.client.host if request.client else None
    try:
        user, token = users.sign_in(form.get("login", "")[:200], form.get("password", "")[:500], source=source,
                                    settings=site.settings, bind=site.db())
    except LoginRefused as exc:
        key = "fieldapp.login.locked" if getattr(exc, "locked_until", None) else "fieldapp.login.wrong"
        return render(request, "login.html", status=401, error_key=key, login=form.get("login", "")[:200])
    if user.role != "crew":   # the phone page is the crews': nobody else keeps a session here
        users.sign_out(token, user, bind=site.db())
        return render(request, "error.html", status=403, message_key="fieldapp.err.crews_only", params={})
    resp = secure(RedirectResponse("/", status_code=303))
    resp.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax", max_age=12 * 3600)
    return resp


@router.post("/logout")
async def logout(request: Request) -> Response:
    form = await _form(request)
    if not csrf_matches(request, form.get("csrf", "")):
        raise Refusal(403, "fieldapp.err.csrf")
    site = site_of(request)
    users.sign_out(request.cookies.get(SESSION_COOKIE), signed_in(request), bind=site.db())
    resp = secure(RedirectResponse("/login", status_code=303))
    resp.delete_cookie(SESSION_COOKIE)
    return resp


def _crew(request: Request) -> Actor | None:
    try:
        actor = crew_actor(request)
    except Refusal:
        return None
    field_ops.crew_org(actor)   # anyone but a crew: the worded refusal
    return actor


@router.get("/", response_class=HTMLResponse)
def today(request: Request) -> Response:
    actor = _crew(request)
    if actor is None:
        return _to_login(request)
    db = site_of(request).db()
    orders, later = field_ops.by_day(field_ops.orders(actor, bind=db), utcnow(), sla_rules().timezone)
    sheets = field_ops.outage_sheets(actor, bind=db)
    return render(request, "home.html", actor=actor, orders=orders, later=later, sheets=sheets)


@router.get("/orders/{incident_id}", response_class=HTMLResponse)
def order_page(request: Request, incident_id: str) -> Response:
    actor = _crew(request)
    if actor is None:
        return _to_login(request)
    if not incident_id.isdigit() or len(incident_id) > 12:
        raise Refusal(404, "fieldapp.err.unknown_order", id=incident_id[:20])
    db = site_of(request).db()
    order = field_ops.order(actor, int(incident_id), bind=db)
    inc = order.incident
    shape = field_ops.surroundings(actor, [(inc.lon, inc.lat)], bind=db)
    return render(request, "order.html", actor=actor, order=order, inc=inc, shape=shape, kind_words=KIND_WORDS)


@router.get("/outages/{outage_id}", response_class=HTMLResponse)
def outage_page(request: Request, outage_id: str) -> Response:
    actor = _crew(request)
    if actor is None:
        return _to_login(request)
    if not outage_id.isdigit() or len(outage_id) > 12:
        raise Refusal(404, "fieldapp.err.unknown_outage", id=outage_id[:20])
    db = site_of(request).db()
    sheet = field_ops.outage_sheet(actor, int(outage_id), bind=db)
    points = [(r["lon"], r["lat"]) for r in sheet.rows if r.get("lon") is not None and r.get("lat") is not None]
    shape = field_ops.surroundings(actor, points, bind=db)
    marks: dict[int, list] = {}
    for m in sheet.marks:
        marks.setdefault(m.valve_id, []).append(m)
    return render(request, "outage.html", actor=actor, sheet=sheet, shape=shape, marks=marks)
