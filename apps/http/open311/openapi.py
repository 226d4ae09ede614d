"""The OpenAPI document as this API answers: FastAPI's, without its 422 answers (a bad parameter is a 400
here, as an Open311 error list; each endpoint names its own error answers)."""
from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi


def document(app: FastAPI) -> dict[str, Any]:
    """The document of ``app``, made once."""
    if app.openapi_schema is None:
        doc = get_openapi(title=app.title, version=app.version, routes=app.routes)
        for item in doc.get("paths", {}).values():
            for op in item.values():
                op.get("responses", {}).pop("422", None)
        for name in ("HTTPValidationError", "ValidationError"):
            doc.get("components", {}).get("schemas", {}).pop(name, None)
        app.openapi_schema = doc
    return app.openapi_schema
