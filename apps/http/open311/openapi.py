"""The OpenAPI documents as this API answers: FastAPI's, without its 422 answers (a bad parameter is a 400
here, as an Open311 error list; each endpoint names its own error answers). ``/open311/v2/openapi.json``
describes the whole server; ``/orgs/v1/openapi.json`` the organisations' API alone, with its webhook."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.routing import BaseRoute

ORGS_TITLE = "zhkh-ops organisations' API"
ORGS_VERSION = "1"
ORGS_DESCRIPTION = (
    "The work orders of one organisation (the reports it answers for) and its actions on them, with a key of "
    "that organisation in the header X-API-Key (python -m incidents api-key create --name N --org ORG_ID). "
    "Another organisation's work order answers 404. Errors are lists [{\"code\", \"description\"}]. "
    "Changes are also posted to the organisation's webhook (python -m orgs webhook set ORG_ID URL), signed "
    "in X-Zhkh-Signature: see docs/webhooks.md.")


def _without_422(doc: dict[str, Any]) -> dict[str, Any]:
    for section in ("paths", "webhooks"):
        for item in doc.get(section, {}).values():
            for op in item.values():
                op.get("responses", {}).pop("422", None)
    for name in ("HTTPValidationError", "ValidationError"):
        doc.get("components", {}).get("schemas", {}).pop(name, None)
    return doc


def document(app: FastAPI) -> dict[str, Any]:
    """The document of ``app``, made once."""
    if app.openapi_schema is None:
        app.openapi_schema = _without_422(get_openapi(title=app.title, version=app.version, routes=app.routes))
    return app.openapi_schema


_made: dict[tuple[int, ...], dict[str, Any]] = {}


def orgs_document(routes: Sequence[BaseRoute], webhooks: Sequence[BaseRoute]) -> dict[str, Any]:
    """The document of the organisations' API (``routes``) and the webhook it posts (``webhooks``), made once."""
    key = tuple(id(r) for r in (*routes, *webhooks))
    if key not in _made:
        _made[key] = _without_422(get_openapi(title=ORGS_TITLE, version=ORGS_VERSION, description=ORGS_DESCRIPTION,
                                              routes=list(routes), webhooks=list(webhooks)))
    return _made[key]
