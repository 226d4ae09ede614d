"""A webhook URL is only http(s) and never a loopback, link-local or private address — by literal or by what the
host name resolves to — unless ``ZHKH_WEBHOOK_ALLOW_PRIVATE=true``; a refusal is worded and writes nothing,
and the rule holds again at delivery."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, text

from auth.errors import PermissionDenied
from auth.model import Actor
from ops import incidents, webhooks
from ops.base import utcnow
from orgs import sealing, urls
from orgs.errors import InvalidWebhook, SealError
from reports.errors import UnknownOrganisation
from tests.webhooks.conftest import SECRET_A, Receiver, Two, webhook_settings

ADMIN = Actor(author="boss", role="admin")


def _written(eng: Engine) -> tuple[int, int]:
    with eng.connect() as conn:
        return (conn.execute(text("SELECT count(*) FROM org_webhooks")).scalar_one(),
                conn.execute(text("SELECT count(*) FROM audit_events WHERE action LIKE 'webhook.%'")).scalar_one())


BAD_URLS = [
    ("ftp://example.org/hook", "must start with http:// or https://"),
    ("javascript:alert(1)", "must start with http:// or https://"),
    ("example.org/hook", "must start with http:// or https://"),
    ("http://127.0.0.1:8080/hook", "loopback address: 127.0.0.1"),
    ("http://[::1]/hook", "loopback address"),
    ("http://10.20.30.40/hook", "private address: 10.20.30.40"),
    ("https://192.168.1.5/hook", "private address"),
    ("http://169.254.169.254/latest/meta-data", "link-local address: 169.254.169.254"),
    ("http://0.0.0.0/", "address"),
    ("http://localhost:9000/hook", "loopback address: localhost (127.0.0.1)"),   # resolves to loopback
    ("http://user:pw@example.org/hook", "no user name or password"),
    ("http:///nohost", "names no host"),
    ("https://example.org/a b", "one line without spaces"),
    ("", "empty"),
]


def test_a_bad_url_is_refused_in_words_and_nothing_is_written(two: Two) -> None:
    strict = webhook_settings(webhook_allow_private=False)
    for url, words in BAD_URLS:
        with pytest.raises(InvalidWebhook) as refused:
            webhooks.set_webhook(ADMIN, two.org_a, url, SECRET_A, bind=two.engine, settings=strict)
        assert words in str(refused.value), url
    assert _written(two.engine) == (0, 0)


def test_the_setting_allows_a_private_address_and_public_ones_pass_without_it(two: Two) -> None:
    allowed = webhooks.set_webhook(ADMIN, two.org_a, "http://127.0.0.1:9/hook", SECRET_A, bind=two.engine,
                                   settings=webhook_settings(webhook_allow_private=True))
    assert allowed["url"] == "http://127.0.0.1:9/hook" and "secret_enc" not in allowed
    public = webhooks.set_webhook(ADMIN, two.org_a, "https://93.184.216.34/zhkh", SECRET_A, bind=two.engine,
                                  settings=webhook_settings(webhook_allow_private=False))
    assert public["url"] == "https://93.184.216.34/zhkh"
    assert _written(two.engine) == (1, 2)


def test_every_address_of_a_name_is_checked() -> None:
    def resolver(host: str, port: int) -> list[str]:
        return {"mixed.example": ["93.184.216.34", "10.0.0.7"], "public.example": ["93.184.216.34"]}[host]

    with pytest.raises(InvalidWebhook, match=r"private address: mixed.example \(10.0.0.7\)"):
        urls.check("https://mixed.example/h", allow_private=False, resolver=resolver)
    assert urls.check("https://public.example/h", allow_private=False, resolver=resolver).addresses == ("93.184.216.34",)
    with pytest.raises(InvalidWebhook, match="does not resolve"):
        urls.check("https://no-such-host.invalid/h", allow_private=False)


def test_a_bad_secret_or_organisation_or_role_is_refused(two: Two) -> None:
    for secret, words in (("", "empty"), ("   \n", "empty"), ("short", "16–512 characters"),
                          ("x" * 20 + "\x00", "printable")):
        with pytest.raises(InvalidWebhook, match=words):
            webhooks.set_webhook(ADMIN, two.org_a, "https://93.184.216.34/", secret, bind=two.engine,
                                 settings=webhook_settings())
    with pytest.raises(UnknownOrganisation):
        webhooks.set_webhook(ADMIN, 987654, "https://93.184.216.34/", SECRET_A, bind=two.engine,
                             settings=webhook_settings())
    with pytest.raises(PermissionDenied):
        webhooks.set_webhook(Actor(author="d", role="dispatcher"), two.org_a, "https://93.184.216.34/", SECRET_A,
                             bind=two.engine, settings=webhook_settings())
    assert _written(two.engine) == (0, 0)


def test_delivery_checks_the_address_again(two: Two, serve) -> None:
    """A webhook set while private addresses were allowed is not posted to once they are not."""
    rx = serve(Receiver(SECRET_A.encode()))
    webhooks.set_webhook(ADMIN, two.org_a, rx.url, SECRET_A, bind=two.engine, settings=webhook_settings())
    incidents.take_report(ADMIN, bind=two.engine, service_code="elevator", building_id=two.building_a,
                          description="лифт")
    done = webhooks.deliver_once(bind=two.engine, settings=webhook_settings(webhook_allow_private=False),
                                 now=utcnow() + timedelta(seconds=1))
    assert done.retried == 1 and rx.requests == []
    [attempt] = webhooks.deliveries(ADMIN, bind=two.engine)
    assert attempt["status_code"] is None and "loopback address" in attempt["error"]
    assert attempt["error_kind"] == "address"


def test_the_secret_is_sealed_not_stored_as_given(two: Two) -> None:
    webhooks.set_webhook(ADMIN, two.org_a, "https://93.184.216.34/", SECRET_A, bind=two.engine,
                         settings=webhook_settings())
    with two.engine.connect() as conn:
        stored = conn.execute(text("SELECT secret_enc, secret_hint FROM org_webhooks")).one()
        audit = conn.execute(text("SELECT details::text FROM audit_events WHERE action = 'webhook.set'")).scalar_one()
    assert SECRET_A not in stored[0] and SECRET_A not in audit and stored[0].startswith("v1.")
    assert sealing.open_sealed(stored[0], key=webhook_settings().webhook_key.get_secret_value(),
                               org_id=two.org_a) == SECRET_A.encode()
    with pytest.raises(SealError):   # another organisation's row, or another key, does not open
        sealing.open_sealed(stored[0], key=webhook_settings().webhook_key.get_secret_value(), org_id=two.org_b)
    with pytest.raises(SealError):
        sealing.open_sealed(stored[0], key="another key of at least thirty-two chars", org_id=two.org_a)
    with pytest.raises(SealError, match="ZHKH_WEBHOOK_KEY"):
        sealing.key_of("", production=True)
