"""The FastAPI dependencies of the residents' page: the preamble every form POST shares."""
from __future__ import annotations

from dataclasses import dataclass

from fastapi import Form, Request

from apps.http.resident.site import Page, Site, csrf_matches, site_of
from auth.model import Actor


@dataclass(frozen=True)
class ResidentPost:
    """A form POST that passed the CSRF check: the app's state and the author of the write."""

    site: Site
    actor: Actor


def resident_post(request: Request, csrf: str = Form("")) -> ResidentPost:
    """Every residents' form POST: the form's ``csrf`` field must equal the ``SameSite=Strict`` cookie
    (double submit; otherwise the 403 page, before anything else is looked at); the writer is the
    salted hash of the request's IP (``ops.resident.resident_actor``)."""
    if not csrf_matches(request, csrf):
        raise Page(403, "resident.err.form_title", "resident.err.csrf")
    site = site_of(request)
    return ResidentPost(site=site, actor=site.actor(request))
