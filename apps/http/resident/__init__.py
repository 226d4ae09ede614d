"""The resident's page (FastAPI, server-rendered HTML, no login): ``python -m resident serve``.

An address (suggestions as you type) or a report number, and then: water and heating at the address
now (active and planned outages, the month's allowance clock), the address's reports with their
deadlines, a report form, a subscription to the address's notices, and — with an account number and
the code from the bill — the month's charges line by line. No personal data of anybody is shown.

Safety: every text is escaped by the templates (autoescape); every form carries a CSRF token equal to
a ``SameSite=Strict`` cookie (double submit; ``deps.resident_post``); requests are rate-limited per IP
(a token bucket, and a stricter one for account-code tries) with a friendly 429 page, the IP taken from
``X-Forwarded-For`` only behind a proxy named in ``ZHKH_TRUSTED_PROXIES``; account codes are Argon2id
hashes, an account number is locked after repeated wrong codes from any address
(``resident.account_codes``), and a refusal never says which of the two was wrong. A report's page is
``/report/<random token>``; the number alone opens it only in the browser that made the report; its
description is shown redacted (``incidents.redact``) or not at all. Forms and queries must be valid
UTF-8 (400 otherwise); no page may be framed by another site.

One module per area: ``pages`` (start, search, address), ``incidents`` (the resident's reports),
``subscriptions``, ``account`` and ``tariffs``, ``api`` (the JSON under ``/api/``), ``app_shell`` (static
files, manifest, service worker); ``site`` is what they share, ``errors`` and ``middleware`` how the
page refuses. The writes go through ``ops.resident``.
"""
from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import Engine

from apps.http.resident import account, api, app_shell, errors, incidents, pages, subscriptions, tariffs
from apps.http.resident.middleware import StrictUtf8, rate_limit
from apps.http.resident.site import Site
from gis.serving import NoFraming, thread_pool_lifespan
from settings import Settings, get_settings

ROUTERS = (pages.router, api.router, incidents.router, subscriptions.router, account.router, tariffs.router,
           app_shell.router)


def create_app(engine: Engine | None = None, settings: Settings | None = None) -> FastAPI:
    """The residents' app; without ``engine`` the settings' database, connected at the first request
    (the page starts while the database is down and answers 503 until it is back)."""
    site = Site.make(engine, settings or get_settings())
    app = FastAPI(lifespan=thread_pool_lifespan(site.settings.api_threads), docs_url=None, redoc_url=None,
                  openapi_url=None, title="zhkh-ops resident")
    app.state.site = site
    app_shell.mount_static(app)
    app.add_middleware(StrictUtf8)
    app.add_middleware(NoFraming)
    app.middleware("http")(rate_limit)   # the outermost: a refused request costs nothing more
    errors.install(app)
    for router in ROUTERS:
        app.include_router(router)
    return app
