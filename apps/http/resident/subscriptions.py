"""A subscription to an address's notices: the request (double opt-in: a confirmation mail goes to the
address), the mailed link's page with its button, and the unsubscribe link. The writes go through
``ops.resident``."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from apps.http.resident.context import address_context
from apps.http.resident.deps import ResidentPost, resident_post
from apps.http.resident.site import DIGITS, Page, Site, no_address, render, site_of, utcnow
from i18n import LANGUAGES, N_
from notify import subscriptions
from notify.errors import InvalidSubscription, TooManyConfirmations, TooManySubscriptions
from ops import resident as resident_ops

router = APIRouter()


@router.post("/address/{building_id}/subscribe")
def subscribe(request: Request, building_id: str, email: str = Form(""), phone: str = Form(""),
              lang: str = Form("ru"), post: ResidentPost = Depends(resident_post)) -> Response:
    """A subscription request: the confirmation mail goes to the address (double opt-in); the answer
    is the same whether the address was new, waiting, unsubscribed or subscribed already."""
    if not DIGITS.fullmatch(building_id):
        raise no_address()
    lang = lang if lang in LANGUAGES else "ru"
    try:
        resident_ops.subscribe(post.actor, building_id=int(building_id), email=email, phone=phone or None,
                               lang=lang, now=utcnow(), bind=post.site.db())
    except InvalidSubscription as exc:
        key, params, status = _refusal(exc)
        ctx = address_context(post.site, int(building_id), utcnow(), fresh=True)
        return render(request, "address.html", status=status, lang=lang, **ctx,
                      switch_path=f"/address/{building_id}", sub_error=key, sub_error_params=params,
                      sub_email=email)
    return RedirectResponse(f"/address/{building_id}?{urlencode({'lang': lang, 'done': 'subscribed'})}#subscribe",
                            status_code=303)


def _refusal(exc: InvalidSubscription) -> tuple[str, dict[str, Any], int]:
    """A refused subscription in the form's words: (text key, its params, status); an unknown building
    is the "no such address" page."""
    if isinstance(exc, TooManySubscriptions):
        return N_("resident.sub.too_many"), {"max": exc.limit}, 429
    if isinstance(exc, TooManyConfirmations):
        return N_("resident.sub.too_often"), {"max": exc.limit}, 429
    if "building" in str(exc):
        raise no_address() from None
    return ("resident.sub.bad_phone" if "phone" in str(exc) else "resident.sub.bad_email"), {}, 400


@router.get("/confirm/{token}", response_class=HTMLResponse)
def confirm_form(request: Request, token: str, site: Site = Depends(site_of)) -> HTMLResponse:
    """The link of the confirmation mail: a page with a button (a GET changes nothing, so a mail
    scanner that opens links cannot subscribe anybody)."""
    address = subscriptions.pending_address(site.db(), token, now=utcnow())
    if address is None:
        raise Page(404, "resident.err.not_found_title", "resident.confirm.unknown")
    return render(request, "confirm.html", token=token, address=address, done=False)


@router.post("/confirm/{token}", response_class=HTMLResponse)
def confirm(request: Request, token: str, post: ResidentPost = Depends(resident_post)) -> HTMLResponse:
    row = resident_ops.confirm_subscription(token, now=utcnow(), bind=post.site.db())
    if row is None:
        raise Page(404, "resident.err.not_found_title", "resident.confirm.unknown")
    return render(request, "confirm.html", token="", address=row["address"], done=True, switch_path="/")


@router.get("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe_form(request: Request, token: str) -> HTMLResponse:
    return render(request, "unsubscribe.html", token=token[:100], done=None)


@router.post("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe(request: Request, token: str, post: ResidentPost = Depends(resident_post)) -> HTMLResponse:
    row = resident_ops.withdraw_subscription(token, now=utcnow(), bind=post.site.db())
    if row is None:
        raise Page(404, "resident.err.not_found_title", "resident.unsub.unknown")
    return render(request, "unsubscribe.html", token=token, done=row["address"])
