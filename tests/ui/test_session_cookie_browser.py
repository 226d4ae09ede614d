"""The session cookie is set by the server (HttpOnly, Secure, SameSite=Strict), its token never reaches the
page, and the front of the app (app_server.py) refuses framing, anonymous metrics and foreign origins."""
from __future__ import annotations

import urllib.error
import urllib.request

from playwright.sync_api import expect

from tests.ui.conftest import login


def _session(page) -> dict:
    found = [c for c in page.context.cookies() if c["name"] == "zhkh_session"]
    assert len(found) == 1, f"session cookies: {found}"
    return found[0]


def _everything_in_the_page(page) -> str:
    """The page's HTML and every frame's, with what scripts can read of the cookies."""
    parts = [page.content(), page.evaluate("() => document.cookie")]
    for frame in page.frames:
        try:
            parts.append(frame.content())
            parts.append(frame.evaluate("() => { try { return document.cookie } catch (e) { return '' } }"))
        except Exception:  # a frame gone under a rerun
            continue
    return "\n".join(parts)


def test_the_session_cookie_is_httponly_strict_secure_and_its_token_is_not_in_the_page(anonymous_page, app_url: str) -> None:
    page = anonymous_page
    login(page, app_url, "dispatcher")
    cookie = _session(page)
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert cookie["secure"] is True          # Chromium keeps a Secure cookie of http://127.0.0.1
    token = cookie["value"]
    browser = [c for c in page.context.cookies() if c["name"] == "__Host-zhkh_browser"]
    assert len(browser) == 1 and browser[0]["httpOnly"] and browser[0]["secure"] and browser[0]["path"] == "/"
    assert len(token) >= 40
    assert "zhkh_session" not in page.evaluate("() => document.cookie")
    seen = _everything_in_the_page(page)
    assert token not in seen
    assert "document.cookie = 'zhkh_session" not in seen

    page.reload(wait_until="domcontentloaded")
    expect(page.get_by_text("Тест dispatcher")).to_be_visible(timeout=30000)
    assert token not in _everything_in_the_page(page)
    assert _session(page)["value"] == token

    # signing out removes the cookie from the browser (and the session ended on the server already)
    with page.expect_response(lambda r: r.url.endswith("/session/cookie"), timeout=30000) as answer:
        page.get_by_role("button", name="Выйти").click()
    answer.value.finished()
    assert not [c for c in page.context.cookies() if c["name"] == "zhkh_session"]
    page.reload(wait_until="domcontentloaded")
    expect(page.get_by_label("Логин")).to_be_visible(timeout=30000)


def _get(url: str, headers: dict[str, str] | None = None, method: str = "GET") -> tuple[int, dict[str, str], str]:
    req = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read().decode("utf-8", "replace")


def test_no_other_site_may_frame_the_app(app_url: str) -> None:
    for path in ("/", "/incidents", "/_stcore/health"):
        status, headers, _ = _get(app_url + path)
        assert status == 200, path
        assert headers.get("x-frame-options") == "SAMEORIGIN", path
        assert "frame-ancestors 'self'" in headers.get("content-security-policy", ""), path


def test_the_metrics_answer_only_a_signed_in_admin(anonymous_page, app_url: str) -> None:
    status, _, body = _get(app_url + "/_stcore/metrics")
    assert status == 403 and "admin" in body and "\n" not in body.strip()
    assert _get(app_url + "/_stcore/metrics/")[0] == 403
    status, _, _ = _get(app_url + "/_stcore/metrics", {"Cookie": "zhkh_session=forged-token-" + "x" * 30})
    assert status == 403

    page = anonymous_page
    login(page, app_url, "dispatcher")
    status, _, _ = _get(app_url + "/_stcore/metrics", {"Cookie": f"zhkh_session={_session(page)['value']}"})
    assert status == 403                      # signed in, but not an admin
    page.context.clear_cookies()
    login(page, app_url, "admin")
    status, _, body = _get(app_url + "/_stcore/metrics", {"Cookie": f"zhkh_session={_session(page)['value']}"})
    assert status == 200 and "session" in body.lower()


def test_the_cookie_answer_refuses_another_origin_and_another_browser(app_url: str) -> None:
    status, headers, _ = _get(app_url + "/session/cookie", {"Origin": "http://evil.example"}, method="POST")
    assert status == 403 and "set-cookie" not in headers
    status, headers, _ = _get(app_url + "/session/cookie", method="GET")
    assert status == 405 and headers.get("allow") == "POST"
    # a browser with nothing handed over gets nothing (its own id is not another browser's)
    host = app_url.split("//", 1)[1]
    status, headers, _ = _get(app_url + "/session/cookie", {"Origin": f"http://{host}", "Cookie": "zhkh_browser=someone-else"},
                              method="POST")
    assert status == 204 and "set-cookie" not in headers
