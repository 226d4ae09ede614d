"""Signing in and out of the app, and who is acting on this page.

A sign-in opens a server-side session (``user_sessions``; only the token's SHA-256 is stored) and the
server puts the token in an HttpOnly cookie of this site (views/front.py: the page never sees the token),
so a reload keeps the user signed in. Every run of the app checks
the session again: it ends on logout, after ``ZHKH_SESSION_IDLE_MIN`` minutes without an action, and
at once when an admin disables the account (the next click shows the login form).
"""
from __future__ import annotations

from typing import Any

import streamlit as st

from auth.errors import LoginRefused, PermissionDenied
from auth.model import Actor, User
from auth.permissions import PAGES, ROLES, allowed
from i18n import LANGUAGES, N_
from ops import users
from settings import get_settings
from views import errors, front
from views.common import t
from views.errors import message
from views.formatting import fmt_dt
from views.front import browser_id

COOKIE = "zhkh_session"


def current_user() -> User | None:
    user = st.session_state.get("user")
    return user if isinstance(user, User) else None


def actor() -> Actor:
    """The signed-in user as the actor of every use-case this page calls."""
    user = current_user()
    if user is None:  # app.py shows the login form before any page runs
        st.stop()
    return Actor.of(user)  # type: ignore[arg-type]


def _token() -> str | None:
    ss = st.session_state
    if ss.get("session_token"):
        return str(ss["session_token"])
    if ss.get("signed_out"):
        return None  # the cookie of a session just ended may still be in this tab's first request
    try:
        return st.context.cookies.get(COOKIE)
    except Exception:  # no browser context (tests run pages without one)
        return None


def resume() -> User | None:
    """The signed-in user of this browser, or None (the session ended, idled out, was disabled)."""

    token = _token()
    user = users.resume(token) if token else None
    ss = st.session_state
    if user is None:
        if ss.get("user") is not None:
            ss["session_note"] = N_("login.ended")
        for k in ("user", "session_token"):
            ss.pop(k, None)
        return None
    ss["user"], ss["session_token"] = user, token
    return user


def still_signed_in() -> None:
    """For live fragments (the control room refreshes on its own): back to the login form as soon as
    the session ends; an open wall screen counts as activity."""
    if current_user() is not None and resume() is None:
        st.rerun(scope="app")


LANG_COOKIE = "zhkh_lang"


def _browser() -> str | None:
    """This browser's own id (the HttpOnly ``__Host-zhkh_browser`` cookie the front set), or None."""

    try:
        return browser_id(st.context.cookies)
    except Exception:  # no browser context (tests run pages without one)
        return None


def _source() -> str:
    """The client's address as the app's server saw it ("local" on the loopback, where Streamlit gives
    none): the login throttle locks a login for one address only."""
    try:
        return st.context.ip_address or "local"
    except Exception:  # no browser context (tests run pages without one)
        return "local"


def _hand_over(token: str | None) -> None:
    """Give this browser's next ``POST /session/cookie`` the session cookie (or its removal)."""

    front.hand_over(_browser(), token)


def write_cookie() -> None:
    """Keep the browser's cookies in step with this tab's session: a session cookie handed over at the
    sign-in (or its removal at the sign-out) is fetched from the server by the page (written on every run
    until taken: a run interrupted by a page switch may never reach the browser, the next one does; the
    request carries no secret) and the language chosen (kept for a year, so a reload or a new tab speaks
    it too)."""

    ss = st.session_state
    js = []
    if front.waiting(_browser()):
        js.append(f"fetch('{front.CLAIM_PATH}', {{method: 'POST', credentials: 'same-origin', cache: 'no-store'}});")
    if ss.get("lang") in LANGUAGES:
        js.append(f"document.cookie = '{LANG_COOKIE}={ss['lang']}; path=/; max-age=31536000; SameSite=Strict';")
    with st.sidebar:
        st.html(f"<script>{' '.join(js)}</script>", unsafe_allow_javascript=True)


def initial_language(default: str) -> str:
    """The language of a new session: ``?lang=`` in the address, else the one this browser chose last
    time (its cookie), else ``default``."""

    asked = st.query_params.get("lang", "")
    if asked in LANGUAGES:
        return asked
    try:
        kept = st.context.cookies.get(LANG_COOKIE)
    except Exception:  # no browser context (tests run pages without one)
        kept = None
    return kept if kept in LANGUAGES else default


def _signed_in(user: User, token: str) -> None:
    ss = st.session_state
    ss["user"], ss["session_token"] = user, token
    ss.pop("signed_out", None)
    ss.pop("session_note", None)
    _hand_over(token)
    st.rerun()


def login_page() -> None:
    """The login form (and the identity provider's button when one is configured)."""

    st.title(t("app.title"))
    st.caption(t("app.tagline"))
    note = st.session_state.pop("session_note", None)
    if note:
        st.info(t(note))
    _, mid, _ = st.columns([1, 2, 1])
    with mid, st.form("login", border=True):
        st.subheader(t("login.title"))
        login = st.text_input(t("login.login"), max_chars=200, autocomplete="username")
        password = st.text_input(t("login.password"), type="password", max_chars=1024,
                                 autocomplete="current-password")
        if st.form_submit_button(t("login.submit"), type="primary", width="stretch"):
            try:
                user, token = users.sign_in(login, password, source=_source())
            except LoginRefused as exc:
                if exc.locked_until is not None:
                    st.error(t("login.locked", until=fmt_dt(exc.locked_until)))  # type: ignore[arg-type]
                else:
                    st.error(t("login.wrong"))
                return
            except Exception as exc:  # the database down or misconfigured: said on the page, never a traceback
                errors.page_failed(exc)
                return
            _signed_in(user, token)
    with mid:
        oidc_login()


def _oidc_configured() -> bool:
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets.toml at all
        return False


def oidc_role(claims: dict[str, Any], claim: str) -> str | None:
    """The role the identity provider gives (a string or the first known role in a list)."""

    value = claims.get(claim)
    values = value if isinstance(value, list) else [value]
    return next((str(v) for v in values if str(v) in ROLES), None)


def oidc_login() -> None:
    """``st.login`` when ``.streamlit/secrets.toml`` has an ``[auth]`` section; the role comes from a
    claim (``ZHKH_OIDC_ROLE_CLAIM``); an account without a known role is refused."""
    if not _oidc_configured():
        return

    if not st.user.is_logged_in:
        st.button(t("login.oidc"), on_click=st.login, width="stretch")
        return
    claims = dict(st.user)
    role = oidc_role(claims, get_settings().oidc_role_claim)
    login = str(claims.get("preferred_username") or claims.get("email") or "")
    if role is None or not login:
        st.error(t("login.oidc_no_role", claim=get_settings().oidc_role_claim))
        st.button(t("login.logout"), on_click=st.logout)
        return
    try:
        user, token = users.sign_in_external(login=login, display_name=str(claims.get("name") or login), role=role,
                                             provider=str(claims.get("iss") or "oidc"))
    except Exception as exc:  # disabled here, or a login this service cannot use
        st.error(message(exc))
        return
    _signed_in(user, token)


def logout() -> None:

    ss = st.session_state
    users.sign_out(ss.get("session_token"), current_user())
    keep = {"lang": ss.get("lang")}
    for k in list(ss.keys()):
        del ss[k]
    ss.update(keep)
    ss["signed_out"] = True
    _hand_over(None)
    if _oidc_configured() and st.user.is_logged_in:
        st.logout()
    st.rerun()


def refusal(page: str) -> Any:
    """A stand-in for a page the user's role does not see: it only says so."""
    def refuse() -> None:
        guard(page)
        st.info(t("error.not_in_your_pages"))

    refuse.__name__ = f"refuse_{page}"
    return refuse


def guard(page: str) -> None:
    """Stop a page its user's role may not open (the navigation does not offer it; a typed-in URL or a
    stale tab still gets a clear refusal instead of the page)."""

    user = current_user()
    if user is None:
        st.stop()
    permission = PAGES[page]
    if not allowed(user.role, permission):  # type: ignore[union-attr]

        st.error(message(PermissionDenied(permission, user.role, user.login)), icon=":material/block:")  # type: ignore[union-attr]
        st.stop()
