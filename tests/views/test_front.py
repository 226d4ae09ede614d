"""The front of the operators' app (views/front.py): when the session cookie is Secure, and the hand-over."""
from __future__ import annotations

import pytest

from views import front


@pytest.mark.parametrize(("scheme", "host", "expected"), [
    ("https", "ops.example.org", True),
    ("http", "127.0.0.1:8501", True),
    ("http", "localhost:8501", True),
    ("http", "[::1]:8501", True),
    ("http", "127.0.0.2", True),
    ("http", "192.168.1.20:8501", False),    # a demo on a LAN address without TLS: a Secure cookie would be dropped
    ("http", "ops.example.org", False),
])
def test_the_cookie_is_secure_over_https_and_on_the_loopback(scheme: str, host: str, expected: bool) -> None:
    assert front.secure(scheme, host) is expected
    header = front.cookie_header(front.COOKIE, "tok", secure_flag=front.secure(scheme, host)).decode()
    assert "HttpOnly" in header and "SameSite=Strict" in header and ("Secure" in header) is expected


def test_a_hand_over_is_taken_once_by_its_own_browser_only() -> None:
    assert front.hand_over("browser-a", "token-a")
    assert front.waiting("browser-a") and not front.waiting("browser-b")
    assert front._take("browser-b") == (False, None)
    assert front._take("browser-a") == (True, "token-a")
    assert front._take("browser-a") == (False, None)
    assert not front.hand_over(None, "token")        # no browser id (the app not behind app_server.py)
    assert front.hand_over("browser-a", None) and front._take("browser-a") == (True, None)  # a sign-out clears


def test_same_origin_compares_the_origin_with_the_host() -> None:
    def scope(origin: str | None) -> dict:
        headers = [(b"host", b"127.0.0.1:8501")] + ([(b"origin", origin.encode())] if origin is not None else [])
        return {"type": "http", "scheme": "http", "headers": headers}

    assert front.same_origin(scope("http://127.0.0.1:8501"))
    assert not front.same_origin(scope("http://evil.example"))
    assert not front.same_origin(scope("http://127.0.0.1:9999"))
    assert not front.same_origin(scope("null"))
    assert not front.same_origin(scope(None))


def test_the_browser_id_prefers_the_host_only_cookie() -> None:
    assert front.browser_id({"__Host-zhkh_browser": "a", "zhkh_browser": "b"}) == "a"
    assert front.browser_id({"zhkh_browser": "b"}) == "b"
    assert front.browser_id({}) is None
