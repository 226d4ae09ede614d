"""The operators' app as served: ``streamlit run app_server.py`` (``make app``, ``make demo``).

``app.py`` is the app itself; this launcher serves it with the HTTP front of ``views/front.py`` on the
same origin: the session cookie set by the server (HttpOnly, SameSite=Strict, Secure), the frame
headers on every answer, and Streamlit's metrics for a signed-in admin only. ``streamlit run app.py``
still works, but a sign-in then lasts only as long as the browser tab (docs/rights.md)."""
from __future__ import annotations

from pathlib import Path

import streamlit as st
from starlette.middleware import Middleware

from views.front import Front

app = st.App(Path(__file__).parent / "app.py", middleware=[Middleware(Front)])
