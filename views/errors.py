"""Errors on the pages: one message per error class (the table in ``ops.errors``), in the UI language,
free text escaped; never a traceback. With the database down a page says so and recovers by itself."""
from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import streamlit as st

from auth.errors import PermissionDenied
from gis.errors import DatabaseUnavailable
from i18n import has_text
from i18n.families import COUNTED
from ops.errors import is_database_down, lookup
from ops.health import database_ok
from views.common import t, tn
from views.formatting import md_safe

log = logging.getLogger("zhkh.views")


def _detail(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return md_safe(text[:500] + ("…" if len(text) > 500 else ""))


def _text(key: str, counts: dict[str, Any], **params: Any) -> str:
    """``key`` with ``params``; a plural entry (``i18n.families.COUNTED``) in the form for its count in ``counts``."""
    count = COUNTED.get(key)
    return tn(key, counts[count], **params) if count else t(key, **params)


def problem_text(problem: Any) -> str:
    """One problem of the intake model in the operator's language (``intake.problem.<code>``);
    values the caller typed are Markdown-escaped."""
    label_key = f"intake.field.{problem.field}"
    field_label = t(label_key) if has_text(label_key) else problem.field
    params = {k: md_safe(v) if isinstance(v, str) else v for k, v in problem.params.items()}
    return _text(f"intake.problem.{problem.code}", problem.params, field=md_safe(field_label), **params)


def message(exc: BaseException) -> str:
    """The page's message for ``exc`` (translated; the error's own text escaped)."""
    _, key = lookup(exc)
    if key == "permission":

        perm = exc.permission if isinstance(exc, PermissionDenied) else ""
        return t("error.permission", what=t(f"perm.{perm}") if perm else "")
    if key == "db_down":
        return t("error.db_down")
    if key == "internal":
        return t("error.internal", kind=type(exc).__name__)
    problems = getattr(exc, "problems", None)
    if problems and all(hasattr(p, "code") and hasattr(p, "field") for p in problems):
        # an invalid report or note (the shared intake model): each problem in the page's language
        return " ".join(problem_text(p) for p in problems)
    if problems and all(isinstance(p, tuple) and len(p) == 2 for p in problems):
        # structured problems (accounts): each in the page's language
        return t(f"error.{key}", detail="; ".join(
            _text(f"error.user.{code}", params, **{k: md_safe(v) for k, v in params.items()})
            for code, params in problems))
    return t(f"error.{key}", detail=_detail(exc))


def show(exc: BaseException) -> None:
    st.error(message(exc), icon=":material/error:")


def attempt(call: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a use-case for a button: its result, or None after showing why it was refused."""
    try:
        return call(*args, **kwargs)
    except Exception as exc:  # every refusal and failure becomes the page's message
        show(exc)
        return None


def page_failed(exc: BaseException) -> None:
    """What a page that raised shows instead of a traceback."""
    if is_database_down(exc):
        log.warning("page shows 'database unavailable': %s", " ".join(str(exc).split()))
        database_down(exc)
        return
    log.exception("page failed", exc_info=exc)
    show(exc)


def database_down(exc: BaseException | None = None) -> None:
    """The database is unreachable: say so (and why, when ``gis.db`` found out: ``error.db.<problem>``),
    and reload the page once it answers again."""
    st.error(t("error.db_down"), icon=":material/cloud_off:")
    if isinstance(exc, DatabaseUnavailable):
        st.warning(t(f"error.db.{exc.problem}", where=md_safe(exc.where)))
    st.caption(t("error.db_retry"))

    @st.fragment(run_every=timedelta(seconds=5))
    def wait_for_database() -> None:

        if database_ok():
            st.rerun(scope="app")

    wait_for_database()
