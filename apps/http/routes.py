"""What the HTTP apps share about their routes: the ``Allow`` header of a 405."""
from __future__ import annotations

from typing import Any

from starlette.routing import Match, Mount

#: the methods a 405's ``Allow`` may name
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(app: Any, scope: dict[str, Any]) -> str:
    """The ``Allow`` header of a 405: every method some route of ``app`` takes at the request's path.
    Starlette names only the first matching route's, and FastAPI's included routers do not show their
    routes' methods, so each method is asked of the routes themselves (a mounted app, the static files,
    names none). HEAD goes with GET."""
    methods: set[str] = set()
    for method in METHODS:
        probe = {**scope, "method": method, "fastapi": dict(scope.get("fastapi") or {})}
        if any(route.matches(probe)[0] == Match.FULL for route in app.routes if not isinstance(route, Mount)):
            methods.add(method)
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods))
