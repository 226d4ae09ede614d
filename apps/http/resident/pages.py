"""The residents' pages to read: the start page, the search, and an address — water and heating there
now (active and planned outages, the month's allowance clock), its reports and the forms."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from apps.http.resident.context import address_context
from apps.http.resident.site import DIGITS, TOKEN, Site, mine, no_address, render, site_of, utcnow
from resident import queries

router = APIRouter()


@router.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> HTMLResponse:
    return render(request, "home.html")


@router.get("/search", response_class=HTMLResponse)
def search(request: Request, q: str = "", site: Site = Depends(site_of)) -> Response:
    """A report's number or token opens the report; one address found opens the address."""
    q = q.replace("\x00", "").strip()[:200]
    if DIGITS.fullmatch(q.lstrip("№#")) or TOKEN.fullmatch(q):
        return RedirectResponse(f"/report/{q.lstrip('№#')}", status_code=303)
    found = []
    if len(q) >= 2:
        with site.read_db().connect() as conn:
            found = queries.suggestions(conn, q, limit=20)
    if len(found) == 1:
        return RedirectResponse(f"/address/{found[0]['id']}", status_code=303)
    return render(request, "home.html", query=q, results=found, searched=True)


@router.get("/address/{building_id}", response_class=HTMLResponse)
def address(request: Request, building_id: str, site: Site = Depends(site_of)) -> HTMLResponse:
    if not DIGITS.fullmatch(building_id):
        raise no_address()
    done = request.query_params.get("done")   # sent back here by a form: read the leader, it has the write
    ctx = address_context(site, int(building_id), utcnow(), mine(request), fresh=bool(done))
    return render(request, "address.html", **ctx, notice=done)
