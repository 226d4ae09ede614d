"""The Open311 app, assembled: its context, middleware, error handlers, routers and document."""
from __future__ import annotations

from functools import partial

from fastapi import FastAPI
from sqlalchemy import Engine

import apps.http.open311.handlers as handlers
import apps.http.open311.openapi as openapi
import apps.http.open311.orgs as orgs
import apps.http.open311.requests_post as requests_post
import apps.http.open311.requests_read as requests_read
import apps.http.open311.services as services
from apps.http.open311.answers import PREFIX, Open311Response
from apps.http.open311.bodies import BodyLimit
from apps.http.open311.deps import Context
from gis.serving import NoFraming, lazy_engine, thread_pool_lifespan
from incidents.sla import Rules
from ops import incidents as reports
from settings import Settings, get_settings


def create_app(engine: Engine | None = None, *, settings: Settings | None = None,
               rules: Rules | None = None) -> FastAPI:
    """The Open311 app. Without ``engine`` it uses ``gis.db.get_engine()`` (lazily, so the API
    starts even while the database is down and answers 503 until it is back)."""
    s = settings or get_settings()
    app = FastAPI(lifespan=thread_pool_lifespan(s.api_threads), title="zhkh-ops Open311 GeoReport v2",
                  docs_url=f"{PREFIX}/docs", openapi_url=f"{PREFIX}/openapi.json", redoc_url=None,
                  default_response_class=Open311Response)
    app.state.open311 = Context(settings=s, rules=rules or reports.rules(s), db=lazy_engine(engine, s.database_url))
    # the organisations' events carry photos: their route takes up to MAX_PHOTOS photos of MAX_PHOTO_BYTES
    app.add_middleware(BodyLimit, max_bytes=s.api_max_body_bytes, larger=((orgs.ORGS_PREFIX, orgs.MAX_EVENT_BYTES),))
    app.add_middleware(NoFraming)  # the documentation page is HTML: never inside another site's frame
    handlers.install(app)
    for router in (services.router, requests_read.router, requests_post.router, orgs.router):
        app.include_router(router)
    app.openapi = partial(openapi.document, app)  # type: ignore[method-assign]
    return app
