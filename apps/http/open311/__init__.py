"""Open311 GeoReport v2 API of the intake (FastAPI), under ``/open311/v2/``.

Every error is an Open311 list ``[{"code": <http status>, "description": "..."}]`` in JSON —
never a plain-text page or a traceback; errors map to status codes in one place
(``answers.status_of``), and every 503 says when to retry (``Retry-After``). Request bodies are capped
at ``api_max_body_bytes`` before anything is parsed (``bodies``). A report's input is checked by the
shared intake model (``incidents/intake.py``), which refuses markup and control characters, so JSON
responses carry text exactly as it was sent (``X-Content-Type-Options: nosniff``; escaping belongs
to whoever renders HTML) — except a report's description, which reads (no key) show as the public
see it: phones, e-mails and names masked, nothing when an operator hid it (``incidents.redact``).
The API key is verified on every write (one indexed lookup, no cache: ``deps.api_client``). A 405 names
every method of the path in ``Allow``; the OpenAPI document lists each endpoint's error answers; no
answer may be framed by another site.

Reads and writes go through the application layer (``ops.incidents``, ``ops.api_keys``); the modules:
``app`` assembles, ``deps`` (context, format, body, key → actor), ``services``, ``requests_read``,
``requests_post`` (the routers), ``handlers`` (errors), ``answers`` (what every answer shares),
``bodies`` (reading a body), ``openapi`` (the document).

Served by ``python -m incidents serve`` (``apps.cli.incidents``).
"""
from __future__ import annotations

from apps.http.open311.app import create_app

__all__ = ["create_app"]
